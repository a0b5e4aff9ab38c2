"""The write record and tag ownership (issue 22, findings 1, 2, 4 and 5).

`MarketingSyncWrite` records every write a sync makes to Encharge as it is made; `MarketingSyncTagAdoption`
says whether a sync may take its tag from carriers it did not tag. Additive only: nothing existing changes.

Existing installs keep working as before: a sync that completed a real (not dry) run before this revision
has been taking its tag from whoever carried it, with its operators' consent, so it is recorded as owning
its current tag ("it completed real runs before migration 0006"). Runs from before this revision have no
entries in the write record: the brake keeps counting their removals from their records.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from marketing_pipeline.store.database import our_schema

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS3 = sa.DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")
BEFORE = "it completed real runs before migration 0006"


def upgrade() -> None:
    bind = op.get_bind()
    schema = our_schema(bind)
    op.create_table(
        "MarketingSyncWrite",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("syncId", sa.Text(), nullable=False),
        sa.Column("runId", sa.Text()),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("personId", sa.Text()),
        sa.Column("email", sa.Text()),
        sa.Column("contactId", sa.Integer()),
        sa.Column("tag", sa.Text()),
        sa.Column("writtenAt", TS3, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.PrimaryKeyConstraint("id", name="MarketingSyncWrite_pkey"),
        sa.ForeignKeyConstraint(
            ["syncId"],
            ["MarketingSync.id"],
            name="MarketingSyncWrite_syncId_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["runId"],
            ["MarketingSyncRun.id"],
            name="MarketingSyncWrite_runId_fkey",
            ondelete="SET NULL",
            onupdate="CASCADE",
        ),
        schema=schema,
        if_not_exists=True,
    )
    op.create_index(
        "MarketingSyncWrite_syncId_writtenAt_idx",
        "MarketingSyncWrite",
        ["syncId", "writtenAt"],
        schema=schema,
        if_not_exists=True,
    )
    op.create_index("MarketingSyncWrite_runId_idx", "MarketingSyncWrite", ["runId"], schema=schema, if_not_exists=True)
    op.create_table(
        "MarketingSyncTagAdoption",
        sa.Column("syncId", sa.Text(), nullable=False),
        sa.Column("adoptExisting", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        sa.Column("adoptedTag", sa.Text()),
        sa.Column("adoptedAt", TS3),
        sa.Column("adoptedHow", sa.Text()),
        sa.PrimaryKeyConstraint("syncId", name="MarketingSyncTagAdoption_pkey"),
        sa.ForeignKeyConstraint(
            ["syncId"],
            ["MarketingSync.id"],
            name="MarketingSyncTagAdoption_syncId_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        schema=schema,
        if_not_exists=True,
    )
    adoption = f'"{schema}"."MarketingSyncTagAdoption"' if schema else '"MarketingSyncTagAdoption"'
    link = f'"{schema}"."MarketingSyncRunLink"' if schema else '"MarketingSyncRunLink"'
    # Runs the app recorded have no link: they count as real runs, as the brake counts them.
    bind.execute(
        sa.text(
            f'INSERT INTO {adoption} ("syncId", "adoptExisting", "adoptedTag", "adoptedAt", "adoptedHow") '
            'SELECT s."id", false, s."tagName", CURRENT_TIMESTAMP, :how FROM "MarketingSync" s '
            'WHERE EXISTS (SELECT 1 FROM "MarketingSyncRun" r '
            f'LEFT JOIN {link} l ON l."runId" = r."id" '
            'WHERE r."syncId" = s."id" AND r."status" = \'completed\' AND (l."dryRun" IS NULL OR l."dryRun" = false)) '
            f'AND NOT EXISTS (SELECT 1 FROM {adoption} a WHERE a."syncId" = s."id")'
        ),
        {"how": BEFORE},
    )


def downgrade() -> None:
    schema = our_schema(op.get_bind())
    op.drop_table("MarketingSyncTagAdoption", schema=schema)
    op.drop_index("MarketingSyncWrite_runId_idx", table_name="MarketingSyncWrite", schema=schema)
    op.drop_index("MarketingSyncWrite_syncId_writtenAt_idx", table_name="MarketingSyncWrite", schema=schema)
    op.drop_table("MarketingSyncWrite", schema=schema)
