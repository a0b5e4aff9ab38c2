"""What every asset of a sync does around its own work, in one helper: find the sync of the partition,
open the run's record in the ledger (once per Dagster run), stop a run of a paused sync before it reads or
writes anything (unless the run says `even_if_paused`), time the step, and when the step fails for the last
time, mark the record failed and turn our own errors into a one-line Failure."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import dagster as dg

from marketing_pipeline.defs.pause_resume import sync_is_paused
from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.errors import ApiAuthError, ApiError, MarketingPipelineError, one_line
from marketing_pipeline.launch.instance_identity import identity_of
from marketing_pipeline.runs.ledger import RunSeen, RunStart, SyncRunLedger
from marketing_pipeline.runs.step_progress import StepProgress
from marketing_pipeline.store.models import Sync, SyncRun
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.sync.domain import TRIGGERS, Trigger
from marketing_pipeline.sync.pause import paused_before_writing
from marketing_pipeline.transport.redact import scrub

APPLY_ASSET = dg.AssetKey("encharge_audience")
TRIGGER_TAG = "marketing/triggered_by"
DRY_RUN_TAG = "marketing/dry_run"  # "true" on dry runs, however they were launched
# How Dagster's run retries (run_retries in dagster.yaml) re-execute a crashed run. Its default, from failure,
# reuses the failed run's step outputs, which live on the run worker's disk (gone with a container or pod per
# run) and hold a plan the apply step refuses, being another run's. Every step again instead: the retry reads
# ConnectWise and Encharge afresh and applies its own plan, so the sync converges within the retry.
RETRY_STRATEGY_TAG = "dagster/retry_strategy"
RETRY_ALL_STEPS = "ALL_STEPS"
SYNC_RUN_TAGS = {RETRY_STRATEGY_TAG: RETRY_ALL_STEPS}


def _apply_config(run_config: dict[str, Any]) -> dict[str, Any]:
    ops = run_config.get("ops") or {}
    return (ops.get(APPLY_ASSET.to_user_string()) or {}).get("config") or {}


def is_dry_run(run_config: dict[str, Any]) -> bool:
    """The apply step's `dry_run`, read from the run config, so the run's row is marked from the start."""
    return bool(_apply_config(run_config).get("dry_run", False))


def runs_even_if_paused(run_config: dict[str, Any]) -> bool:
    """The apply step's `even_if_paused`, read by every step: a paused sync's run stops at its first step."""
    return bool(_apply_config(run_config).get("even_if_paused", False))


def mark_dry_run(context: dg.AssetExecutionContext) -> None:
    """Tag a dry run launched with `dry_run: true` in the Launchpad as the CLI tags its own, so the Runs page
    tells dry runs apart (tags can be added while a run runs)."""
    if is_dry_run(context.run.run_config) and context.run.tags.get(DRY_RUN_TAG) != "true":
        context.instance.add_run_tags(context.run.run_id, {DRY_RUN_TAG: "true"})


def mark_retry_strategy(context: dg.AssetExecutionContext) -> None:
    """Runs of the sync job carry the tag from the job; a launch of the assets themselves (Materialize in the
    UI, a backfill) gets it from its first step, before anything can crash in a way worth retrying."""
    if context.run.tags.get(RETRY_STRATEGY_TAG) != RETRY_ALL_STEPS:
        context.instance.add_run_tags(context.run.run_id, SYNC_RUN_TAGS)


def triggered_by(run: dg.DagsterRun) -> Trigger:
    tags = run.tags
    if "dagster/backfill" in tags:
        return "backfill"
    if "dagster/schedule_name" in tags:
        return "schedule"
    value = tags.get(TRIGGER_TAG, "manual")
    return cast(Trigger, value) if value in TRIGGERS else "manual"


def includes_apply(run: dg.DagsterRun) -> bool:
    """Only runs that apply a plan are sync runs with a MarketingSyncRun row; exploring one asset is not."""
    return not run.asset_selection or APPLY_ASSET in run.asset_selection


class InstanceRuns:
    """The ledger's view of Dagster runs, through the instance (which sees only its own runs)."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.identity = identity_of(instance)

    def look_up(self, run_id: str) -> RunSeen:
        run = self.instance.get_run_by_id(run_id)
        return RunSeen(status=None) if run is None else RunSeen(status=run.status.value, over=run.is_finished)

    def mark_failed(self, run_id: str, why: str) -> None:
        run = self.instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            self.instance.report_run_failed(run, why)

    def instance_id(self) -> str | None:
        return self.identity.run_storage_id

    def describe(self) -> str:
        return self.identity.describe()


