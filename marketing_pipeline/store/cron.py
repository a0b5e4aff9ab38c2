"""Cron expressions for sync schedules: validation that matches what Dagster will accept, and next ticks."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from marketing_pipeline.errors import InvalidSyncConfigError


def cron_problem(expression: str | None) -> str | None:
    """Why `expression` is not a usable five-field cron, or None if it is (None itself means 'no schedule')."""
    if expression is None:
        return None
    fields = expression.split()
    if len(fields) != 5:
        return f"{expression!r} is not a cron expression: it needs 5 fields (minute hour day month weekday)"
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a valid cron expression"
    return None


def validate_cron(expression: str | None, *, sync_name: str = "") -> str | None:
    problem = cron_problem(expression)
    if problem:
        where = f"sync {sync_name!r}: " if sync_name else ""
        raise InvalidSyncConfigError(f"{where}schedule: {problem}")
    return " ".join(expression.split()) if expression is not None else None


def validate_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSyncConfigError(f"timezone: {name!r} is not an IANA time zone") from exc


def next_tick(expression: str, timezone: str, after: datetime) -> datetime:
    """The first tick of `expression` after `after` (an aware datetime), in `timezone`."""
    zone = validate_timezone(timezone)
    return croniter(expression, after.astimezone(zone)).get_next(datetime)
