"""MarketingSync and MarketingSyncRun, exactly as Prisma creates them, when the NestJS app has not yet.

If the app already created the tables with `prisma db push`, they are kept as they are. Until issue 23
this revision also added our columns and indexes to them (`key`, `dagsterRunId`, `dryRun` and four
indexes); revision 0004 moves those out of Prisma's tables on installs that have them, and this revision
no longer adds them.

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
    tables = set(sa.inspect(op.get_bind()).get_table_names())

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
            sa.PrimaryKeyConstraint("id", name="MarketingSync_pkey"),
        )

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
            sa.PrimaryKeyConstraint("id", name="MarketingSyncRun_pkey"),
            sa.ForeignKeyConstraint(
                ["syncId"],
                ["MarketingSync.id"],
                name="MarketingSyncRun_syncId_fkey",
                ondelete="RESTRICT",
                onupdate="CASCADE",
            ),
        )


def downgrade() -> None:
    op.drop_table("MarketingSyncRun")
    op.drop_table("MarketingSync")
