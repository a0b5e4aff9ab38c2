"""MarketingApiRate: the request rate each API was learned to allow, for the next run to start near it.

A new table only; losing it costs one run a conservative start, nothing more.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

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
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("MarketingApiRate")
