"""The tables in PostgreSQL, column by column, against what `prisma db push` creates for the seed's models."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.migrate import upgrade_database

# (column, data type, nullable, default) as Prisma creates them; then our nullable additions.
PRISMA_SYNC = [
    ("id", "text", "NO", None),
    ("name", "text", "NO", None),
    ("description", "text", "YES", None),
    ("sourceType", "text", "NO", None),
    ("destType", "text", "NO", None),
    ("filterConfig", "jsonb", "NO", None),
    ("tagName", "text", "NO", None),
    ("schedule", "text", "YES", None),
    ("enabled", "boolean", "NO", "true"),
    ("createdAt", "timestamp(3) without time zone", "NO", "CURRENT_TIMESTAMP"),
    ("updatedAt", "timestamp(3) without time zone", "NO", None),
]
PRISMA_RUN = [
    ("id", "text", "NO", None),
    ("syncId", "text", "NO", None),
    ("status", "text", "NO", None),
    ("triggeredBy", "text", "NO", None),
    ("startedAt", "timestamp(3) without time zone", "NO", "CURRENT_TIMESTAMP"),
    ("completedAt", "timestamp(3) without time zone", "YES", None),
    ("contactsTotal", "integer", "NO", "0"),
    ("contactsCreated", "integer", "NO", "0"),
    ("contactsUpdated", "integer", "NO", "0"),
    ("contactsRemoved", "integer", "NO", "0"),
    ("contactsSkipped", "integer", "NO", "0"),
    ("contactsFailed", "integer", "NO", "0"),
    ("errorMessage", "text", "YES", None),
    ("details", "jsonb", "YES", None),
]
OURS = {
    "MarketingSync": [("key", "text", "YES", None)],
    "MarketingSyncRun": [("dagsterRunId", "text", "YES", None), ("dryRun", "boolean", "YES", None)],
}

COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END,
       pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = CAST(:table AS regclass) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
"""


def _columns(url: str, table: str) -> list[tuple]:
    with get_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(COLUMNS), {"table": f'"{table}"'})]


def test_tables_match_prisma_column_by_column(pg_url: str) -> None:
    upgrade_database(pg_url)
    assert _columns(pg_url, "MarketingSync") == PRISMA_SYNC + OURS["MarketingSync"]
    assert _columns(pg_url, "MarketingSyncRun") == PRISMA_RUN + OURS["MarketingSyncRun"]


def test_constraints_match_prisma(pg_url: str) -> None:
    upgrade_database(pg_url)
    with get_engine(pg_url).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid IN ('\"MarketingSync\"'::regclass, '\"MarketingSyncRun\"'::regclass) ORDER BY conname"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("MarketingSyncRun_pkey", "p", "PRIMARY KEY (id)"),
        (
            "MarketingSyncRun_syncId_fkey",
            "f",
            'FOREIGN KEY ("syncId") REFERENCES "MarketingSync"(id) ON UPDATE CASCADE ON DELETE RESTRICT',
        ),
        ("MarketingSync_pkey", "p", "PRIMARY KEY (id)"),
    ]


def test_migration_adopts_tables_made_by_prisma(pg_url: str) -> None:
    """The NestJS app may have created the tables first: we keep them and add only our columns."""
    prisma_ddl = """
    CREATE TABLE "MarketingSync" ("id" TEXT NOT NULL, "name" TEXT NOT NULL, "description" TEXT,
      "sourceType" TEXT NOT NULL, "destType" TEXT NOT NULL, "filterConfig" JSONB NOT NULL, "tagName" TEXT NOT NULL,
      "schedule" TEXT, "enabled" BOOLEAN NOT NULL DEFAULT true,
      "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" TIMESTAMP(3) NOT NULL,
      CONSTRAINT "MarketingSync_pkey" PRIMARY KEY ("id"));
    CREATE TABLE "MarketingSyncRun" ("id" TEXT NOT NULL, "syncId" TEXT NOT NULL, "status" TEXT NOT NULL,
      "triggeredBy" TEXT NOT NULL, "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
      "completedAt" TIMESTAMP(3), "contactsTotal" INTEGER NOT NULL DEFAULT 0,
      "contactsCreated" INTEGER NOT NULL DEFAULT 0, "contactsUpdated" INTEGER NOT NULL DEFAULT 0,
      "contactsRemoved" INTEGER NOT NULL DEFAULT 0, "contactsSkipped" INTEGER NOT NULL DEFAULT 0,
      "contactsFailed" INTEGER NOT NULL DEFAULT 0, "errorMessage" TEXT, "details" JSONB,
      CONSTRAINT "MarketingSyncRun_pkey" PRIMARY KEY ("id"));
    ALTER TABLE "MarketingSyncRun" ADD CONSTRAINT "MarketingSyncRun_syncId_fkey" FOREIGN KEY ("syncId")
      REFERENCES "MarketingSync"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
    INSERT INTO "MarketingSync" VALUES ('keep-me', 'Existing', NULL, 'connectwise', 'encharge',
      '{"companyTypes":[48],"companyStatuses":[1],"contactTypes":[1]}', 'existing', NULL, true,
      CURRENT_TIMESTAMP, CURRENT_TIMESTAMP);
    """
    with get_engine(pg_url).begin() as conn:
        conn.exec_driver_sql(prisma_ddl)
    upgrade_database(pg_url)
    upgrade_database(pg_url)  # and again: nothing to do
    assert _columns(pg_url, "MarketingSync") == PRISMA_SYNC + OURS["MarketingSync"]
    assert _columns(pg_url, "MarketingSyncRun") == PRISMA_RUN + OURS["MarketingSyncRun"]
    with get_engine(pg_url).connect() as conn:
        assert conn.execute(text('SELECT name FROM "MarketingSync"')).scalar() == "Existing"


@pytest.mark.parametrize("backend", ["sqlite_url", "pg_url"])
def test_schema_module_and_migrations_agree(backend: str, request: pytest.FixtureRequest) -> None:
    """Alembic's autogenerate finds nothing to do after our migrations: schema.py is the migrated schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from marketing_pipeline.store.schema import metadata

    url = request.getfixturevalue(backend)
    upgrade_database(url)
    with get_engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": "marketing_pipeline_alembic_version"})
        diff = [d for d in compare_metadata(context, metadata) if not (isinstance(d, tuple) and d[0] == "remove_table")]
    assert diff == []
