"""Pause/Resume has two homes: MarketingSync.enabled (the NestJS app, the CLI) and the state of the sync's
Dagster schedule (the UI's toggle). This is the rule that brings them back into agreement, the rule that says
whether a sync is paused now, and what a run that a pause stopped says.

Dagster does not store when a schedule was stopped, so the rule remembers what the two sides were the last
time they agreed (`Agreed`): the side that differs from that memory is the side that changed. When both
changed (only possible after a reconciliation that could not be written), the later change wins: the row's
`updatedAt` against the time the schedule was started (Dagster keeps that one); a stopped schedule has no
time, so the row wins then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Winner = Literal["row", "schedule", "none"]


@dataclass(frozen=True)
class Agreed:
    """What both sides said the last time they agreed (or were made to)."""

    enabled: bool
    running: bool


@dataclass(frozen=True)
class Observed:
    enabled: bool  # MarketingSync.enabled
    updated_at: datetime  # MarketingSync.updatedAt (UTC)
    running: bool  # the Dagster schedule's state
    running_since: datetime | None = None  # when the schedule was last started, if Dagster stored it (UTC)
    toggled: bool = False  # the schedule's state was set by a toggle, not left to its default in code


def winner(last: Agreed | None, now: Observed) -> Winner:
    """Which side's value both sides should take: "none" when they already agree."""
    if now.enabled == now.running:
        return "none"
    if last is None:
        # First sight: a schedule left at its default (which follows the row) is out of date; one set by a
        # toggle was set on purpose, and wins unless the row was written after it was started.
        if not now.toggled:
            return "row"
        if not now.running:
            return "schedule"
        return _later(now)
    row_changed = now.enabled != last.enabled
    schedule_changed = now.running != last.running
    if row_changed and not schedule_changed:
        return "row"
    if schedule_changed and not row_changed:
        return "schedule"
    return _later(now)


def _later(now: Observed) -> Winner:
    if now.running and now.running_since is not None and now.running_since > now.updated_at:
        return "schedule"
    return "row"


def enabled_after(last: Agreed | None, now: Observed) -> bool:
    """The value both sides agree on after reconciliation."""
    return now.running if winner(last, now) == "schedule" else now.enabled


# Every message of a run a pause stopped ends with how to run anyway: that sentence tells such a run from a
# failure (alerts say nothing about it), as the brake's own sentence does for a braked run.
EVEN_IF_PAUSED = (
    "to run a paused sync anyway, set `even_if_paused: true` in the encharge_audience config, or use "
    "`syncs trigger SYNC --even-if-paused`"
)
PAUSED = "is paused (MarketingSync.enabled = false)"


def is_paused(enabled: bool, updated_at: datetime, schedule_started_at: datetime | None) -> bool:
    """Whether a sync is paused now: its row says so, unless its schedule was started (the UI's Resume) after
    the row was last written. That resume is the latest word, and the schedule-state sensor is about to
    write it to the row. (A pause with the UI toggle reaches the row the same way, within about 30 s.)"""
    resumed_later = schedule_started_at is not None and schedule_started_at > updated_at
    return not enabled and not resumed_later


def paused_before_writing(sync_label: str) -> str:
    """Why a run of a paused sync ended before it wrote anything."""
    return f"sync {sync_label!r} {PAUSED}, so this run wrote nothing ({EVEN_IF_PAUSED})"


def paused_while_writing(sync_label: str, written: int, not_sent: int) -> str:
    """Why a run stopped before its next write batch: the sync was paused while it wrote."""
    return (
        f"sync {sync_label!r} {PAUSED} since this run began: it stopped before its next write batch with {written} "
        f"change(s) made (recorded in this run) and {not_sent} not sent; resume the sync and the next run "
        f"finishes the work ({EVEN_IF_PAUSED})"
    )


def stopped_by_pause(error: str | None) -> bool:
    """Whether a run's error says a pause stopped it."""
    return bool(error) and EVEN_IF_PAUSED in str(error)
