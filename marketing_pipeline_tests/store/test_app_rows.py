"""What the NestJS app does to its own rows (in SQL here, as Prisma's client does it; `nestjs/` drives the
real client) never trips over ours, and ours never dangle: on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from marketing_pipeline.errors import SyncAlreadyRunningError, UnknownSyncError
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.repository import SyncStore, utcnow
from marketing_pipeline.store.schema import (
    marketing_sync,
    marketing_sync_key,
    marketing_sync_run,
    marketing_sync_run_link,
    marketing_sync_running,
    marketing_sync_written,
)
from marketing_pipeline.store.seed import FIRST_SYNC
from marketing_pipeline.sync.written_fields import WrittenFields

KEY = str(FIRST_SYNC["key"])


def count(store: SyncStore, table, **where) -> int:  # type: ignore[no-untyped-def]
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with get_engine(store.url).connect() as conn:
        return int(conn.execute(query).scalar())


def test_the_app_deletes_a_sync_without_runs_and_ours_go_with_it(store: SyncStore) -> None:
    sync = store.create_sync(
        name="Short Lived", filter_config=FIRST_SYNC["filter_config"], tag_name="short", schedule=None
    )
    store.record_written(sync, [WrittenFields("ann@example.com", "p1", "Ann")])
    with get_engine(store.url).begin() as conn:
        conn.execute(delete(marketing_sync).where(marketing_sync.c.id == sync.id))
    assert count(store, marketing_sync_key, syncId=sync.id) == 0
    assert count(store, marketing_sync_written, syncId=sync.id) == 0
    with pytest.raises(UnknownSyncError, match="row was deleted"):
        store.get_sync_by_key("short-lived")
    # Its key is free again for a later sync.
    again = store.create_sync(
        name="Short Lived", filter_config=FIRST_SYNC["filter_config"], tag_name="s2", schedule=None
    )
    assert again.key == "short-lived"


def test_a_sync_with_runs_is_the_apps_relation_to_refuse_and_ours_stay(store: SyncStore) -> None:
    sync = store.get_sync(KEY)
    store.finish_run(store.start_run(sync, trigger="manual", dagster_run_id="d1").id, status="completed")
    with pytest.raises(IntegrityError), get_engine(store.url).begin() as conn:
        conn.execute(delete(marketing_sync).where(marketing_sync.c.id == sync.id))
    assert store.get_sync(KEY).key == KEY and store.get_run("d1").dagster_run_id == "d1"


def test_the_app_deletes_runs_and_their_links_and_claims_go_with_them(store: SyncStore) -> None:
    sync = store.get_sync(KEY)
    running = store.start_run(sync, trigger="schedule", dagster_run_id="d-running")
    with get_engine(store.url).begin() as conn:
        conn.execute(delete(marketing_sync_run).where(marketing_sync_run.c.syncId == sync.id))
    assert count(store, marketing_sync_run_link, runId=running.id) == 0
    assert count(store, marketing_sync_running, syncId=sync.id) == 0
    assert store.start_run(sync, trigger="manual", dagster_run_id="d-next").status == "running"


def test_a_run_the_app_closed_releases_its_sync(store: SyncStore) -> None:
    """The claim of a run whose row is no longer `running` is stale: the next run takes the sync."""
    sync = store.get_sync(KEY)
    first = store.start_run(sync, trigger="manual", dagster_run_id="d1")
    with pytest.raises(SyncAlreadyRunningError, match=r"already running \(Dagster run d1\)"):
        store.start_run(sync, trigger="manual", dagster_run_id="d2")
    with get_engine(store.url).begin() as conn:
        conn.execute(update(marketing_sync_run).where(marketing_sync_run.c.id == first.id).values(status="failed"))
    second = store.start_run(sync, trigger="manual", dagster_run_id="d2")
    assert second.status == "running" and store.running_run(sync.id).id == second.id
    assert count(store, marketing_sync_running) == 1
    store.finish_run(second.id, status="completed")
    assert count(store, marketing_sync_running) == 0


def test_keys_stay_when_the_app_renames_and_are_unique(store: SyncStore) -> None:
    with get_engine(store.url).begin() as conn:
        sync_id = store.get_sync(KEY).id
        conn.execute(update(marketing_sync).where(marketing_sync.c.id == sync_id).values(name="Renamed By The App"))
    assert store.get_sync(KEY).name == "Renamed By The App"
    for n in range(3):
        store.create_sync(
            name="Managed Client Newsletter", filter_config=FIRST_SYNC["filter_config"], tag_name=f"t{n}", schedule=None
        )
    keys = [s.key for s in store.list_syncs()]
    assert keys == [KEY, f"{KEY}-2", f"{KEY}-3", f"{KEY}-4"]
    with pytest.raises(IntegrityError), get_engine(store.url).begin() as conn:
        conn.execute(marketing_sync_key.insert().values(syncId=sync_id, key="another"))


def test_rows_keyed_by_several_processes_at_once_get_unique_keys(store: SyncStore) -> None:
    with get_engine(store.url).begin() as conn:
        conn.execute(
            marketing_sync.insert(),
            [
                {
                    "id": f"app-{n}",
                    "name": "Same Name",
                    "sourceType": "connectwise",
                    "destType": "encharge",
                    "filterConfig": FIRST_SYNC["filter_config"],
                    "tagName": f"tag-{n}",
                    "updatedAt": utcnow(),
                }
                for n in range(8)
            ],
        )
    with ThreadPoolExecutor(4) as pool:
        given = [key for keys in pool.map(lambda _: store.ensure_keys(), range(4)) for key in keys]
    keys = {s.id: s.key for s in store.list_syncs()}
    assert sorted(given) == sorted(k for i, k in keys.items() if i.startswith("app-"))  # each given once
    assert len(set(keys.values())) == 9 and None not in keys.values()
