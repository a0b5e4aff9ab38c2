"""Which plans the apply step may act on.

A plan is applied only by the Dagster run that computed it, from reads made in that run: a plan stored by
an earlier run (`encharge_audience` materialized alone in the UI, or a re-execution that reuses an old
plan) describes an Encharge and a ConnectWise that may have moved on, and is refused.

Review, then apply: a dry run shows the plan and its hash; a later run given that hash as
`approved_plan_hash` computes the plan afresh (so it is re-validated against both systems as they are now)
and applies it only if it is exactly the reviewed plan, shown by a dry run of the same sync within
`approval_max_age`. An approved plan is the operator's decision, so it passes the brake.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.sync.plan_types import SyncPlan

DEFAULT_APPROVAL_MAX_AGE = timedelta(hours=24)


def stale_plan_reason(plan: SyncPlan, run_id: str) -> str | None:
    """Why this run must not apply the plan it was handed, or None when the run computed it itself."""
    computed_in = getattr(plan, "computed_in_run", None)  # plans pickled before issue 11 have no provenance
    if computed_in == run_id:
        return None
    computed_at = getattr(plan, "computed_at", None)
    origin = f"Dagster run {computed_in}" if computed_in else "an earlier run"
    when = f" at {computed_at:%Y-%m-%d %H:%M:%S} UTC" if computed_at else ""
    return (
        f"the plan was computed in {origin}{when}, not in this run, and Encharge or ConnectWise may have "
        "changed since: materialize the whole sync (all five assets, or `marketing-pipeline syncs trigger`) "
        "so the plan is computed from fresh reads; nothing was applied"
    )


def approval_problem(
    store: SyncStore,
    sync: Sync,
    plan: SyncPlan,
    approved_hash: str,
    now: datetime,
    max_age: timedelta = DEFAULT_APPROVAL_MAX_AGE,
) -> str | None:
    """Why an approved run must not apply its plan, or None when it is the reviewed plan."""
    approved = approved_hash.strip()
    if plan.fingerprint != approved:
        return (
            f"the plan computed now ({plan.fingerprint}) is not the approved plan ({approved}): ConnectWise or "
            "Encharge changed since it was reviewed; review the new plan with a dry run and approve its hash; "
            "nothing was applied"
        )
    hours = max_age.total_seconds() / 3600
    if store.dry_run_with_plan(sync, approved, now - max_age) is None:
        return (
            f"no dry run of sync {sync.label!r} in the last {hours:g} hours showed the plan {approved}: approve "
            "the hash of a recent dry run; nothing was applied"
        )
    return None
