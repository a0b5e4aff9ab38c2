"""Prisma's schema (`public`) holds exactly what `prisma db push` makes of the specification's models, whoever
created the tables first and whatever the pipeline did since; everything of ours is in our own schema.

Each test compares the whole catalog of `public` (relations, columns with types, nullability and defaults,
constraints, indexes, triggers, types, functions) with the one Prisma's DDL makes in an empty database.
"""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, text

from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.repository import SyncStore, utcnow
from marketing_pipeline.store.schema import OUR_SCHEMA, VERSION_TABLE, metadata
from marketing_pipeline.store.seed import FIRST_SYNC, initialise_store
from marketing_pipeline.sync.domain import SyncCounts
from marketing_pipeline.sync.written_fields import WrittenFields
from marketing_pipeline.transport.rate import LearnedRate
from marketing_pipeline_tests.support.catalog import apply_prisma_db_push, schema_catalog

KEY = str(FIRST_SYNC["key"])
OUR_TABLES = [
    "MarketingApiRate",
    "MarketingDagsterDaemon",
    "MarketingSyncAudience",
    "MarketingSyncKey",
    "MarketingSyncRunLink",
    "MarketingSyncRunning",
    "MarketingSyncTagAdoption",
    "MarketingSyncWrite",
    "MarketingSyncWrittenFields",
    VERSION_TABLE,
]
# What the NestJS app wrote before the pipeline came: a sync, and two runs its own worker left `running`
# (the layout before issue 23 could not be set up over these: its partial unique index refused them).
APP_ROWS = """
INSERT INTO "MarketingSync" ("id", "name", "sourceType", "destType", "filterConfig", "tagName", "updatedAt")
VALUES ('app-sync', 'Prospects Digest', 'connectwise', 'encharge',
        '{"companyTypes":[1],"companyStatuses":[1],"contactTypes":[1]}', 'prospects', CURRENT_TIMESTAMP);
INSERT INTO "MarketingSyncRun" ("id", "syncId", "status", "triggeredBy", "details")
VALUES ('app-run-1', 'app-sync', 'running', 'manual', NULL), ('app-run-2', 'app-sync', 'running', 'schedule', '[]');
"""


# SQL written out by hand that writes a run or one of our run tables.
RAW_WRITE = re.compile(r'(?i)\b(insert\s+into|update|delete\s+from)\s+("?\w+"?\.)?"MarketingSyncRun')


def our_tables(url: str) -> list[str]:
    with get_engine(url).connect() as conn:
        return list(
            conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :schema ORDER BY tablename"),
                {"schema": OUR_SCHEMA},
            ).scalars()
        )


def work_the_store(store: SyncStore) -> None:
    """Everything the pipeline writes: keys, runs of every kind, the running claim, memory, rates."""
    sync = store.get_sync(KEY)
    dry = store.start_run(sync, trigger="manual", dagster_run_id="dry", dry_run=True)
    store.finish_run(dry.id, status="completed", details={"planHash": "h"}, dry_run=True)
    real = store.start_run(sync, trigger="backfill", dagster_run_id="real")
    store.finish_run(real.id, status="completed", counts=SyncCounts(contacts_total=2, contacts_removed=1))
    store.start_run(sync, trigger="schedule", dagster_run_id="crashed")
    store.fail_running_run("crashed", "killed")
    store.record_written(sync, [WrittenFields("a@example.com", "p1", "Ann", None, "Acme")])
    store.record_learned_rate("encharge", LearnedRate(42.0, limit_seen=True))
    store.create_sync(name="Second", filter_config=FIRST_SYNC["filter_config"], tag_name="second", schedule=None)
    store.update_sync("second", enabled=False)


def test_init_and_the_pipelines_work_leave_prismas_schema_exactly_as_prisma_makes_it(
    pg_url: str, prisma_catalog: dict
) -> None:
    initialise_store(pg_url)
    assert schema_catalog(pg_url) == prisma_catalog
    assert our_tables(pg_url) == OUR_TABLES
    work_the_store(SyncStore(pg_url))
    assert schema_catalog(pg_url) == prisma_catalog


def test_tables_prisma_made_first_are_adopted_as_they_are(pg_url: str, prisma_catalog: dict) -> None:
    apply_prisma_db_push(pg_url)
    with get_engine(pg_url).begin() as conn:
        conn.exec_driver_sql(APP_ROWS)
    result = initialise_store(pg_url)
    initialise_store(pg_url)  # and again: nothing to do
    assert schema_catalog(pg_url) == prisma_catalog
    assert our_tables(pg_url) == OUR_TABLES
    assert result.keys_assigned == ["prospects-digest"] and result.created_first_sync
    store = SyncStore(pg_url)
    app_sync = store.get_sync("prospects-digest")
    assert app_sync.id == "app-sync" and app_sync.filter_config is not None
    runs = store.list_runs(app_sync)
    assert {(r.id, r.status, r.triggered_by, r.trigger, r.dagster_run_id) for r in runs} == {
        ("app-run-1", "running", "manual", None, None),
        ("app-run-2", "running", "schedule", None, None),
    }
    work_the_store(store)
    assert schema_catalog(pg_url) == prisma_catalog


def test_an_app_run_left_running_for_hours_is_closed_and_the_sync_runs(pg_url: str) -> None:
    """The app's `running` rows hold no claim of ours: the ledger's rule decides (six hours), not an index."""
    apply_prisma_db_push(pg_url)
    with get_engine(pg_url).begin() as conn:
        conn.exec_driver_sql(APP_ROWS)
        conn.execute(text('UPDATE "MarketingSyncRun" SET "startedAt" = :at'), {"at": utcnow() - timedelta(hours=7)})
    initialise_store(pg_url)
    store = SyncStore(pg_url)
    sync = store.get_sync("prospects-digest")
    run = store.start_run(sync, trigger="manual", dagster_run_id="ours")
    assert store.running_run(sync.id).id == run.id  # our claim first, before the app's leftovers


@pytest.mark.parametrize("backend", ["sqlite_url", "pg_url"])
def test_schema_module_and_migrations_agree(backend: str, request: pytest.FixtureRequest) -> None:
    """Alembic's autogenerate finds nothing to do after our migrations: schema.py is the migrated schema (in
    SQLite's one file, with our schema mapped away)."""
    url = request.getfixturevalue(backend)
    initialise_store(url)
    expected = metadata
    if url.startswith("sqlite"):
        expected = MetaData()
        for table in metadata.sorted_tables:
            table.to_metadata(expected, schema=None)
    with get_engine(url).connect() as conn:
        opts = {"version_table": VERSION_TABLE, "include_schemas": not url.startswith("sqlite")}
        context = MigrationContext.configure(conn, opts=opts)
        diff = [d for d in compare_metadata(context, expected) if not (isinstance(d, tuple) and d[0] == "remove_table")]
    assert diff == []


def test_only_the_run_records_module_writes_runs_and_claims() -> None:
    """The one-running-run guarantee holds because every `running` row is written with its claim: no other
    module of the package so much as imports the run tables."""
    package = Path(__file__).resolve().parents[2] / "marketing_pipeline"
    run_tables = {"marketing_sync_run", "marketing_sync_run_link", "marketing_sync_running"}
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and run_tables & {alias.name for alias in node.names}:
                importers.add(path.relative_to(package).as_posix())
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and RAW_WRITE.search(node.value):
                importers.add(path.relative_to(package).as_posix())
    assert importers == {"store/run_rows.py"}
