"""The two tables, laid out exactly as Prisma's `db push` creates the seed's models in PostgreSQL.

Quoted PascalCase table names, camelCase columns, `text`/`jsonb`/`boolean`/`integer`/`timestamp(3)`,
Prisma's constraint names, and `ON DELETE RESTRICT ON UPDATE CASCADE` on the relation, so the team's
NestJS app can read and write the same rows. Our additions are nullable columns only.
Timestamps are naive UTC, as Prisma stores `DateTime` in `timestamp(3) without time zone`.
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

metadata = MetaData()

Json = JSON().with_variant(postgresql.JSONB(), "postgresql")
Timestamp3 = DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")
NOW = text("CURRENT_TIMESTAMP")

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
    # Ours: a stable, human-readable key used as the Dagster partition key.
    Column("key", Text),
    PrimaryKeyConstraint("id", name="MarketingSync_pkey"),
)
Index("MarketingSync_key_key", marketing_sync.c.key, unique=True)

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
    # Ours: the Dagster run that this row records, and whether it was a dry run.
    Column("dagsterRunId", Text),
    Column("dryRun", Boolean),
    PrimaryKeyConstraint("id", name="MarketingSyncRun_pkey"),
    ForeignKeyConstraint(
        ["syncId"],
        ["MarketingSync.id"],
        name="MarketingSyncRun_syncId_fkey",
        ondelete="RESTRICT",
        onupdate="CASCADE",
    ),
)
Index("MarketingSyncRun_dagsterRunId_key", marketing_sync_run.c.dagsterRunId, unique=True)
Index("MarketingSyncRun_syncId_startedAt_idx", marketing_sync_run.c.syncId, marketing_sync_run.c.startedAt)
# The database's half of "two runs of one sync never overlap": at most one `running` row per sync.
Index(
    "MarketingSyncRun_one_running_per_sync",
    marketing_sync_run.c.syncId,
    unique=True,
    postgresql_where=text("status = 'running'"),
    sqlite_where=text("status = 'running'"),
)

# Ours (migration 0002): per sync and person, the synced fields as the sync last wrote them, for where
# Encharge's reads are silent about a field. Keyed by the lower-cased address, as the sync matches people.
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
    PrimaryKeyConstraint("syncId", "emailKey", name="MarketingSyncWrittenFields_pkey"),
    ForeignKeyConstraint(
        ["syncId"],
        ["MarketingSync.id"],
        name="MarketingSyncWrittenFields_syncId_fkey",
        ondelete="CASCADE",
        onupdate="CASCADE",
    ),
)

# Ours (migration 0003): per API, the request rate the client learned its server allows, so the next run
# starts near it instead of learning it again from a conservative start.
marketing_api_rate = Table(
    "MarketingApiRate",
    metadata,
    Column("api", Text, nullable=False),
    Column("requestsPerSecond", Float, nullable=False),
    # Whether the server throttled near that rate (a limit met) or it is only the fastest rate tried.
    Column("limitSeen", Boolean, nullable=False, server_default=text("false")),
    Column("updatedAt", Timestamp3, nullable=False, server_default=NOW),
    PrimaryKeyConstraint("api", name="MarketingApiRate_pkey"),
)
