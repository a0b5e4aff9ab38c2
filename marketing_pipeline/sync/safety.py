"""The brake: a plan that would empty or gut an audience is not applied without `force`.

It looks at the plan alone (more than `max_removal_fraction` of the tagged people would lose the tag, or
ConnectWise yields nobody while people carry the tag) and at the removals of the last 24 hours (a rolling
window, from the run records), so a loss spread over several runs, each under the limit, is stopped too.
A forced run is the operator's decision about everything removed up to it: the window starts after it.

Written by hand because no library does it: the thresholds and the window are this project's safety rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from marketing_pipeline.sync.plan_types import PlanCounts

DEFAULT_MAX_REMOVAL_FRACTION = 0.2
DEFAULT_WINDOW = timedelta(hours=24)
HOW = (
    "if this is intended, run again with `force: true` in the encharge_audience config, or approve this "
    "plan's hash with `approved_plan_hash`"
)


@dataclass(frozen=True)
class PastRemovals:
    """What the brake needs to know of an earlier, completed (not dry) run of the same sync."""

    finished_at: datetime
    removed: int
    forced: bool


def removed_in_window(past: Sequence[PastRemovals], now: datetime, window: timedelta = DEFAULT_WINDOW) -> int:
    """People the sync took its tag from within `window` before `now`, since the last forced run."""
    recent = [run for run in past if now - window <= run.finished_at <= now]
    forced = [run.finished_at for run in recent if run.forced]
    since = max(forced) if forced else None
    return sum(run.removed for run in recent if since is None or run.finished_at > since)


def brake_reason(
    counts: PlanCounts,
    max_removal_fraction: float = DEFAULT_MAX_REMOVAL_FRACTION,
    *,
    removed_recently: int = 0,
    window: timedelta = DEFAULT_WINDOW,
) -> str | None:
    """Why the plan must not be applied, or None. The message says how to override."""
    if counts.contacts_total == 0 and counts.tagged_before > 0:
        return (
            f"ConnectWise returned no contacts for this sync, but {counts.tagged_before} people carry "
            f"the tag: nothing was applied ({HOW})"
        )
    if counts.tagged_before and counts.remove_tag / counts.tagged_before > max_removal_fraction:
        share = counts.remove_tag / counts.tagged_before
        return (
            f"the plan would remove the tag from {counts.remove_tag} of {counts.tagged_before} people "
            f"({share:.0%}, above the {max_removal_fraction:.0%} limit): nothing was applied ({HOW})"
        )
    if counts.remove_tag and removed_recently:
        # The people tagged when the window opened: those tagged now, and those already untagged in it.
        base = counts.tagged_before + removed_recently
        total = removed_recently + counts.remove_tag
        if total / base > max_removal_fraction:
            hours = window.total_seconds() / 3600
            return (
                f"the plan would remove the tag from {counts.remove_tag} people, and {removed_recently} lost it "
                f"in the last {hours:g} hours: {total} of {base} people ({total / base:.0%}, above the "
                f"{max_removal_fraction:.0%} limit over {hours:g} hours): nothing was applied ({HOW})"
            )
    return None
