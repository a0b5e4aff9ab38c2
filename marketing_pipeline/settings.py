"""Where configuration comes from. Every environment variable the project reads is named here once."""

from __future__ import annotations

import os
from pathlib import Path

MARKETING_DATABASE_URL = "MARKETING_DATABASE_URL"
MARKETING_SCHEDULE_TIMEZONE = "MARKETING_SCHEDULE_TIMEZONE"
DEFAULT_SCHEDULE_TIMEZONE = "Europe/London"
DEFAULT_DAGSTER_HOME = ".dagster_home"


def dagster_home() -> Path:
    """`$DAGSTER_HOME`, or `./.dagster_home` (the demo's default) when it is unset."""
    value = os.environ.get("DAGSTER_HOME")
    return Path(value) if value else Path.cwd() / DEFAULT_DAGSTER_HOME


def database_url() -> str:
    """The marketing store: `$MARKETING_DATABASE_URL`, else an SQLite file beside Dagster's own storage."""
    value = os.environ.get(MARKETING_DATABASE_URL, "").strip()
    if value:
        return value
    return f"sqlite:///{dagster_home() / 'marketing.db'}"


def schedule_timezone() -> str:
    return os.environ.get(MARKETING_SCHEDULE_TIMEZONE, "").strip() or DEFAULT_SCHEDULE_TIMEZONE
