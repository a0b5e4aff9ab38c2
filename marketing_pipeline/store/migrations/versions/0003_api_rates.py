"""MarketingApiRate: the request rate each API was learned to allow, for the next run to start near it.

A table of ours, in our schema (until issue 23 this revision put it in Prisma's; revision 0004 moves it
on installs that have it there); losing it costs one run a conservative start, nothing more.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from marketing_pipeline.store.database import our_schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS3 = sa.DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")


def upgrade() -> None:
    op.create_table(
        "MarketingApiRate",
        sa.Column("api", sa.Text(), nullable=False),
        sa.Column("requestsPerSecond", sa.Float(), nullable=False),
        sa.Column("limitSeen", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("updatedAt", TS3, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.PrimaryKeyConstraint("api", name="MarketingApiRate_pkey"),
        schema=our_schema(op.get_bind()),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("MarketingApiRate", schema=our_schema(op.get_bind()))
