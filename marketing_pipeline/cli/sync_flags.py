"""The flags `syncs create` and `syncs update` share: the schedule (--schedule, or --daily/--weekly/--monthly
with --at) and the ConnectWise filter (--filter JSON, or one flag per filter field), each turned into what
the repository takes, or a clear error."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from pydantic.alias_generators import to_camel

from marketing_pipeline.errors import InvalidSyncConfigError, one_line
from marketing_pipeline.sync.schedule import (
    ChoiceNames,
    Frequency,
    ScheduleChoiceError,
    cron_of_choice,
    validate_cron,
)

FLAG_NAMES = ChoiceNames(frequency="--daily/--weekly/--monthly", weekday="--weekly", month_day="--monthly", time="--at")


def cron_from_flags(daily: bool, weekly: str | None, monthly: int | None, at: str | None) -> str | None:
    """The cron of --daily / --weekly DAY / --monthly DAY [--at HH:MM] (`sync.schedule.cron_of_choice`), or
    None when none is given."""
    given: list[Frequency] = [
        frequency
        for frequency, chosen in (("daily", daily), ("weekly", weekly is not None), ("monthly", monthly is not None))
        if chosen
    ]
    if not given:
        if at:
            raise InvalidSyncConfigError("--at goes with --daily, --weekly or --monthly")
        return None
    if len(given) > 1:
        raise InvalidSyncConfigError("choose one of --daily, --weekly and --monthly")
    try:
        return cron_of_choice(given[0], weekday=weekly, month_day=monthly, at=at, names=FLAG_NAMES)
    except ScheduleChoiceError as exc:
        raise InvalidSyncConfigError(exc.detail) from None


FILTER_FLAGS = {
    "company_types": "--company-type",
    "company_exclude_types": "--company-exclude-type",
    "company_statuses": "--company-status",
    "contact_types": "--contact-type",
    "contact_exclude_types": "--contact-exclude-type",
}


def filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--filter JSON, or one flag per filter field (repeatable), on `create` and `update`."""
    for field, flag in reversed(FILTER_FLAGS.items()):
        command = click.option(
            flag, field, type=int, multiple=True, metavar="ID", help=f"filterConfig.{field} (repeat for more)."
        )(command)
    return click.option(
        "--filter",
        "filter_json",
        metavar="JSON",
        help='The whole filterConfig as JSON, e.g. \'{"companyTypes": [1], "companyStatuses": [1], '
        '"contactTypes": [2]}\'.',
    )(command)


def filter_from_options(
    filter_json: str | None, flags: dict[str, tuple[int, ...]], base: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """The filterConfig the options give (flags replace those fields of `base`), or None when none is given.
    The repository checks it (field names, whole numbers, required lists)."""
    given = {field: list(ids) for field, ids in flags.items() if ids}
    if filter_json is not None and given:
        raise InvalidSyncConfigError("give either --filter or the filter flags (--company-type, ...), not both")
    if filter_json is not None:
        try:
            parsed = json.loads(filter_json)
        except ValueError as exc:
            raise InvalidSyncConfigError(f"--filter is not JSON: {one_line(str(exc))}") from None
        if not isinstance(parsed, dict):
            raise InvalidSyncConfigError('--filter must be a JSON object, like {"companyTypes": [1], ...}')
        return parsed
    if not given:
        return None
    merged = {to_camel(field): ids for field, ids in (base or {}).items()}
    merged.update({to_camel(field): ids for field, ids in given.items()})
    return merged


def schedule_from_options(
    schedule: str | None, daily: bool, weekly: str | None, monthly: int | None, at: str | None
) -> str | None:
    friendly = cron_from_flags(daily, weekly, monthly, at)
    if friendly and schedule:
        raise InvalidSyncConfigError("give either --schedule or --daily/--weekly/--monthly, not both")
    cron = friendly or schedule
    if cron is not None:
        validate_cron(cron)
    return cron


def schedule_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        (
            click.option("--schedule", help="A five-field cron expression, e.g. '0 6 * * 1'."),
            click.option("--daily", is_flag=True, help="Every day (with --at)."),
            click.option("--weekly", metavar="DAY", help="Every week on DAY (mon..sun), with --at."),
            click.option("--monthly", type=int, metavar="DAY", help="Every month on DAY (1-28), with --at."),
            click.option(
                "--at", "at", metavar="HH:MM", help="Time of day for --daily/--weekly/--monthly (default 06:00)."
            ),
        )
    ):
        command = option(command)
    return command
