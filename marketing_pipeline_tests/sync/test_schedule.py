"""Cron rules: what Dagster's scheduler accepts, plus "fires at least once a year", held to Dagster's own
check over a large generated corpus."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest
from dagster._utils.schedules import is_valid_cron_string  # Dagster's own rule, for comparison only

from marketing_pipeline.errors import InvalidSyncConfigError
from marketing_pipeline.sync.schedule import cron_problem, validate_cron

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("0 6 1W * *", "'W' (nearest weekday) is not supported"),  # croniter takes it, Dagster refuses it
        ("0 6 15w * *", "'W' (nearest weekday) is not supported"),
        ("0 6 31 2 *", "February has no day 31"),
        ("0 6 30 2 *", "February has no day 30"),
        ("0 6 31 2 1", "February has no day 31"),  # Dagster refuses this one too
        ("0 6 31 4 *", "does not fire at least once a year"),  # Dagster accepts it; it never fires
        ("0 6 31 4,6,9,11 *", "does not fire at least once a year"),
        ("0 6 29 2 *", "does not fire at least once a year"),  # once in four years
        ("0 0 * 2 1#5", "does not fire at least once a year"),  # a fifth Monday in February: rare
        ("0 6 * * 5L", "not a valid cron"),
        ("0 25 * * *", "not a valid cron"),
        ("@daily", "needs 5 fields"),
        ("0 6 * * 1 2026", "needs 5 fields"),
    ],
)
def test_refused(expression: str, reason: str) -> None:
    problem = cron_problem(expression, now=NOW)
    assert problem is not None and reason in problem
    with pytest.raises(InvalidSyncConfigError, match="schedule: "):
        validate_cron(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "0 6 * * 1",
        "30 7 * * *",
        "0 6 1 * *",
        "0 6 28 2 *",
        "0 6 31 * *",
        "0 6 L * *",
        "0 6 * * 1#2",
        "*/15 * * * *",
        "0 6 31 12 *",
        "0 6 30 2,4 *",
        "0 6 * * mon-fri",
        "0 6 1 jan *",
        "  0   6 * * 1  ",
    ],
)
def test_accepted(expression: str) -> None:
    assert cron_problem(expression, now=NOW) is None
    dg.ScheduleDefinition(name="s", cron_schedule=" ".join(expression.split()), job_name="marketing_sync_job")


def _fires_in_dagster_every_year(expression: str) -> bool:
    """Whether Dagster's own tick iterator finds a tick in each of the next eight years."""
    from dagster._utils.schedules import cron_string_iterator

    for year in range(8):
        start = NOW + timedelta(days=365 * year)
        try:
            tick = next(cron_string_iterator(start.timestamp(), expression, "UTC"))
        except Exception:
            return False
        if tick - start > timedelta(days=366):
            return False
    return True


def test_the_rules_are_dagsters_over_a_generated_corpus() -> None:
    """Every expression we accept, Dagster accepts (and builds a schedule from); every one Dagster accepts
    that we refuse, we refuse only because it does not fire every year."""
    atoms = [
        "*",
        "?",
        "L",
        "W",
        "1W",
        "15W",
        "LW",
        "1#2",
        "5#5",
        "5L",
        "0",
        "1",
        "5",
        "7",
        "12",
        "13",
        "23",
        "24",
        "28",
        "29",
        "30",
        "31",
        "59",
        "60",
        "jan",
        "feb",
        "dec",
        "mon",
        "sun",
        "*/5",
        "*/0",
        "*/90",
        "1-5",
        "5-1",
        "1-5/2",
        "3/4",
        "mon-fri",
        "1,2,3",
        "2-L",
        "0-7",
    ]
    rng = random.Random(13)
    accepted = refused_for_rarity = 0
    for _ in range(4000):
        expression = " ".join(rng.choice(atoms) for _ in range(5))
        ours = cron_problem(expression, now=NOW)
        dagsters = is_valid_cron_string(expression)
        if ours is None:
            accepted += 1
            assert dagsters, expression
            assert _fires_in_dagster_every_year(expression), expression
        elif dagsters:
            refused_for_rarity += 1
            assert "does not fire at least once a year" in ours, (expression, ours)
    assert accepted > 50 and refused_for_rarity > 5, (accepted, refused_for_rarity)  # both sides exercised


def test_one_rule_turns_a_schedule_choice_into_cron_and_names_the_part_at_fault() -> None:
    from marketing_pipeline.sync.schedule import ChoiceNames, ScheduleChoiceError, cron_of_choice

    flags = ChoiceNames(frequency="--daily/--weekly/--monthly", weekday="--weekly", month_day="--monthly", time="--at")
    fields = ChoiceNames(frequency="frequency", weekday="day_of_week", month_day="day_of_month", time="time")
    assert cron_of_choice("weekly", weekday="tue", at="07:15", names=flags) == "15 7 * * 2"
    assert cron_of_choice("monthly", month_day=3, names=fields) == "0 6 3 * *"
    assert cron_of_choice("daily", at="23:59", names=fields) == "59 23 * * *"
    wrong = {
        ("daily", None, None, "25:00", flags): "--at '25:00' is not a time like 06:00",
        ("daily", None, None, "25:00", fields): "time '25:00' is not a time like 06:00",
        ("weekly", "someday", None, None, flags): "--weekly 'someday' is not a day (mon, tue, ... sun)",
        ("weekly", None, 3, None, fields): "day_of_month is not taken by a weekly schedule (use day_of_week)",
        ("monthly", "mon", None, None, fields): "day_of_week is not taken by a monthly schedule (use day_of_month)",
        ("monthly", None, 29, None, flags): "--monthly takes a day from 1 to 28 (every month has it)",
        ("daily", "mon", None, None, fields): "day_of_week or day_of_month is not taken by a daily schedule",
    }
    for (frequency, weekday, month_day, at, names), message in wrong.items():
        with pytest.raises(ScheduleChoiceError) as caught:
            cron_of_choice(frequency, weekday=weekday, month_day=month_day, at=at, names=names)
        assert caught.value.detail == message
