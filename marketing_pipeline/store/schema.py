"""The tables: the NestJS app's two, exactly as Prisma makes them, and ours, in a schema of our own.

`MarketingSync` and `MarketingSyncRun` belong to the NestJS app: they are laid out exactly as `prisma db
push` creates the specification's models in PostgreSQL (quoted PascalCase tables, camelCase columns,
`text`/`jsonb`/`boolean`/`integer`/`timestamp(3)`, Prisma's constraint names, `ON DELETE RESTRICT ON UPDATE
CASCADE` on the relation) and nothing is added to them: no column, no index. They live in the
connection's default schema (`public`), the one the app's Prisma manages. Timestamps are naive UTC, as
Prisma stores `DateTime` in `timestamp(3) without time zone`.

Everything the pipeline needs beyond them lives in the PostgreSQL schema `marketing_pipeline`, which
Prisma neither reads nor changes (it manages only the schemas its datasource names), keyed by the Prisma
rows' ids. Foreign keys from there into Prisma's tables cascade, so a row the app deletes takes ours with
it and nothing of ours ever blocks the app. SQLite has no schemas: there the same tables sit in the one
file (`database.py` maps the schema away), by the same code.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects import postgresql

OUR_SCHEMA = "marketing_pipeline"
VERSION_TABLE = "marketing_pipeline_alembic_version"  # Alembic's, in our schema too

metadata = MetaData()

Json = JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp3 = DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")
NOW = text("CURRENT_TIMESTAMP")


def _follows(table: str, column: str, name: str) -> ForeignKeyConstraint:
    """A reference into one of Prisma's tables: deleting or re-keying its row there does the same here."""
    return ForeignKeyConstraint([column], [f"{table}.id"], name=name, ondelete="CASCADE", onupdate="CASCADE")


# --- the NestJS app's (Prisma's) ---------------------------------------------------------------------

