"""Alembic environment: always driven programmatically by `store.migrate`, with a live connection.

On PostgreSQL Alembic's version table lives in our schema with our tables, out of Prisma's sight. Our
schema is created first when missing (Alembic creates its version table before any revision runs), and an
install from before revision 0004 keeps its version table in Prisma's schema: it is moved here before
Alembic looks for it, in the same transaction as the revisions, so a failed upgrade leaves it where it was.
"""

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from marketing_pipeline.store.database import our_schema
from marketing_pipeline.store.schema import OUR_SCHEMA, VERSION_TABLE, metadata


def prepare_our_schema(connection: Connection) -> None:
    # Prisma's tables are in the connection's default schema (`public`), and so are those a revision creates
    # without a schema; a role named like our schema would otherwise make ours the default once it exists.
    prisma_schema = connection.execute(text("SELECT current_schema()")).scalar()
    if prisma_schema in (None, OUR_SCHEMA):
        prisma_schema = "public"
    connection.execute(text("SELECT set_config('search_path', :path, true)"), {"path": f'"{prisma_schema}"'})
    exists = "SELECT 1 FROM pg_namespace WHERE nspname = :schema"
    if connection.execute(text(exists), {"schema": OUR_SCHEMA}).first() is None:
        connection.execute(text(f'CREATE SCHEMA "{OUR_SCHEMA}"'))
    legacy = connection.execute(text(f"SELECT to_regclass('{VERSION_TABLE}')")).scalar()
    ours = connection.execute(text(f"SELECT to_regclass('\"{OUR_SCHEMA}\".{VERSION_TABLE}')")).scalar()
    if legacy is not None and ours is None:
        connection.execute(text(f'ALTER TABLE {VERSION_TABLE} SET SCHEMA "{OUR_SCHEMA}"'))


connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":
    prepare_our_schema(connection)
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    version_table_schema=our_schema(connection),
)
with context.begin_transaction():
    context.run_migrations()
