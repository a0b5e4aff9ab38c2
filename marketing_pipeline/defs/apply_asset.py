"""The apply step as an asset (encharge_audience) and its run config (ApplyConfig): the brake, approval
and the paused check decide whether the plan is written; the outcome goes to the run record and metadata."""

import dataclasses
from datetime import timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from marketing_pipeline.defs.asset_common import GROUP, encharge_client
from marketing_pipeline.defs.pause_resume import pause_watch
from marketing_pipeline.defs.resources import EnchargeResource, MarketingStoreResource
from marketing_pipeline.defs.sync_partitions import SYNC_PARTITIONS
from marketing_pipeline.defs.sync_step import sync_step
from marketing_pipeline.defs.throughput_metadata import APPLY_STEP, throughput_of_run
from marketing_pipeline.errors import one_line
from marketing_pipeline.runs.api_throughput import ApiThroughput
from marketing_pipeline.runs.apply import apply_plan
from marketing_pipeline.runs.approval import approval_problem, stale_plan_reason
from marketing_pipeline.runs.metrics import step_metrics
from marketing_pipeline.runs.write_recorder import WriteRecorder
from marketing_pipeline.store.repository import utcnow
from marketing_pipeline.sync.outcome import SyncOutcome, planned_results
from marketing_pipeline.sync.ownership import adopted_how, ownership_brake
from marketing_pipeline.sync.pause import paused_while_writing
from marketing_pipeline.sync.plan import SyncPlan
from marketing_pipeline.sync.safety import DEFAULT_MAX_REMOVAL_FRACTION, brake_reason, removed_in_window
from marketing_pipeline.sync.write_record import LINKED, WriteEntry

# Writes as the apply step's progress counts them: people in each accepted batch, one per tag call.
WRITE_PROGRESS = {"POST /people": "people upserted", "POST /tags": "tags added", "DELETE /tags": "tags removed"}


class ApplyConfig(dg.Config):
    dry_run: bool = Field(default=False, description="Compute and show the plan; write nothing to Encharge.")
    force: bool = Field(default=False, description="Apply even if the brake would stop the plan.")
    even_if_paused: bool = Field(
        default=False,
        description="Run even though the sync is paused (MarketingSync.enabled = false); without it a paused "
        "sync's run writes nothing, and a run in flight stops before its next write batch when the sync is "
        "paused.",
    )
    max_removal_fraction: float = Field(
        default=DEFAULT_MAX_REMOVAL_FRACTION,
        description="Stop (unless forced) when the plan would untag more than this share of tagged people, "
        "in this run or together with the removals of the last removal_window_hours.",
    )
    removal_window_hours: float = Field(
        default=24.0, description="The rolling window over which removals count towards the brake."
    )
    approved_plan_hash: str | None = Field(
        default=None,
        description="Apply only if the plan computed in this run has this hash (shown by a recent dry run of "
        "the same sync); an approved plan passes the brake.",
    )
    approval_max_age_hours: float = Field(
        default=24.0, description="How recent the dry run that showed the approved plan must be."
    )


