"""Apply the store's Alembic migrations to the database at a URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from marketing_pipeline.store.database import connect

MIGRATIONS = Path(__file__).parent / "migrations"


def upgrade_database(url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with connect(url, create=True) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