def ledger_for(store: SyncStore, instance: dg.DagsterInstance) -> SyncRunLedger:
    return SyncRunLedger(store, InstanceRuns(instance))


@dataclass(frozen=True)
class SyncStep:
    store: SyncStore
    ledger: SyncRunLedger
    sync: Sync
    run: SyncRun | None  # None when the Dagster run does not apply a plan (one asset explored alone)
    started: float
    progress: StepProgress  # counts of the step's work, reported to the run's log as they arrive


def _retryable(exc: BaseException) -> bool:
    """Transient API trouble (5xx, timeouts after the client's own retries) may pass; config errors won't."""
    if isinstance(exc, dg.Failure | ApiAuthError):
        return False
    if isinstance(exc, ApiError):
        return exc.status is None or exc.status >= 500 or exc.status == 429
    return not isinstance(exc, MarketingPipelineError)


def _retries_left(context: dg.AssetExecutionContext) -> bool:
    policy = context.job_def.get_retry_policy_for_handle(context.op_execution_context.op_handle)
    return policy is not None and context.retry_number < policy.max_retries


def _message(exc: BaseException) -> str:
    """One plain line without secrets: it goes to the run record, the event log and the CLI."""
    if isinstance(exc, dg.Failure):
        text = exc.description or str(exc)
    elif isinstance(exc, MarketingPipelineError):
        text = str(exc)
    else:
        text = f"unexpected failure: {one_line(str(exc)) or 'no reason given'} (the step's log has the details)"
    return one_line(scrub(text))


def _without_secrets(exc: Exception) -> Exception:
    """The exception itself, or, when its text carries a secret, a plain one with the text scrubbed (Dagster
    keeps an exception's text in the event log, which read-only users see)."""
    text = str(exc)
    if scrub(text) == text:
        return exc
    return RuntimeError(scrub(text))


def _begin(context: dg.AssetExecutionContext, store: SyncStore) -> SyncStep:
    tracker = InstanceRuns(context.instance)
    ledger = SyncRunLedger(store, tracker)
    mark_retry_strategy(context)
    try:
        sync = store.get_sync_by_key(context.partition_key)
        sync.require_runnable()
        run = None
        if includes_apply(context.run):
            mark_dry_run(context)
            identity = tracker.identity
            start = RunStart(
                run_id=context.run.run_id,
                trigger=triggered_by(context.run),
                dry_run=is_dry_run(context.run.run_config),
                instance_id=identity.run_storage_id,
                dagster_home=identity.dagster_home,
            )
            run = ledger.open(sync, start)
    except MarketingPipelineError as exc:
        raise dg.Failure(description=_message(exc), allow_retries=False) from None
    writes = run is not None and not (run.dry_run or runs_even_if_paused(context.run.run_config))
    if writes and sync_is_paused(context.instance, sync):
        # A backfill's partition, a schedule's run that started just after a pause, a run of a sync paused
        # since it began: nothing is read or written, and the record says why.
        message = paused_before_writing(sync.label)
        try:
            ledger.fail(context.run.run_id, message, details={"paused": True})
        except MarketingPipelineError as store_error:
            context.log.error(f"could not mark the run failed: {_message(store_error)}")
        raise dg.Failure(description=message, allow_retries=False)
    progress = StepProgress(context.log.info)
    return SyncStep(store=store, ledger=ledger, sync=sync, run=run, started=time.perf_counter(), progress=progress)


@contextmanager
def sync_step(context: dg.AssetExecutionContext, marketing_store: MarketingStoreResource) -> Iterator[SyncStep]:
    step = _begin(context, marketing_store.store())
    try:
        yield step
    except Exception as exc:
        safe = _without_secrets(exc)
        if _retryable(exc) and _retries_left(context):
            if safe is exc:
                raise
            raise safe from None
        message = _message(exc)
        try:
            step.ledger.fail(context.run.run_id, message)
        except MarketingPipelineError as store_error:
            context.log.error(f"could not mark the run failed: {_message(store_error)}")
        if isinstance(exc, MarketingPipelineError):
            raise dg.Failure(description=message, allow_retries=False) from None
        if safe is exc:
            raise
        raise safe from None
