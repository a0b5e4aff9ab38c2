"""The repository layer, on SQLite and on PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert, update

from marketing_pipeline.errors import (
    InvalidSyncConfigError,
    SyncAlreadyRunningError,
    UnknownRunError,
    UnknownSyncError,
)
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.repository import SyncStore, utcnow
from marketing_pipeline.store.schema import marketing_sync
from marketing_pipeline.store.seed import FIRST_SYNC, initialise_store
from marketing_pipeline.sync.domain import SyncCounts

KEY = "managed-client-newsletter"


def test_init_inserts_the_seed_sync_once(store: SyncStore) -> None:
    again = initialise_store(store.url)
    assert again.created_first_sync is False
    syncs = store.list_syncs()
    assert len(syncs) == 1
    sync = syncs[0]
    assert sync.key == KEY
    assert sync.name == "Managed Client Newsletter"
    assert sync.description == FIRST_SYNC["description"]
    assert (sync.source_type, sync.dest_type) == ("connectwise", "encharge")
    assert sync.filter_config is not None
    assert sync.filter_config.to_json_dict() == FIRST_SYNC["filter_config"]
    assert sync.tag_name == "managed-client-newsletter"
    assert sync.schedule == "0 6 * * 1"
    assert sync.enabled is True
    assert sync.problems == []


def test_get_sync_by_id_key_or_name(store: SyncStore) -> None:
    sync = store.get_sync(KEY)
    assert store.get_sync(sync.id) == sync
    assert store.get_sync("managed client newsletter") == sync
    with pytest.raises(UnknownSyncError, match=r"no sync 'nope' \(known syncs: managed-client-newsletter\)"):
        store.get_sync("nope")


def test_update_schedule_and_enabled(store: SyncStore) -> None:
    before = store.get_sync(KEY)
    time.sleep(0.01)
    after = store.update_sync(KEY, schedule="30  7 * * *", enabled=False)
    assert after.schedule == "30 7 * * *"
    assert after.enabled is False
    assert after.updated_at > before.updated_at
    assert store.update_sync(KEY, enabled=True).enabled is True


@pytest.mark.parametrize("cron", ["61 6 * * 1", "every monday", "0 6 * * 1 2026", "* * *", ""])
def test_invalid_cron_is_refused_and_nothing_is_written(store: SyncStore, cron: str) -> None:
    with pytest.raises(InvalidSyncConfigError, match=r"sync 'Managed Client Newsletter': schedule: "):
        store.update_sync(KEY, schedule=cron, enabled=False)
    sync = store.get_sync(KEY)
    assert (sync.schedule, sync.enabled) == ("0 6 * * 1", True)


def test_update_unknown_sync(store: SyncStore) -> None:
    with pytest.raises(UnknownSyncError):
        store.update_sync("ghost", enabled=False)


def test_create_sync_rejects_a_tag_with_a_comma(store: SyncStore) -> None:
    with pytest.raises(InvalidSyncConfigError, match="contains a comma"):
        store.create_sync(name="Bad", filter_config=FIRST_SYNC["filter_config"], tag_name="a,b", schedule=None)
    assert len(store.list_syncs()) == 1


def test_create_sync_gives_a_unique_key(store: SyncStore) -> None:
    other = store.create_sync(
        name="Managed Client Newsletter",
        filter_config=FIRST_SYNC["filter_config"],
        tag_name="other",
        schedule="0 7 * * *",
    )
    assert other.key == "managed-client-newsletter-2"
    with pytest.raises(UnknownSyncError, match="2 syncs are named"):
        store.get_sync("Managed Client Newsletter")


def test_a_row_whose_filter_config_does_not_parse_is_reported_not_fatal(store: SyncStore) -> None:
    with get_engine(store.url).begin() as conn:
        conn.execute(
            update(marketing_sync).values(
                filterConfig={"companyTypes": ["48"], "companyStatuses": [1], "contactTypes": [1]}
            )
        )
    sync = store.get_sync(KEY)
    assert sync.filter_config is None
    assert sync.problems == [
        "sync 'Managed Client Newsletter': filterConfig.companyTypes[0]: Input should be a valid integer"
    ]
    with pytest.raises(InvalidSyncConfigError, match=r"filterConfig\.companyTypes\[0\]"):
        sync.require_runnable()
    assert [s.key for s in store.list_syncs()] == [KEY]  # the others still list


def test_unknown_filter_keys_and_bad_rows_are_reported(store: SyncStore) -> None:
    with get_engine(store.url).begin() as conn:
        conn.execute(
            update(marketing_sync).values(
                filterConfig={**FIRST_SYNC["filter_config"], "companyType": [1]},
                tagName="x,y",
                schedule="bad",
            )
        )
    problems = store.get_sync(KEY).problems
    assert any("filterConfig.companyType: Extra inputs are not permitted" in p for p in problems)
    assert any("contains a comma" in p for p in problems)
    assert any("schedule:" in p for p in problems)


def test_run_lifecycle_and_pagination(store: SyncStore) -> None:
    sync = store.get_sync(KEY)
    run = store.start_run(sync, trigger="manual", dagster_run_id="dagster-1")
    assert (run.status, run.triggered_by, run.completed_at, run.contacts_total) == (
        "running",
        "manual",
        None,
        0,
    )
    assert store.start_run(sync, trigger="manual", dagster_run_id="dagster-1").id == run.id  # idempotent
    counts = SyncCounts(
        contacts_total=86,
        contacts_created=12,
        contacts_updated=11,
        contacts_removed=3,
        contacts_skipped=3,
        contacts_failed=0,
    )
    done = store.finish_run(run.id, status="completed", counts=counts, details={"contacts": [{"a": 1}]})
    assert done.status == "completed" and done.counts == counts and done.completed_at is not None
    # The details recorded at the start stay, for the app's run-detail page.
    assert done.details == {"dagsterRunId": "dagster-1", "trigger": "manual", "dryRun": False, "contacts": [{"a": 1}]}
    assert store.get_run("dagster-1").id == run.id
    for i in range(5):
        r = store.start_run(sync, trigger="schedule", dagster_run_id=f"d-{i}")
        store.finish_run(r.id, status="failed", error_message=f"boom {i}")
    newest = store.list_runs(sync, limit=2)
    assert [r.error_message for r in newest] == ["boom 4", "boom 3"]
    assert [r.error_message for r in store.list_runs(sync, limit=2, offset=2)] == ["boom 2", "boom 1"]
    assert store.count_runs(sync) == 6
    assert store.last_run(sync, completed_only=True).id == run.id
    with pytest.raises(UnknownRunError):
        store.get_run("missing")
    with pytest.raises(ValueError):
        store.list_runs(sync, limit=0)


def test_two_running_runs_of_one_sync_are_refused_by_the_database(store: SyncStore) -> None:
    sync = store.get_sync(KEY)
    store.start_run(sync, trigger="manual", dagster_run_id="first")
    with pytest.raises(SyncAlreadyRunningError, match="already running \\(Dagster run first\\)"):
        store.start_run(sync, trigger="manual", dagster_run_id="second")
    assert store.count_runs(sync) == 1
    store.fail_running_run("first", "killed")
    assert store.start_run(sync, trigger="manual", dagster_run_id="second").status == "running"


def test_bad_trigger_and_status_values(store: SyncStore) -> None:
    sync = store.get_sync(KEY)
    with pytest.raises(ValueError):
        store.start_run(sync, trigger="cron")
    with pytest.raises(ValueError, match="JSON object"):
        store.start_run(sync, trigger="manual", details=["not", "an", "object"])  # type: ignore[arg-type]
    assert store.running_run(sync.id) is None  # nothing was written
    run = store.start_run(sync, trigger="backfill")
    assert (run.triggered_by, run.trigger) == ("manual", "backfill")
    with pytest.raises(ValueError):
        store.finish_run(run.id, status="running")


def test_rows_written_by_the_nestjs_app_get_a_key(store: SyncStore) -> None:
    with get_engine(store.url).begin() as conn:
        conn.execute(
            insert(marketing_sync).values(
                id="nest-1",
                name="Prospects Digest",
                sourceType="connectwise",
                destType="encharge",
                filterConfig={"companyTypes": [1], "companyStatuses": [1], "contactTypes": [1]},
                tagName="prospects",
                updatedAt=utcnow(),
            )
        )
    result = initialise_store(store.url)
    assert result.keys_assigned == ["prospects-digest"]
    sync = store.get_sync("prospects-digest")
    assert sync.enabled is True and sync.created_at is not None and sync.schedule is None