@dg.asset(
    partitions_def=SYNC_PARTITIONS,
    group_name=GROUP,
    kinds={"encharge"},
    description="The Encharge audience after the plan is applied: creates, field updates, tags added, this "
    "sync's tag removed from people who left (never deleted, other tags and subscriptions untouched).",
    check_specs=[
        dg.AssetCheckSpec(
            "no_failed_contacts",
            asset="encharge_audience",
            description="Every create, update and tag change of the run succeeded.",
        ),
    ],
)
def encharge_audience(
    context: dg.AssetExecutionContext,
    config: ApplyConfig,
    encharge: EnchargeResource,
    marketing_store: MarketingStoreResource,
    sync_plan: SyncPlan,
):  # returns MaterializeResult (no value); see sync_plan (plan_asset.py) on annotations

    dry_run = config.dry_run
    with sync_step(context, marketing_store) as step:
        sync, run, store = step.sync, step.run, step.store
        stale = stale_plan_reason(sync_plan, context.run.run_id)
        if stale:
            raise dg.Failure(description=f"sync {sync.label!r}: {stale}", allow_retries=False)
        now = utcnow()
        window = timedelta(hours=config.removal_window_hours)
        recent = removed_in_window(store.removals_since(sync, now - window), now, window)
        reasons = (
            brake_reason(sync_plan.counts, config.max_removal_fraction, removed_recently=recent, window=window),
            ownership_brake(sync_plan.ownership, sync.tag_name),
        )
        brake = "; and ".join(reason for reason in reasons if reason) or None
        approved = False
        if config.approved_plan_hash and not dry_run:
            max_age = timedelta(hours=config.approval_max_age_hours)
            problem = approval_problem(store, sync, sync_plan, config.approved_plan_hash, now, max_age)
            if problem:
                raise dg.Failure(description=f"sync {sync.label!r}: {problem}", allow_retries=False)
            approved = True
        overridden = config.force or approved
        if brake and not overridden and not dry_run:
            raise dg.Failure(description=f"sync {sync.label!r}: {brake}", allow_retries=False)
        traffic: dict[str, Any] = {"requests": 0, "throttled_responses": 0}
        stopped = None
        error: Exception | None = None
        forced = not dry_run and (config.force or (approved and brake is not None))
        if dry_run:
            results = planned_results(sync_plan)
        else:
            if forced and run is not None:
                store.mark_forced(run.id)  # the brake's window starts after it, however it ends
            adopted = adopted_how(
                sync_plan.ownership, approved_hash=config.approved_plan_hash if approved else None, forced=config.force
            )
            if adopted:
                store.adopt_tag(sync, adopted)  # the operator's decision, made once
            recorder = WriteRecorder(store, sync, run.id if run is not None else None)
            try:
                with encharge_client(encharge, step.store) as client:
                    client.transport.observers.append(step.progress.responses(WRITE_PROGRESS))
                    if not config.even_if_paused:
                        client.before_write = pause_watch(context.instance, store, sync)
                    applied = apply_plan(client, sync_plan, recorder)
                if applied.stopped is None:  # contacts matched without a write: followed by id from now on
                    recorder([WriteEntry(LINKED, person, email, contact) for contact, person, email in sync_plan.links])
            finally:
                recorder.flush()
            traffic = ApiThroughput.of(client.transport).metadata()
            results, stopped, error = applied.results, applied.stopped, applied.error
            sync_plan = dataclasses.replace(sync_plan, notes=[*sync_plan.notes, *applied.notes])
            store.record_written(sync, applied.written)
        outcome = SyncOutcome(
            plan=sync_plan.counts,
            results=results,
            dry_run=dry_run,
            plan_fingerprint=sync_plan.fingerprint,
            brake=brake,
            forced=forced,
            duplicates=sync_plan.duplicates,
            shared=sync_plan.shared,
            notes=sync_plan.notes,
            reads=sync_plan.reads,
            stopped=stopped,
            tag_ownership=sync_plan.ownership.as_details(),
        )
        counts = outcome.counts()
        if error is not None:
            # A failure no retry fixed stopped the writes: the record shows what was done, then the step fails.
            made, left = outcome.changes_made, outcome.not_sent
            reason = f"the writes stopped part way ({made} change(s) made, {left} not sent): {error}"
            if run is not None:
                details = {**outcome.details(), "throughput": throughput_of_run(context, {APPLY_STEP: traffic})}
                step.ledger.stopped(run, counts=counts, details=details, reason=one_line(reason, limit=480))
            step.progress.done(outcome.summary())
            raise error
        if stopped:
            # Paused while it wrote: what was written is recorded, the rest waits for the next run.
            reason = paused_while_writing(sync.label, outcome.changes_made, outcome.not_sent)
            if run is not None:
                details = {**outcome.details(), "paused": True}
                details["throughput"] = throughput_of_run(context, {APPLY_STEP: traffic})
                step.ledger.stopped(run, counts=counts, details=details, reason=reason)
            step.progress.done(outcome.summary())
            raise dg.Failure(
                description=reason,
                allow_retries=False,
                metadata={"summary": outcome.summary(), **counts.to_json_dict(), "not_sent": outcome.not_sent},
            )
        if run is not None:
            details = {**outcome.details(), "throughput": throughput_of_run(context, {APPLY_STEP: traffic})}
            step.ledger.complete(run, counts=counts, details=details, dry_run=dry_run)
        step.progress.done(outcome.summary())
    failures = outcome.failures
    override_note = f"\n\nBrake overridden: {brake}" if brake and not dry_run else ""
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.md(f"**{outcome.summary()}**{override_note}"),
        "braked": bool(brake),
        **{name: value for name, value in counts.to_json_dict().items()},
        "dry_run": dry_run,
        "write_requests": traffic["requests"],
        **{name: value for name, value in traffic.items() if name != "requests"},
        **step_metrics(step.started),
        "plan_hash": sync_plan.fingerprint,
        "duplicate_addresses": len(sync_plan.duplicates),
    }
    if sync_plan.duplicates:
        metadata["duplicates"] = dg.MetadataValue.md(
            "\n".join(f"- {d['email']}: people {', '.join(d['personIds'])}" for d in sync_plan.duplicates[:50])
        )
    if sync_plan.shared:
        metadata["shared_people"] = dg.MetadataValue.md(_shared_lines(sync_plan.shared))
    if sync_plan.notes:
        metadata["notes"] = dg.MetadataValue.md("\n".join(f"- {note}" for note in sync_plan.notes))
    if run is not None:
        metadata["marketing_sync_run_id"] = run.id
    if failures:
        metadata["failures"] = dg.MetadataValue.md(
            "\n".join(f"- `{f.action}` {f.email}: {f.error}" for f in failures[:50])
        )
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="no_failed_contacts",
                passed=not failures,
                metadata={"failed": len(failures)},
                description=f"{len(failures)} change(s) failed; see the run details" if failures else None,
            )
        ],
    )


def _shared_lines(shared: list[dict[str, Any]]) -> str:
    """People other syncs hold too, each with the sync that owns their fields (the first 50)."""
    lines = [f"- {p['email']}: fields owned by '{p['fieldsOwnedBy']}' (syncs: {', '.join(p['syncs'])})" for p in shared]
    return "\n".join(lines[:50] + ([f"- ... and {len(lines) - 50} more"] if len(lines) > 50 else []))
