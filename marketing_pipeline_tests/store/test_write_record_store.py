"""The write record and tag ownership in the store (issue 22): an install at revision 0005 with runs upgrades
to 0006 keeping everything, syncs that completed real runs own their tag, and the brake counts removals from
the record whatever became of the run (and from the records of runs made before it)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, text

from marketing_pipeline.store.database import get_engine, our_schema
from marketing_pipeline.store.migrate import upgrade_database
from marketing_pipeline.store.repository import SyncStore, utcnow
from marketing_pipeline.store.schema import marketing_sync_run
from marketing_pipeline.sync.safety import removed_in_window
from marketing_pipeline.sync.write_record import TAG_ADDED, TAG_REMOVED, WriteEntry, tagged_by_sync

FILTER = '{"companyTypes":[48],"companyStatuses":[1,19],"contactTypes":[1,2,21]}'
SYNCS = [("ran", "ran-tag"), ("dry-only", "dry-tag"), ("never", "never-tag"), ("app-ran", "app-tag")]
# (run id, sync, status, removed, hours ago, dry run: None for a run the app recorded, which has no link)
RUNS = [
    ("r-ran", "ran", "completed", 2, 1, False),
    ("r-dry", "dry-only", "completed", 0, 1, True),
    ("r-failed", "never", "failed", 0, 1, False),
    ("r-app", "app-ran", "completed", 0, 30, None),
]


def install_at_0005(url: str) -> None:
    upgrade_database(url, "0005")
    now = utcnow()
    with get_engine(url).begin() as conn:
        link = f'"{our_schema(conn)}"."MarketingSyncRunLink"' if our_schema(conn) else '"MarketingSyncRunLink"'
        for sync_id, tag in SYNCS:
            conn.execute(
                text(
                    'INSERT INTO "MarketingSync" ("id", "name", "sourceType", "destType", "filterConfig", "tagName", '
                    "\"updatedAt\") VALUES (:id, :id, 'connectwise', 'encharge', :filter, :tag, :now)"
                ),
                {"id": sync_id, "filter": FILTER, "tag": tag, "now": now},
            )
        for run_id, sync_id, status, removed, hours, dry in RUNS:
            at = now - timedelta(hours=hours)
            conn.execute(
                text(
                    'INSERT INTO "MarketingSyncRun" ("id", "syncId", "status", "triggeredBy", "startedAt", '
                    '"completedAt", "contactsRemoved", "details") VALUES (:id, :sync, :status, \'manual\', :at, :at, '
                    ":removed, '{}')"
                ),
                {"id": run_id, "sync": sync_id, "status": status, "at": at, "removed": removed},
            )
            if dry is not None:
                conn.execute(
                    text(
                        f'INSERT INTO {link} ("runId", "dagsterRunId", "dryRun", "trigger") '
                        "VALUES (:id, :id, :dry, 'manual')"
                    ),
                    {"id": run_id, "dry": dry},
                )


def test_an_install_at_0005_with_runs_upgrades_and_its_syncs_that_ran_own_their_tag(store_url: str) -> None:
    install_at_0005(store_url)
    upgrade_database(store_url)
    store = SyncStore(store_url)
    syncs = {s.id: s for s in store.list_syncs()}
    owned = {sync_id: store.tag_adoption(sync).owns(sync.tag_name) for sync_id, sync in syncs.items()}
    # Completed real runs (the app's own included) are evidence of an operator's consent; a dry run, a failed
    # run or none at all are not.
    assert owned == {"ran": True, "dry-only": False, "never": False, "app-ran": True}
    assert store.tag_adoption(syncs["ran"]).adopted_how == "it completed real runs before migration 0006"
    assert not store.tag_adoption(syncs["ran"]).owns("another-tag")  # a changed tag is adopted afresh
    # Runs from before the write record still count towards the brake, from their records.
    since = utcnow() - timedelta(hours=24)
    assert [(p.removed, p.forced) for p in store.removals_since(syncs["ran"], since)] == [(2, False)]
    assert {r.id for s in syncs.values() for r in store.list_runs(s)} == {r[0] for r in RUNS}
    upgrade_database(store_url)  # and again: nothing to do


def test_the_brake_counts_what_the_record_holds_whatever_became_of_the_run(store_url: str) -> None:
    install_at_0005(store_url)
    upgrade_database(store_url)
    store = SyncStore(store_url)
    sync = store.get_sync("ran")
    run = store.start_run(sync, trigger="manual", dagster_run_id="d-new")
    removed = [WriteEntry(TAG_REMOVED, f"p{i}", f"p{i}@example.com", None, "ran-tag") for i in range(3)]
    store.record_writes(sync, run.id, [WriteEntry(TAG_ADDED, "p9", "p9@example.com", 9, "ran-tag"), *removed])
    store.fail_running_row(run.id, "the key was rotated")  # failed: its removals count all the same
    now = utcnow()
    past = store.removals_since(sync, now - timedelta(hours=24))
    assert sorted((p.removed, p.forced) for p in past) == [(2, False), (3, False)]
    assert removed_in_window(past, now) == 5
    assert tagged_by_sync(store.write_entries(sync), "RAN-TAG").ids == {"p9"}

    # The app deletes the run's row: the record of what the sync did stays, no longer tied to a run.
    with get_engine(store_url).begin() as conn:
        conn.execute(delete(marketing_sync_run).where(marketing_sync_run.c.id == run.id))
    entries = store.write_entries(sync)
    assert len(entries) == 4 and {e.run_id for e in entries} == {None}
    assert removed_in_window(store.removals_since(sync, now - timedelta(hours=24)), utcnow()) == 5


def test_a_forced_run_that_fails_still_starts_the_window_after_it(store_url: str) -> None:
    install_at_0005(store_url)
    upgrade_database(store_url)
    store = SyncStore(store_url)
    sync = store.get_sync("never")
    run = store.start_run(sync, trigger="manual", dagster_run_id="d-forced")
    store.mark_forced(run.id)
    store.record_writes(sync, run.id, [WriteEntry(TAG_REMOVED, "p1", "p1@example.com", None, "never-tag")] * 4)
    store.fail_running_row(run.id, "stopped")
    past = store.removals_since(sync, utcnow() - timedelta(hours=24))
    assert [(p.removed, p.forced) for p in past] == [(4, True)]
    assert removed_in_window(past, utcnow()) == 0  # the operator's decision covers what it removed


def test_the_adopt_setting_is_kept_apart_from_the_adoption(store_url: str) -> None:
    install_at_0005(store_url)
    upgrade_database(store_url)
    store = SyncStore(store_url)
    sync = store.get_sync("never")
    assert not store.tag_adoption(sync).owns(sync.tag_name)
    store.set_adopt_existing(sync, True)
    assert store.tag_adoption(sync).adopt_existing and store.tag_adoption(sync).owns("any-tag")
    store.set_adopt_existing(sync, False)
    store.adopt_tag(sync, "approved plan abc")
    adoption = store.tag_adoption(sync)
    assert not adoption.adopt_existing and adoption.owns(" Never-Tag ") and adoption.adopted_how == "approved plan abc"
