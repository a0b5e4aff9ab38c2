"""Pause/Resume has two homes: MarketingSync.enabled (the NestJS app, the CLI) and the state of the sync's
Dagster schedule (the UI's toggle). This is the rule that brings them back into agreement.

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
