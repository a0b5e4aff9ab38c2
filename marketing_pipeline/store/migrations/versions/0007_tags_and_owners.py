"""The spelling of the sync's tag each person was given, and each sync's latest audience (issue 22, findings
3 and 6).

`MarketingSyncWrittenFields` gains `tagName`: the spelling of the sync's tag last added to the person (empty
for older rows: the plan then moves a person carrying another spelling once, as it would have). The new table
`MarketingSyncAudience` holds, per sync, the addresses of its latest audience, the evidence of which other
syncs share a person (filled by each sync's next real run). Additive only: nothing existing changes.

Revision ID: 0007
Revises: 0005 (0006 is issue 22's write record, built alongside; the two are independent)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from marketing_pipeline.store.database import our_schema

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS3 = sa.DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")


def upgrade() -> None:
    schema = our_schema(op.get_bind())
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("MarketingSyncWrittenFields", schema=schema)}
    if "tagName" not in columns:
        op.add_column("MarketingSyncWrittenFields", sa.Column("tagName", sa.Text()), schema=schema)
    op.create_table(
        "MarketingSyncAudience",
        sa.Column("syncId", sa.Text(), nullable=False),
        sa.Column("emailKey", sa.Text(), nullable=False),
        sa.Column("recordedAt", TS3, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.PrimaryKeyConstraint("syncId", "emailKey", name="MarketingSyncAudience_pkey"),
        sa.ForeignKeyConstraint(  # into Prisma's table, found through the search_path as in 0004
            ["syncId"],
            ["MarketingSync.id"],
            name="MarketingSyncAudience_syncId_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        schema=schema,
        if_not_exists=True,
    )


def downgrade() -> None:
    schema = our_schema(op.get_bind())
    op.drop_table("MarketingSyncAudience", schema=schema)
    with op.batch_alter_table("MarketingSyncWrittenFields", schema=schema) as batch:  # SQLite rebuilds the table
        batch.drop_column("tagName")
