"""A sync's schedule: five-field cron expressions as Dagster accepts them, their next tick, and the
Settings modal's choices (daily, weekly on a day, monthly on a day, at a time) turned into cron.

A cron is usable when Dagster's scheduler accepts it (its rules are repeated here, so the core needs no
Dagster, and a test holds them to Dagster's own check) and when it fires at least once in every year: a cron
that Dagster accepts but that never fires (`0 6 31 4 *`) or fires once in four years (`0 6 29 2 *`) would
let a sync silently never run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from marketing_pipeline.errors import InvalidSyncConfigError

Frequency = Literal["daily", "weekly", "monthly"]
DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
DEFAULT_TIME = "06:00"
# "Fires at least once within a year", checked over enough years to see every leap-year pattern.
YEAR = timedelta(days=366)
YEARS_CHECKED = 8


def _never_fires_yearly(expression: str, now: datetime) -> bool:
    for year in range(YEARS_CHECKED):
        start = now + timedelta(days=365 * year)
        try:
            tick = croniter(expression, start, max_years_between_matches=1).get_next(datetime)
        except (CroniterError, ValueError, OverflowError):
            return True
        if tick - start > YEAR:
            return True
    return False


def cron_problem(expression: str | None, *, now: datetime | None = None) -> str | None:
    """Why `expression` is not a usable five-field cron, or None if it is (None itself means 'no schedule')."""
    if expression is None:
        return None
    fields = expression.split()
    if len(fields) != 5:
        return f"{expression!r} is not a cron expression: it needs 5 fields (minute hour day month weekday)"
    try:
        valid = croniter.is_valid(expression)
        expanded = croniter.expand(expression)[0] if valid else []
    except (CroniterError, ValueError):
        valid = False
    if not valid or len(expanded) != 5:
        return f"{expression!r} is not a valid cron expression"
    # Dagster's scheduler knows no "nearest weekday" (W), and refuses February 30 and 31 outright.
    if "w" in fields[2].lower():
        return f"{expression!r} is not a cron Dagster accepts: 'W' (nearest weekday) is not supported"
    if expanded[3] == [2] and len(expanded[2]) == 1 and expanded[2][0] in (30, 31):
        return f"{expression!r} is not a cron Dagster accepts: February has no day {expanded[2][0]}"
    if _never_fires_yearly(expression, now or datetime.now(timezone.utc)):
        return f"{expression!r} does not fire at least once a year (no such date, or not in every year)"
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


class ScheduleChoiceError(InvalidSyncConfigError):
    """A Settings choice that makes no schedule. `part` says which ("day" or "time"); the message reads
    after the name of that field, e.g. "'25:00' is not a time like 06:00"."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(f"{part} {message}")
        self.part = part
        self.detail = message


def parse_time(at: str | None) -> tuple[int, int]:
    """(hour, minute) from "HH:MM" (default 06:00)."""
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", (at or DEFAULT_TIME).strip())
    if not match:
        raise ScheduleChoiceError("time", f"{at!r} is not a time like 06:00")
    return int(match.group(1)), int(match.group(2))


def weekday_number(day: str) -> int:
    """Cron's day number (sun=0) for a day name or its first three letters."""
    number = DAYS.get(day.strip().lower()[:3]) if len(day.strip()) >= 3 else None
    if number is None:
        raise ScheduleChoiceError("day", f"{day!r} is not a day (mon, tue, ... sun)")
    return number


def cron_for(frequency: Frequency, *, day: str | int | None = None, at: str | None = None) -> str:
    """The cron of a Settings choice: daily; weekly on a day (mon..sun); monthly on a day (1-28, which every
    month has); at a time of day (HH:MM, default 06:00)."""
    hour, minute = parse_time(at)
    if frequency == "daily":
        if day is not None:
            raise ScheduleChoiceError("day", "is not taken by a daily schedule")
        return f"{minute} {hour} * * *"
    if frequency == "weekly":
        if not isinstance(day, str):
            raise ScheduleChoiceError("day", "is needed for a weekly schedule (mon, tue, ... sun)")
        return f"{minute} {hour} * * {weekday_number(day)}"
    if frequency == "monthly":
        if isinstance(day, str) and day.strip().isdigit():
            day = int(day)
        if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 28:
            raise ScheduleChoiceError("day", "takes a day from 1 to 28 (every month has it)")
        return f"{minute} {hour} {day} * *"
    raise ScheduleChoiceError("frequency", f"{frequency!r} is not one of daily, weekly, monthly")


@dataclass(frozen=True)
class ChoiceNames:
    """What a surface calls each part of a schedule choice (a CLI flag, a config field), for its errors."""

    frequency: str
    weekday: str
    month_day: str
    time: str


def cron_of_choice(
    frequency: Frequency,
    *,
    weekday: str | None = None,
    month_day: int | None = None,
    at: str | None = None,
    names: ChoiceNames,
) -> str:
    """The cron of a schedule choice as the CLI and the Settings job take it (a weekday for weekly, a day of
    the month for monthly, a time): one rule for both. An error reads after the surface's name of the part
    at fault, e.g. "--at '25:00' is not a time like 06:00" or "time '25:00' is not a time like 06:00"."""
    expected = {"weekly": names.weekday, "monthly": names.month_day}.get(frequency)
    given = {names.weekday: weekday, names.month_day: month_day}
    wrong = [name for name, value in given.items() if value is not None and name != expected]
    if expected is not None and wrong:
        raise ScheduleChoiceError("day", f"{wrong[0]} is not taken by a {frequency} schedule (use {expected})")
    day = given.get(expected) if expected else (weekday if weekday is not None else month_day)
    try:
        return cron_for(frequency, day=day, at=at)
    except ScheduleChoiceError as exc:
        name = {"time": names.time, "frequency": names.frequency}.get(exc.part)
        name = name or expected or f"{names.weekday} or {names.month_day}"
        raise ScheduleChoiceError(exc.part, f"{name} {exc.detail}") from None
