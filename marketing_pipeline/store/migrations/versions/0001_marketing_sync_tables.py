"""MarketingSync and MarketingSyncRun, as Prisma creates them, plus our nullable columns and indexes.

If the NestJS app already created the tables with `prisma db push`, they are kept as they are and only
our nullable columns and indexes are added.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TS3 = sa.DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")
NOW = sa.text("CURRENT_TIMESTAMP")
ZERO = sa.text("0")


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False, server_default=ZERO)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())

    if "MarketingSync" not in tables:
        op.create_table(
            "MarketingSync",
            sa.Column("id", sa.Text(), nullable=False),
            sa.Column("name", sa.Text(), nullable=False),
            sa.Column("description", sa.Text()),
            sa.Column("sourceType", sa.Text(), nullable=False),
            sa.Column("destType", sa.Text(), nullable=False),
            sa.Column("filterConfig", JSON, nullable=False),
            sa.Column("tagName", sa.Text(), nullable=False),
            sa.Column("schedule", sa.Text()),
            sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("true")),
            sa.Column("createdAt", TS3, nullable=False, server_default=NOW),
            sa.Column("updatedAt", TS3, nullable=False),
            sa.Column("key", sa.Text()),
            sa.PrimaryKeyConstraint("id", name="MarketingSync_pkey"),
        )
    elif "key" not in {c["name"] for c in inspector.get_columns("MarketingSync")}:
        op.add_column("MarketingSync", sa.Column("key", sa.Text()))

    if "MarketingSyncRun" not in tables:
        op.create_table(
            "MarketingSyncRun",
            sa.Column("id", sa.Text(), nullable=False),
            sa.Column("syncId", sa.Text(), nullable=False),
            sa.Column("status", sa.Text(), nullable=False),
            sa.Column("triggeredBy", sa.Text(), nullable=False),
            sa.Column("startedAt", TS3, nullable=False, server_default=NOW),
            sa.Column("completedAt", TS3),
            _count("contactsTotal"),
            _count("contactsCreated"),
            _count("contactsUpdated"),
            _count("contactsRemoved"),
            _count("contactsSkipped"),
            _count("contactsFailed"),
            sa.Column("errorMessage", sa.Text()),
            sa.Column("details", JSON),
            sa.Column("dagsterRunId", sa.Text()),
            sa.Column("dryRun", sa.Boolean()),
            sa.PrimaryKeyConstraint("id", name="MarketingSyncRun_pkey"),
            sa.ForeignKeyConstraint(
                ["syncId"],
                ["MarketingSync.id"],
                name="MarketingSyncRun_syncId_fkey",
                ondelete="RESTRICT",
                onupdate="CASCADE",
            ),
        )
    else:
        existing = {c["name"] for c in inspector.get_columns("MarketingSyncRun")}
        if "dagsterRunId" not in existing:
            op.add_column("MarketingSyncRun", sa.Column("dagsterRunId", sa.Text()))
        if "dryRun" not in existing:
            op.add_column("MarketingSyncRun", sa.Column("dryRun", sa.Boolean()))

    op.create_index("MarketingSync_key_key", "MarketingSync", ["key"], unique=True, if_not_exists=True)
    op.create_index(
        "MarketingSyncRun_dagsterRunId_key",
        "MarketingSyncRun",
        ["dagsterRunId"],
        unique=True,
        if_not_exists=True,
    )
    op.create_index(
        "MarketingSyncRun_syncId_startedAt_idx",
        "MarketingSyncRun",
        ["syncId", "startedAt"],
        if_not_exists=True,
    )
    running_only = sa.text("status = 'running'")
    op.create_index(
        "MarketingSyncRun_one_running_per_sync",
        "MarketingSyncRun",
        ["syncId"],
        unique=True,
        postgresql_where=running_only,
        sqlite_where=running_only,
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("MarketingSyncRun")
    op.drop_table("MarketingSync")
