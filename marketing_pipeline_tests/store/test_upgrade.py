"""An install made by `init` before issue 23 (revision 0003: our columns, indexes and tables in Prisma's
schema) upgrades to revision 0004 with everything it held: keys, run links, dry-run flags, a run still
`running`, the written-fields memory, the learned rates and Alembic's version, on PostgreSQL and SQLite; and
on to the newest revision (0005: which Dagster instance launched each run, unknown for older runs)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from marketing_pipeline.errors import SyncAlreadyRunningError
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.repository import SyncStore, utcnow
from marketing_pipeline.store.schema import OUR_SCHEMA, VERSION_TABLE
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline.sync.written import WrittenFields
from marketing_pipeline.transport.rate import LearnedRate
from marketing_pipeline_tests.store.test_schema import OUR_TABLES, our_tables
from marketing_pipeline_tests.support.catalog import schema_catalog

DATA = Path(__file__).parent / "data"
HEAD = "0006"  # the newest revision
FILTER = '{"companyTypes":[48],"companyStatuses":[1,19],"contactTypes":[1,2,21]}'
SYNCS = """
INSERT INTO "MarketingSync" ("id", "name", "sourceType", "destType", "filterConfig", "tagName", "schedule",
                             "updatedAt", "key")
VALUES ('sync-1', 'Managed Client Newsletter', 'connectwise', 'encharge', :filter, 'managed-client-newsletter',
        '0 6 * * 1', :now, 'managed-client-newsletter'),
       ('sync-2', 'Second', 'connectwise', 'encharge', :filter, 'second', NULL, :now, 'second-sync'),
       ('app-sync', 'Prospects Digest', 'connectwise', 'encharge', :filter, 'prospects', NULL, :now, NULL)
"""
RUNS = """
INSERT INTO "MarketingSyncRun" ("id", "syncId", "status", "triggeredBy", "startedAt", "completedAt",
                                "contactsRemoved", "details", "dagsterRunId", "dryRun")
VALUES ('r-real', 'sync-1', 'completed', 'manual', :hour_ago, :hour_ago, 2, '{"forced": false}', 'd-real', false),
       ('r-dry', 'sync-1', 'completed', 'manual', :now, :now, 0, '{"planHash": "abc"}', 'd-dry', true),
       ('r-backfill', 'sync-2', 'completed', 'backfill', :hour_ago, :hour_ago, 0, '{}', 'd-backfill', false),
       ('r-running', 'sync-2', 'running', 'schedule', :now, NULL, 0, '{}', 'd-running', false),
       ('r-app', 'app-sync', 'completed', 'manual', :now, :now, 0, NULL, NULL, NULL)
