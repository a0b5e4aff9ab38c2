"""What the store keeps for the sync's safety, on SQLite and on PostgreSQL: one tag per sync, the memory of
written fields, the removals of the last 24 hours, and the dry runs an approval refers to."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert

from marketing_pipeline.errors import InvalidSyncConfigError
from marketing_pipeline.store.audiences import rank_of
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.repository import SyncStore, utcnow
from marketing_pipeline.store.schema import marketing_sync
from marketing_pipeline.store.seed import FIRST_SYNC, initialise_store
from marketing_pipeline.sync.domain import SyncCounts
from marketing_pipeline.sync.owners import shared_addresses
from marketing_pipeline.sync.written_fields import WrittenFields

KEY = "managed-client-newsletter"
TAG = FIRST_SYNC["tag_name"]


def nestjs_row(store: SyncStore, tag: str, name: str = "Written Elsewhere") -> None:
    with get_engine(store.url).begin() as conn:
        conn.execute(
            insert(marketing_sync).values(
                id=f"nest-{name}",
                name=name,
                sourceType="connectwise",
                destType="encharge",
                filterConfig=FIRST_SYNC["filter_config"],
                tagName=tag,
                updatedAt=utcnow(),
            )
        )


@pytest.mark.parametrize("tag", [TAG, TAG.upper(), "Managed-Client-Newsletter"])
def test_a_second_sync_with_the_same_tag_is_refused(store: SyncStore, tag: str) -> None:
    with pytest.raises(InvalidSyncConfigError, match=f"is already the tag of sync '{KEY}'"):
        store.create_sync(name="Copy", filter_config=FIRST_SYNC["filter_config"], tag_name=tag, schedule=None)
    assert len(store.list_syncs()) == 1


@pytest.mark.parametrize(
    ("tag", "problem"),
    [
        (f" {TAG}", "has a space at one end"),
        ("news,events", "contains a comma"),
        ("news  letter", "has two spaces in a row"),
        ("news/letter", "contains '/'"),
        ("", "is empty"),
    ],
)
def test_a_tag_encharge_would_refuse_or_rewrite_is_refused_with_the_rule(
    store: SyncStore, tag: str, problem: str
) -> None:
    rule = "an Encharge tag may hold only letters A-Z and a-z, digits 0-9, dashes (-), underscores (_)"
    with pytest.raises(InvalidSyncConfigError, match=re.escape(problem) + ".*" + re.escape(rule)):
        store.create_sync(name="Odd", filter_config=FIRST_SYNC["filter_config"], tag_name=tag, schedule=None)
    with pytest.raises(InvalidSyncConfigError, match=re.escape(problem)):
        store.update_sync(KEY, tag_name=tag, enabled=False)
    assert [(s.tag_name, s.enabled) for s in store.list_syncs()] == [(TAG, True)]  # nothing written


def test_a_row_written_elsewhere_with_a_tag_encharge_would_rewrite_cannot_run(store: SyncStore) -> None:
    nestjs_row(store, "news ", name="Padded")
    initialise_store(store.url)
    padded = store.get_sync("padded")
    with pytest.raises(InvalidSyncConfigError, match="tagName 'news ' has a space at one end"):
        padded.require_runnable()


def test_changing_a_tag_to_one_in_use_is_refused_and_nothing_is_written(store: SyncStore) -> None:
    other = store.create_sync(name="Other", filter_config=FIRST_SYNC["filter_config"], tag_name="other", schedule=None)
    with pytest.raises(InvalidSyncConfigError, match="already the tag of sync 'managed-client-newsletter'"):
        store.update_sync(other.key or "", tag_name=TAG, enabled=False)
    assert store.get_sync("other").tag_name == "other" and store.get_sync("other").enabled
    assert store.update_sync("other", tag_name="renamed").tag_name == "renamed"
    assert store.update_sync(KEY, tag_name=TAG).tag_name == TAG  # a sync keeps its own tag
    with pytest.raises(InvalidSyncConfigError, match="contains a comma"):
        store.update_sync("other", tag_name="a,b")


def test_rows_written_elsewhere_that_share_a_tag_cannot_run(store: SyncStore) -> None:
    nestjs_row(store, TAG.upper())
    initialise_store(store.url)  # gives the row a key; the first sync already exists
    syncs = {sync.key: sync for sync in store.list_syncs()}
    first, other = syncs[KEY], syncs["written-elsewhere"]
    assert first.problems == [
        f"sync 'Managed Client Newsletter': tagName {TAG!r} is also the tag of sync 'written-elsewhere': two syncs "
        "sharing a tag take it from each other's people; give each sync its own tag (nothing is run until then)"
    ]
    assert "is also the tag of sync 'managed-client-newsletter'" in other.problems[0]
    assert store.get_sync_by_key(KEY).problems == first.problems
    with pytest.raises(InvalidSyncConfigError, match="is also the tag of sync"):
        store.get_sync(KEY).require_runnable()
    store.update_sync("written-elsewhere", tag_name="its-own")
    assert store.get_sync(KEY).problems == []


def test_init_refuses_to_add_the_first_sync_under_a_tag_in_use(store_url: str) -> None:
    initialise_store(store_url)
    store = SyncStore(store_url)
    with get_engine(store_url).begin() as conn:
        conn.execute(delete(marketing_sync))
    nestjs_row(store, TAG)
    with pytest.raises(InvalidSyncConfigError, match="already the tag of sync 'written-elsewhere'"):
        initialise_store(store_url)


def test_written_fields_are_remembered_and_a_partial_write_keeps_the_rest(store: SyncStore) -> None:
    sync = store.get_sync(KEY)
    assert store.written_fields(sync) == []
    store.record_written(sync, [WrittenFields("ann@x.com", "p1", "Ann", "Lee", "Co"), WrittenFields("bob@x.com")])
    store.record_written(sync, [WrittenFields("ann@x.com", None, None, None, "Co Renamed")])
    remembered = {w.email_key: w for w in store.written_fields(sync)}
    assert remembered["ann@x.com"] == WrittenFields("ann@x.com", "p1", "Ann", "Lee", "Co Renamed")
    assert remembered["bob@x.com"] == WrittenFields("bob@x.com")
    many = [WrittenFields(f"p{i}@x.com", company=f"C{i}") for i in range(2500)]
    store.record_written(sync, many)
    assert len(store.written_fields(sync)) == 2502


def finished(store: SyncStore, removed: int, *, dry_run: bool = False, forced: bool = False, plan: str = "h") -> str:
    sync = store.get_sync(KEY)
    run = store.start_run(sync, trigger="manual", dry_run=dry_run)
    store.finish_run(
        run.id,
        status="completed",
        counts=SyncCounts(contacts_removed=removed),
        details={"forced": forced, "planHash": plan, "contacts": []},
    )
    return run.id


def test_removals_of_the_window_come_from_completed_real_runs(store: SyncStore) -> None:
    sync = store.get_sync(KEY)
    finished(store, 4)
    finished(store, 7, forced=True)
    finished(store, 30, dry_run=True)
    failed = store.start_run(sync, trigger="manual")
    store.finish_run(failed.id, status="failed", error_message="boom")
    past = store.removals_since(sync, utcnow() - timedelta(hours=1))
    assert sorted((p.removed, p.forced) for p in past) == [(4, False), (7, True)]
    assert store.removals_since(sync, utcnow() + timedelta(hours=1)) == []


def test_the_dry_run_that_showed_a_plan(store: SyncStore) -> None:
    sync = store.get_sync(KEY)
    finished(store, 0, plan="abc")
    assert store.dry_run_with_plan(sync, "abc", utcnow() - timedelta(hours=1)) is None  # not a dry run
    shown = finished(store, 0, dry_run=True, plan="abc")
    assert store.dry_run_with_plan(sync, "abc", utcnow() - timedelta(hours=1)).id == shown
    assert store.dry_run_with_plan(sync, "abd", utcnow() - timedelta(hours=1)) is None
    assert store.dry_run_with_plan(sync, "abc", utcnow() + timedelta(minutes=1)) is None


def test_each_syncs_latest_audience_is_the_evidence_of_who_else_holds_a_person(store: SyncStore) -> None:
    first = store.get_sync(KEY)
    second = store.create_sync(
        name="Second", filter_config=FIRST_SYNC["filter_config"], tag_name="second", schedule=None
    )
    # Two runs planning at once: each records its audience, then reads the others'; both see each other.
    store.record_audience(first, ["ann@x.com", "bob@x.com"])
    store.record_audience(second, ["bob@x.com", "cat@x.com"])
    from_first, from_second = store.audience_holders(first), store.audience_holders(second)
    assert {k: [r.label for r in v] for k, v in from_first.items()} == {
        "bob@x.com": ["second"],
        "cat@x.com": ["second"],
    }
    assert {k: [r.label for r in v] for k, v in from_second.items()} == {"ann@x.com": [KEY], "bob@x.com": [KEY]}
    owner = rank_of(first)
    assert shared_addresses(owner, ["bob@x.com"], from_first)["bob@x.com"].owner == owner
    assert shared_addresses(rank_of(second), ["bob@x.com"], from_second)["bob@x.com"].owner == owner

    store.record_audience(first, ["ann@x.com"])  # the next run: Bob left the first sync's audience
    assert store.audience_holders(second) == {"ann@x.com": [rank_of(first)]}
    store.update_sync(KEY, enabled=False)  # a paused sync holds nobody
    assert store.audience_holders(second) == {}
    store.update_sync(KEY, enabled=True)
    with get_engine(store.url).begin() as conn:  # the NestJS app deletes the second sync: its rows go with it
        conn.execute(delete(marketing_sync).where(marketing_sync.c.id == second.id))
    assert store.audience_holders(first) == {}
