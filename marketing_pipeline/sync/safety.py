"""The brake: a plan that would empty or gut an audience is not applied without `force`."""

from __future__ import annotations

from marketing_pipeline.sync.plan import PlanCounts

DEFAULT_MAX_REMOVAL_FRACTION = 0.2


def brake_reason(counts: PlanCounts, max_removal_fraction: float = DEFAULT_MAX_REMOVAL_FRACTION) -> str | None:
    """Why the plan must not be applied, or None. The message says how to override."""
    how = "if this is intended, run again with `force: true` in the encharge_audience config"
    if counts.contacts_total == 0 and counts.tagged_before > 0:
        return (
            f"ConnectWise returned no contacts for this sync, but {counts.tagged_before} people carry "
            f"the tag: nothing was applied ({how})"
        )
    if counts.tagged_before and counts.remove_tag / counts.tagged_before > max_removal_fraction:
        share = counts.remove_tag / counts.tagged_before
        return (
            f"the plan would remove the tag from {counts.remove_tag} of {counts.tagged_before} people "
            f"({share:.0%}, above the {max_removal_fraction:.0%} limit): nothing was applied ({how})"
        )
    return None
