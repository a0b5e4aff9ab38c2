"""Glue between Dagster runs and MarketingSyncRun rows: which sync a run is for, who triggered it, the
row at start, and the row marked failed when a step fails for good."""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dagster as dg

from marketing_pipeline.errors import (
    ApiAuthError,
    ApiError,
    MarketingPipelineError,
    SyncAlreadyRunningError,
)
from marketing_pipeline.store.models import Sync, SyncRun
from marketing_pipeline.store.repository import SyncStore, utcnow

APPLY_ASSET = dg.AssetKey("encharge_audience")
TRIGGER_TAG = "marketing/triggered_by"
# A `running` row that no Dagster run owns (one left by the NestJS app, say) is stale after this long.
ORPHAN_AFTER = timedelta(hours=6)


def is_dry_run(run_config: dict[str, Any]) -> bool:
    """The apply step's `dry_run`, read from the run config, so the run's row is marked from the start."""
    ops = run_config.get("ops") or {}
    config = (ops.get(APPLY_ASSET.to_user_string()) or {}).get("config") or {}
    return bool(config.get("dry_run", False))


def triggered_by(run: dg.DagsterRun) -> str:
    tags = run.tags
    if "dagster/backfill" in tags:
        return "backfill"
    if "dagster/schedule_name" in tags:
        return "schedule"
    value = tags.get(TRIGGER_TAG, "manual")
    return value if value in ("manual", "schedule", "backfill") else "manual"


def includes_apply(run: dg.DagsterRun) -> bool:
    """Only runs that apply a plan are sync runs with a MarketingSyncRun row; exploring one asset is not."""
    return not run.asset_selection or APPLY_ASSET in run.asset_selection


def sync_for_partition(context: dg.AssetExecutionContext, store: SyncStore) -> Sync:
    try:
        sync = store.get_sync_by_key(context.partition_key)
        sync.require_runnable()
    except MarketingPipelineError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    return sync


def current_worker() -> dict[str, Any]:
    """The process that runs this Dagster run: the run worker, not a short-lived step subprocess."""
    parent = multiprocessing.parent_process()  # set in the multiprocess executor's step processes
    return {"pid": parent.pid if parent is not None else os.getpid(), "host": socket.gethostname()}


def worker_is_dead(row: SyncRun) -> bool:
    """True only when the row's worker ran on this host and is gone; unknown elsewhere (False)."""
    worker = (row.details or {}).get("worker") if isinstance(row.details, dict) else None
    if not isinstance(worker, dict) or worker.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(worker["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError, TypeError, KeyError):
        return False
    return False


def _release_stale(context: dg.AssetExecutionContext, store: SyncStore, sync: Sync, running: SyncRun) -> None:
    """Free the sync from a `running` row whose Dagster run is over (crashed or killed), or refuse."""
    if running.dagster_run_id:
        other = context.instance.get_run_by_id(running.dagster_run_id)
        if other is not None and not other.is_finished and worker_is_dead(running):
            # Killed without a daemon watching (e.g. a CLI run): Dagster would wait for it forever.
            context.instance.report_run_failed(other, "the run's worker process died (killed or crashed)")
            other = context.instance.get_run_by_id(running.dagster_run_id)
        if other is not None and not other.is_finished:
            raise dg.Failure(
                description=f"sync {sync.label!r} is already running in Dagster run {running.dagster_run_id}; "
                "wait for it to finish",
                allow_retries=False,
            )
        store.fail_running_run(
            running.dagster_run_id,
            "the run ended without recording a result (killed or crashed); a later run took over",
        )
        return
    if utcnow() - running.started_at < ORPHAN_AFTER:
        raise dg.Failure(
            description=f"sync {sync.label!r} has a run {running.id} in progress that Dagster did not start",
            allow_retries=False,
        )
    store.finish_run(running.id, status="failed", error_message="abandoned: no result after 6 hours")


def begin_sync_run(context: dg.AssetExecutionContext, store: SyncStore, sync: Sync) -> SyncRun | None:
    """The run's row, inserted as `running` by whichever step of the run comes first."""
    run = context.run
    if not includes_apply(run):
        return None
    existing = store.find_run_by_dagster_id(run.run_id)
    if existing is not None:
        return existing
    running = store.running_run(sync.id)
    if running is not None:
        _release_stale(context, store, sync, running)
    try:
        return store.start_run(
            sync,
            triggered_by=triggered_by(run),
            dagster_run_id=run.run_id,
            dry_run=is_dry_run(run.run_config),
            details={"worker": current_worker()},
        )
    except SyncAlreadyRunningError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None


@dataclass(frozen=True)
class SyncStep:
    """What every asset of a sync starts with: the store, the sync, the run's row, and the clock."""

    store: SyncStore
    sync: Sync
    run: SyncRun | None
    started: float


def begin_step(context: dg.AssetExecutionContext, store: SyncStore) -> SyncStep:
    sync = sync_for_partition(context, store)
    run = begin_sync_run(context, store, sync)
    return SyncStep(store=store, sync=sync, run=run, started=time.perf_counter())


def _retryable(exc: BaseException) -> bool:
    """Transient API trouble (5xx, timeouts after the client's own retries) may pass; config errors won't."""
    if isinstance(exc, dg.Failure | ApiAuthError):
        return False
    if isinstance(exc, ApiError):
        return exc.status is None or exc.status >= 500 or exc.status == 429
    return not isinstance(exc, MarketingPipelineError)


@contextmanager
def recording_failure(context: dg.AssetExecutionContext, store: SyncStore, retries: int = 0) -> Iterator[None]:
    """Mark the run's row failed when the step fails for the last time; our errors become one-line Failures."""
    try:
        yield
    except Exception as exc:
        final = not _retryable(exc) or context.retry_number >= retries
        if isinstance(exc, dg.Failure):
            message = exc.description or str(exc)
        elif isinstance(exc, MarketingPipelineError):
            message = str(exc)
        else:
            message = f"{type(exc).__name__}: {exc}"
        if not final:
            raise
        try:
            store.fail_running_run(context.run.run_id, message)
        except MarketingPipelineError as store_error:
            context.log.error(f"could not mark the run failed: {store_error}")
        if isinstance(exc, MarketingPipelineError):
            raise dg.Failure(description=message, allow_retries=False) from None
        raise
