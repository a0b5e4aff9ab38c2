"""Prisma's tables hold exactly the specification's models; everything of ours moves to our own schema.

Before this revision the pipeline kept its additions in Prisma's schema (`public`): the columns
`MarketingSync.key`, `MarketingSyncRun.dagsterRunId` and `dryRun`, four indexes (the key's, the Dagster
run id's, `syncId, startedAt`, and the partial unique index that allowed one `running` row per sync), and
the tables `MarketingSyncWrittenFields` and `MarketingApiRate`; the NestJS team's next `prisma db push`
would drop them all. This revision moves them, data included, to the schema `marketing_pipeline`:

- keys to `MarketingSyncKey`, and each recorded run's Dagster run id, dry-run flag and trigger to
  `MarketingSyncRunLink`; a run that was `running` claims its sync in `MarketingSyncRunning`, the
  one-running-run guarantee that replaces the partial index;
- `triggeredBy` keeps the specification's words only: a backfill's row says `manual` (a person launched
  it), its link keeps `backfill`;
- the two tables move as they are (`ALTER TABLE ... SET SCHEMA`, rows, keys and foreign keys with them);
- then the columns and indexes are dropped from Prisma's tables.

Alembic's version table moves too, before this revision runs (see `env.py`). In SQLite's one file there
are no schemas: the new tables are made and the columns moved out the same way; the two tables stay.
Every step checks what is there, so an install at any earlier revision, or one whose tables the app
created, ends the same. One way only: the layout before it is what broke the app's `db push`.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from marketing_pipeline.store.database import our_schema
from marketing_pipeline.store.schema import OUR_SCHEMA

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS3 = sa.DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")
LEGACY_INDEXES = (
    "MarketingSync_key_key",
    "MarketingSyncRun_dagsterRunId_key",
    "MarketingSyncRun_syncId_startedAt_idx",
    "MarketingSyncRun_one_running_per_sync",
)
LEGACY_COLUMNS = {"MarketingSync": ("key",), "MarketingSyncRun": ("dagsterRunId", "dryRun")}
MOVED_TABLES = ("MarketingSyncWrittenFields", "MarketingApiRate")


def _follows(table: str, column: str, name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{table}.id"], name=name, ondelete="CASCADE", onupdate="CASCADE")


def create_our_tables(schema: str | None) -> None:
    op.create_table(
        "MarketingSyncKey",
        sa.Column("syncId", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("assignedAt", TS3, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("syncId", name="MarketingSyncKey_pkey"),
        _follows("MarketingSync", "syncId", "MarketingSyncKey_syncId_fkey"),
        schema=schema,
        if_not_exists=True,
    )
    op.create_index(
        "MarketingSyncKey_key_key", "MarketingSyncKey", ["key"], unique=True, schema=schema, if_not_exists=True
    )
    op.create_table(
        "MarketingSyncRunLink",
        sa.Column("runId", sa.Text(), nullable=False),
        sa.Column("dagsterRunId", sa.Text()),
        sa.Column("dryRun", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("trigger", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("runId", name="MarketingSyncRunLink_pkey"),
        _follows("MarketingSyncRun", "runId", "MarketingSyncRunLink_runId_fkey"),
        schema=schema,
        if_not_exists=True,
    )
    op.create_index(
        "MarketingSyncRunLink_dagsterRunId_key",
        "MarketingSyncRunLink",
        ["dagsterRunId"],
        unique=True,
        schema=schema,
        if_not_exists=True,
    )
    op.create_table(
        "MarketingSyncRunning",
        sa.Column("syncId", sa.Text(), nullable=False),
        sa.Column("runId", sa.Text(), nullable=False),
        sa.Column("claimedAt", TS3, nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("syncId", name="MarketingSyncRunning_pkey"),
        _follows("MarketingSync", "syncId", "MarketingSyncRunning_syncId_fkey"),
        _follows("MarketingSyncRun", "runId", "MarketingSyncRunning_runId_fkey"),
        schema=schema,
        if_not_exists=True,
    )
    op.create_index(
        "MarketingSyncRunning_runId_key",
        "MarketingSyncRunning",
        ["runId"],
        unique=True,
        schema=schema,
        if_not_exists=True,
    )


def move_legacy_rows(schema: str | None, sync_columns: set[str], run_columns: set[str]) -> None:
    """Keys, run links, dry-run flags and running claims, from the legacy columns of Prisma's tables."""
    if "key" in sync_columns:
        sync = sa.table("MarketingSync", sa.column("id"), sa.column("key"))
        keys = sa.table("MarketingSyncKey", sa.column("syncId"), sa.column("key"), schema=schema)
        op.execute(
            keys.insert().from_select(["syncId", "key"], sa.select(sync.c.id, sync.c.key).where(sync.c.key.isnot(None)))
        )
    if not {"dagsterRunId", "dryRun"} <= run_columns:
        return
    run = sa.table(
        "MarketingSyncRun",
        sa.column("id"),
        sa.column("syncId"),
        sa.column("status"),
        sa.column("triggeredBy"),
        sa.column("startedAt"),
        sa.column("dagsterRunId"),
        sa.column("dryRun", sa.Boolean()),
    )
    # Every run the pipeline recorded set `dryRun`; rows the app wrote have neither column set.
    ours = sa.or_(run.c.dagsterRunId.isnot(None), run.c.dryRun.isnot(None))
    links = sa.table(
        "MarketingSyncRunLink",
        sa.column("runId"),
        sa.column("dagsterRunId"),
        sa.column("dryRun"),
        sa.column("trigger"),
        schema=schema,
    )
    op.execute(
        links.insert().from_select(
            ["runId", "dagsterRunId", "dryRun", "trigger"],
            sa.select(
                run.c.id, run.c.dagsterRunId, sa.func.coalesce(run.c.dryRun, sa.false()), run.c.triggeredBy
            ).where(ours),
        )
    )
    running = sa.table(
        "MarketingSyncRunning", sa.column("syncId"), sa.column("runId"), sa.column("claimedAt"), schema=schema
    )
    # The partial unique index guaranteed at most one `running` row per sync: each becomes its sync's claim.
    op.execute(
        running.insert().from_select(
            ["syncId", "runId", "claimedAt"],
            sa.select(run.c.syncId, run.c.id, run.c.startedAt).where(run.c.status == "running").where(ours),
        )
    )
    op.execute(
        run.update()
        .where(run.c.triggeredBy.notin_(["manual", "schedule"]))
        .where(run.c.id.in_(sa.select(links.c.runId)))
        .values(triggeredBy="manual")
    )


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    # In SQLite's one file, no schema at all: SQLAlchemy leaves out a foreign key across schemas.
    schema = our_schema(bind)
    create_our_tables(schema)
    if bind.dialect.name == "postgresql":
        for table in MOVED_TABLES:
            # Unqualified: where earlier revisions made it, the connection's default schema (Prisma's).
            if inspector.has_table(table) and not inspector.has_table(table, schema=schema):
                op.execute(f'ALTER TABLE "{table}" SET SCHEMA "{OUR_SCHEMA}"')
    present = {table: {c["name"] for c in inspector.get_columns(table)} for table in LEGACY_COLUMNS}
    move_legacy_rows(schema, present["MarketingSync"], present["MarketingSyncRun"])
    for index in LEGACY_INDEXES:
        op.execute(f'DROP INDEX IF EXISTS "{index}"')
    for table, columns in LEGACY_COLUMNS.items():
        for column in columns:
            if column in present[table]:
                op.execute(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')


def downgrade() -> None:
    raise NotImplementedError(
        "revision 0004 is one way: the layout before it put our columns in Prisma's tables, which the NestJS "
        "app's `prisma db push` drops"
    )
