"""Apply the store's Alembic migrations to the database at a URL, one process at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config

from marketing_pipeline.store.database import connect, exclusive

MIGRATIONS = Path(__file__).parent / "migrations"
SETUP_LOCK = "marketing-pipeline: set up the marketing tables"


@contextmanager
def setting_up(url: str) -> Iterator[None]:
    """Hold the database's set-up lock: two `init`s at once would otherwise both create the tables (and
    both insert the first sync). Not re-entrant: take it once, around the whole set-up."""
    with exclusive(url, SETUP_LOCK):
        yield


def upgrade_database(url: str, revision: str = "head") -> None:
    """Migrate to the newest revision (or to `revision`: an older install, in tests); callers that may run
    concurrently hold `setting_up(url)`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with connect(url, create=True) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
