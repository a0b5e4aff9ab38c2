"""MarketingSyncWrittenFields: what each sync last wrote to each person's synced fields.

A table of ours, in our schema (until issue 23 this revision put it in Prisma's; revision 0004 moves it
on installs that have it there). Deleting a sync (from the NestJS app, say) deletes its memory with it.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from marketing_pipeline.store.database import our_schema

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS3 = sa.DateTime().with_variant(postgresql.TIMESTAMP(precision=3), "postgresql")


def upgrade() -> None:
    # SQLite: no schema, so that the foreign key is made (SQLAlchemy leaves out one across schemas).
    op.create_table(
        "MarketingSyncWrittenFields",
        sa.Column("syncId", sa.Text(), nullable=False),
        sa.Column("emailKey", sa.Text(), nullable=False),
        sa.Column("personId", sa.Text()),
        sa.Column("firstName", sa.Text()),
        sa.Column("lastName", sa.Text()),
        sa.Column("company", sa.Text()),
        sa.Column("writtenAt", TS3, nullable=False, server_default=sa.text("CURRENT_TIMESTAMP")),
        sa.PrimaryKeyConstraint("syncId", "emailKey", name="MarketingSyncWrittenFields_pkey"),
        sa.ForeignKeyConstraint(
            ["syncId"],
            ["MarketingSync.id"],
            name="MarketingSyncWrittenFields_syncId_fkey",
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        schema=our_schema(op.get_bind()),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("MarketingSyncWrittenFields", schema=our_schema(op.get_bind()))
