"""How a moment reads for people: in one time zone (the schedules' own), named, so a card or an alert never
mixes UTC run times with local schedule times. Run records keep naive UTC, as Prisma stores them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from marketing_pipeline.sync.schedule import validate_timezone


def in_zone(value: datetime, zone: str) -> datetime:
    """`value` in `zone`; a naive datetime is UTC (the run records' convention)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return aware.astimezone(validate_timezone(zone))


def readable(value: datetime | None, zone: str) -> str:
    """ "2026-05-04 07:00 BST", or "-" for no time."""
    return in_zone(value, zone).strftime("%Y-%m-%d %H:%M %Z") if value is not None else "-"


def readable_age(age: timedelta) -> str:
    """ "40 s", "12 min", "3 h", "2 days": how long ago, roughly."""
    seconds = max(0, int(age.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