marketing_sync = Table(
    "MarketingSync",
    metadata,
    Column("id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("sourceType", Text, nullable=False),
    Column("destType", Text, nullable=False),
    Column("filterConfig", Json, nullable=False),
    Column("tagName", Text, nullable=False),
    Column("schedule", Text),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("createdAt", Timestamp3, nullable=False, server_default=NOW),
    Column("updatedAt", Timestamp3, nullable=False),
    PrimaryKeyConstraint("id", name="MarketingSync_pkey"),
)

marketing_sync_run = Table(
    "MarketingSyncRun",
    metadata,
    Column("id", Text, nullable=False),
    Column("syncId", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("triggeredBy", Text, nullable=False),
    Column("startedAt", Timestamp3, nullable=False, server_default=NOW),
    Column("completedAt", Timestamp3),
    Column("contactsTotal", Integer, nullable=False, server_default=text("0")),
    Column("contactsCreated", Integer, nullable=False, server_default=text("0")),
    Column("contactsUpdated", Integer, nullable=False, server_default=text("0")),
    Column("contactsRemoved", Integer, nullable=False, server_default=text("0")),
    Column("contactsSkipped", Integer, nullable=False, server_default=text("0")),
    Column("contactsFailed", Integer, nullable=False, server_default=text("0")),
    Column("errorMessage", Text),
    Column("details", Json),
    PrimaryKeyConstraint("id", name="MarketingSyncRun_pkey"),
    ForeignKeyConstraint(
        ["syncId"],
        ["MarketingSync.id"],
        name="MarketingSyncRun_syncId_fkey",
        ondelete="RESTRICT",
        onupdate="CASCADE",
    ),
)

# --- ours (schema marketing_pipeline) ------------------------------------------------------------------

# Each sync's stable, human-readable key: its Dagster partition key. Given when the pipeline first sees
# the row (the app gives none) and never changed; unique.
marketing_sync_key = Table(
    "MarketingSyncKey",
    metadata,
    Column("syncId", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("assignedAt", Timestamp3, nullable=False, server_default=NOW),
    PrimaryKeyConstraint("syncId", name="MarketingSyncKey_pkey"),
    _follows("MarketingSync", "syncId", "MarketingSyncKey_syncId_fkey"),
    schema=OUR_SCHEMA,
)
Index("MarketingSyncKey_key_key", marketing_sync_key.c.key, unique=True)

# What the pipeline knows of each run it records, beyond Prisma's row: the Dagster run, whether it was a
# dry run, how it was started in our own finer words (`triggeredBy` keeps the specification's two), and the
# Dagster instance it was launched from (its run storage's id, and its DAGSTER_HOME for people to read), so
# another instance, which cannot see that run, knows it is not its own. Runs the app wrote have no row here.
marketing_sync_run_link = Table(
    "MarketingSyncRunLink",
    metadata,
    Column("runId", Text, nullable=False),
    Column("dagsterRunId", Text),
    Column("dryRun", Boolean, nullable=False, server_default=text("false")),
    Column("trigger", Text, nullable=False),
    Column("dagsterInstance", Text),
    Column("dagsterHome", Text),
    PrimaryKeyConstraint("runId", name="MarketingSyncRunLink_pkey"),
    _follows("MarketingSyncRun", "runId", "MarketingSyncRunLink_runId_fkey"),
    schema=OUR_SCHEMA,
)
Index("MarketingSyncRunLink_dagsterRunId_key", marketing_sync_run_link.c.dagsterRunId, unique=True)

# The database's half of "two runs of one sync never overlap": the one run each sync is running, claimed
# in the transaction that inserts its `running` row and released in the one that ends it (store/run_rows.py
# is the only writer of both). One row per sync at most, by the primary key.
marketing_sync_running = Table(
    "MarketingSyncRunning",
    metadata,
    Column("syncId", Text, nullable=False),
    Column("runId", Text, nullable=False),
    Column("claimedAt", Timestamp3, nullable=False, server_default=NOW),
    PrimaryKeyConstraint("syncId", name="MarketingSyncRunning_pkey"),
    _follows("MarketingSync", "syncId", "MarketingSyncRunning_syncId_fkey"),
    _follows("MarketingSyncRun", "runId", "MarketingSyncRunning_runId_fkey"),
    schema=OUR_SCHEMA,
)
Index("MarketingSyncRunning_runId_key", marketing_sync_running.c.runId, unique=True)

# Per sync and person, the synced fields as the sync last wrote them, for where Encharge's reads are
# silent about a field. Keyed by the lower-cased address, as the sync matches people.
marketing_sync_written = Table(
    "MarketingSyncWrittenFields",
    metadata,
    Column("syncId", Text, nullable=False),
    Column("emailKey", Text, nullable=False),
    Column("personId", Text),
    Column("firstName", Text),
    Column("lastName", Text),
    Column("company", Text),
    Column("writtenAt", Timestamp3, nullable=False, server_default=NOW),
    Column("tagName", Text),  # the spelling of the sync's tag last added to the person (migration 0007)
    PrimaryKeyConstraint("syncId", "emailKey", name="MarketingSyncWrittenFields_pkey"),
    _follows("MarketingSync", "syncId", "MarketingSyncWrittenFields_syncId_fkey"),
    schema=OUR_SCHEMA,
)

# Per sync, the addresses of its latest ConnectWise audience (lower-cased, as the sync matches people), as
# each real run's plan read it: the evidence of which other syncs hold a person, for the field-owner rule
# (`sync.owners`). Replaced whole by each run; a deleted sync's rows go with it.
marketing_sync_audience = Table(
    "MarketingSyncAudience",
    metadata,
    Column("syncId", Text, nullable=False),
    Column("emailKey", Text, nullable=False),
    Column("recordedAt", Timestamp3, nullable=False, server_default=NOW),
    PrimaryKeyConstraint("syncId", "emailKey", name="MarketingSyncAudience_pkey"),
    _follows("MarketingSync", "syncId", "MarketingSyncAudience_syncId_fkey"),
    schema=OUR_SCHEMA,
)

# Per API, the request rate the client learned its server allows, so the next run starts near it instead
# of learning it again from a conservative start.
marketing_api_rate = Table(
    "MarketingApiRate",
    metadata,
    Column("api", Text, nullable=False),
    Column("requestsPerSecond", Float, nullable=False),
    # Whether the server throttled near that rate (a limit met) or it is only the fastest rate tried.
    Column("limitSeen", Boolean, nullable=False, server_default=text("false")),
    Column("updatedAt", Timestamp3, nullable=False, server_default=NOW),
    PrimaryKeyConstraint("api", name="MarketingApiRate_pkey"),
    schema=OUR_SCHEMA,
)

# The Dagster instances a daemon runs, as the daemon itself reports them (every minute, from the registry
# sensor): the deployment's instance is the one seen last. A shell whose instance differs is not the
# deployment's. Identified by the run storage's id (Dagster's own, kept in its storage), never by a URL.
marketing_dagster_daemon = Table(
    "MarketingDagsterDaemon",
    metadata,
    Column("runStorageId", Text, nullable=False),
    Column("dagsterHome", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("seenAt", Timestamp3, nullable=False, server_default=NOW),
    PrimaryKeyConstraint("runStorageId", name="MarketingDagsterDaemon_pkey"),
    schema=OUR_SCHEMA,
)

# The write record: every write a sync made to Encharge, as it was made (issue 22), whatever became of the
# run. Per sync (deleting the sync deletes it); its run reference outlives a run row the app deletes (SET
# NULL), so the evidence of what the sync did stays. `id` orders the entries as they were written.
marketing_sync_write = Table(
    "MarketingSyncWrite",
    metadata,
    Column("id", Integer, nullable=False, autoincrement=True),
    Column("syncId", Text, nullable=False),
    Column("runId", Text),
    Column("action", Text, nullable=False),  # created, updated, moved, move_refused, tag_added, tag_removed
    Column("personId", Text),
    Column("email", Text),
    Column("contactId", Integer),  # the ConnectWise contact, where the write was for one
    Column("tag", Text),  # the tag of a tag write
    Column("writtenAt", Timestamp3, nullable=False, server_default=NOW),
    PrimaryKeyConstraint("id", name="MarketingSyncWrite_pkey"),
    _follows("MarketingSync", "syncId", "MarketingSyncWrite_syncId_fkey"),
    ForeignKeyConstraint(
        ["runId"],
        ["MarketingSyncRun.id"],
        name="MarketingSyncWrite_runId_fkey",
        ondelete="SET NULL",
        onupdate="CASCADE",
    ),
    schema=OUR_SCHEMA,
)
Index("MarketingSyncWrite_syncId_writtenAt_idx", marketing_sync_write.c.syncId, marketing_sync_write.c.writtenAt)
Index("MarketingSyncWrite_runId_idx", marketing_sync_write.c.runId)

# Whether a sync owns its tag: may take it from carriers it did not tag (issue 22). `adoptExisting` is the
# operator's setting (`syncs update --adopt-existing-tag`); `adoptedTag`/`adoptedAt`/`adoptedHow` record
# the run (or migration) that took ownership of that tag. A changed tag needs adopting again.
marketing_sync_tag_adoption = Table(
    "MarketingSyncTagAdoption",
    metadata,
    Column("syncId", Text, nullable=False),
    Column("adoptExisting", Boolean, nullable=False, server_default=text("false")),
    Column("adoptedTag", Text),
    Column("adoptedAt", Timestamp3),
    Column("adoptedHow", Text),
    PrimaryKeyConstraint("syncId", name="MarketingSyncTagAdoption_pkey"),
    _follows("MarketingSync", "syncId", "MarketingSyncTagAdoption_syncId_fkey"),
    schema=OUR_SCHEMA,
)

# A new table of ours goes here, with `schema=OUR_SCHEMA` and `_follows` for its references into Prisma's
# tables, and its migration creates it with `schema=our_schema(bind)` (in SQLite's one file no schema, or
# SQLAlchemy leaves its foreign keys out).

PRISMA_TABLES = (marketing_sync.name, marketing_sync_run.name)
