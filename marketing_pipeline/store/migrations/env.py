"""Alembic environment: always driven programmatically by `store.migrate`, with a live connection."""

from alembic import context

from marketing_pipeline.store.schema import metadata

VERSION_TABLE = "marketing_pipeline_alembic_version"

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