"""
OURS = """
INSERT INTO "MarketingSyncWrittenFields" ("syncId", "emailKey", "personId", "firstName", "lastName", "company")
VALUES ('sync-1', 'ann@example.com', 'p1', 'Ann', 'Lee', 'Acme');
INSERT INTO "MarketingApiRate" ("api", "requestsPerSecond", "limitSeen") VALUES ('encharge', 42.5, true);
"""


def legacy_install(url: str) -> None:
    """A database as `init` left it at revision 0003, after some runs."""
    backend = "sqlite" if url.startswith("sqlite") else "postgresql"
    engine = create_engine(url)
    now = utcnow()
    try:
        with engine.begin() as conn:
            for statement in (DATA / f"legacy_0003_{backend}.sql").read_text().split(";\n"):
                if statement.strip():
                    conn.exec_driver_sql(statement)
            conn.execute(text(SYNCS), {"filter": FILTER, "now": now})
            conn.execute(text(RUNS), {"now": now, "hour_ago": now - timedelta(hours=1)})
            for statement in OURS.strip().split(";\n"):
                conn.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy_url(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    legacy_install(url)
    return url


def test_an_install_at_0003_upgrades_with_everything_it_held(legacy_url: str) -> None:
    result = initialise_store(legacy_url)
    assert result.keys_assigned == ["prospects-digest"] and not result.created_first_sync
    store = SyncStore(legacy_url)
    assert {s.id: s.key for s in store.list_syncs()} == {
        "sync-1": "managed-client-newsletter",
        "sync-2": "second-sync",  # moved, not made again from the name
        "app-sync": "prospects-digest",
    }
    first, second = store.get_sync("managed-client-newsletter"), store.get_sync("second-sync")
    runs = {r.id: r for sync in store.list_syncs() for r in store.list_runs(sync)}
    assert {i: (r.triggered_by, r.trigger, r.dagster_run_id, r.dry_run) for i, r in runs.items()} == {
        "r-real": ("manual", "manual", "d-real", False),
        "r-dry": ("manual", "manual", "d-dry", True),
        "r-backfill": ("manual", "backfill", "d-backfill", False),  # the specification's word; ours kept
        "r-running": ("schedule", "schedule", "d-running", False),
        "r-app": ("manual", None, None, None),
    }
    assert store.get_run("d-real").id == "r-real"
    assert all(r.dagster_instance is None and r.dagster_home is None for r in runs.values())  # launched before 0005
    since = utcnow() - timedelta(hours=2)
    assert [(p.removed, p.forced) for p in store.removals_since(first, since)] == [(2, False)]  # not the dry run
    assert store.dry_run_with_plan(first, "abc", since).id == "r-dry"
    assert store.last_run(first, completed_only=True).id == "r-real"
    assert store.written_fields(first) == [WrittenFields("ann@example.com", "p1", "Ann", "Lee", "Acme")]
    assert store.learned_rate("encharge") == LearnedRate(42.5, limit_seen=True)
    # The run left `running` still holds its sync, as the partial index did, until it is released.
    with pytest.raises(SyncAlreadyRunningError, match="Dagster run d-running"):
        store.start_run(second, trigger="manual", dagster_run_id="d-next")
    assert store.fail_running_run("d-running", "killed").status == "failed"
    assert store.start_run(second, trigger="manual", dagster_run_id="d-next").status == "running"
    assert initialise_store(legacy_url).keys_assigned == []  # and again: nothing to do


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_on_postgresql_prismas_schema_is_left_exactly_as_prisma_makes_it(store_url: str, prisma_catalog: dict) -> None:
    legacy_install(store_url)
    initialise_store(store_url)
    assert schema_catalog(store_url) == prisma_catalog
    assert our_tables(store_url) == OUR_TABLES
    with get_engine(store_url).connect() as conn:
        version = conn.execute(text(f'SELECT version_num FROM "{OUR_SCHEMA}".{VERSION_TABLE}')).scalar()
    assert version == HEAD


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_in_sqlite_the_columns_and_indexes_leave_the_specifications_tables(store_url: str) -> None:
    legacy_install(store_url)
    initialise_store(store_url)
    with get_engine(store_url).connect() as conn:
        sync_columns = [row[1] for row in conn.exec_driver_sql('PRAGMA table_info("MarketingSync")')]
        run_columns = [row[1] for row in conn.exec_driver_sql('PRAGMA table_info("MarketingSyncRun")')]
        indexes = {
            table: [row[1] for row in conn.exec_driver_sql(f'PRAGMA index_list("{table}")') if row[3] == "c"]
            for table in ("MarketingSync", "MarketingSyncRun")
        }
        version = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    assert "key" not in sync_columns and len(sync_columns) == 11
    assert not {"dagsterRunId", "dryRun"} & set(run_columns) and len(run_columns) == 14
    assert indexes == {"MarketingSync": [], "MarketingSyncRun": []}
    assert version == HEAD


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_an_upgrade_that_fails_changes_nothing(store_url: str) -> None:
    """PostgreSQL runs the whole upgrade in one transaction: a failure at any step leaves revision 0003 as it
    was, version table included, for the next `init` to try again."""
    legacy_install(store_url)
    before = schema_catalog(store_url)
    with get_engine(store_url).begin() as conn:  # something in the way: a table of that name, of another shape
        conn.execute(text(f'CREATE SCHEMA "{OUR_SCHEMA}"'))
        conn.execute(text(f'CREATE TABLE "{OUR_SCHEMA}"."MarketingSyncKey" ("syncId" text PRIMARY KEY)'))
    with pytest.raises(Exception, match="key"):
        initialise_store(store_url)
    assert schema_catalog(store_url) == before
    with get_engine(store_url).connect() as conn:
        assert conn.execute(text(f"SELECT version_num FROM public.{VERSION_TABLE}")).scalar() == "0003"
        assert conn.execute(text('SELECT count(*) FROM "MarketingSync" WHERE key IS NOT NULL')).scalar() == 2
