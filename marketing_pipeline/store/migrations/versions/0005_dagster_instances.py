"""Which Dagster instance each run was launched from, and which instance the daemon runs (issue 22).

`MarketingSyncRunLink` gains `dagsterInstance` (the run storage's id) and `dagsterHome`; runs recorded
before this revision have neither, and are treated as they were (their Dagster run decides). The new table
`MarketingDagsterDaemon` holds the instances a daemon reported, filled by the daemon from its next minute.
Additive only: nothing existing changes.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from marketing_pipeline.store.database import our_schema

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS3 = sa.DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")


def upgrade() -> None:
    schema = our_schema(op.get_bind())
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("MarketingSyncRunLink", schema=schema)}
    for name in ("dagsterInstance", "dagsterHome"):
        if name not in columns:
            op.add_column("MarketingSyncRunLink", sa.Column(name, sa.Text()), schema=schema)
    op.create_table(
        "MarketingDagsterDaemon",
        sa.Column("runStorageId", sa.Text(), nullable=False),
        sa.Column("dagsterHome", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("seenAt", TS3, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.PrimaryKeyConstraint("runStorageId", name="MarketingDagsterDaemon_pkey"),
        schema=schema,
        if_not_exists=True,
    )


def downgrade() -> None:
    schema = our_schema(op.get_bind())
    op.drop_table("MarketingDagsterDaemon", schema=schema)
    with op.batch_alter_table("MarketingSyncRunLink", schema=schema) as batch:  # SQLite rebuilds the table
        batch.drop_column("dagsterHome")
        batch.drop_column("dagsterInstance")
