"""The ledger of sync runs: the MarketingSyncRun row of each orchestrator (Dagster) run.

A run's row is opened once: any step of the run may ask for it, and every step gets the same row, so two
steps of one run never refuse each other. Before a new row is opened, a `running` row left by a run that
is over (crashed, killed, cancelled) is closed as failed; a row whose run is still alive refuses the new
run, which is the database's half of "two runs of one sync never overlap".

Nothing here knows Dagster: what the ledger needs to know about other runs comes through `RunTracker`.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from marketing_pipeline.errors import MarketingPipelineError, RunNotRecordedError, SyncAlreadyRunningError, one_line
from marketing_pipeline.store.models import Sync, SyncRun
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.storable import utcnow
from marketing_pipeline.sync.domain import SyncCounts, Trigger
from marketing_pipeline.sync.outcome import summary_line

# A `running` row that no orchestrator run owns (one left by the NestJS app, say) is stale after this long.
ORPHAN_AFTER = timedelta(hours=6)
ENDED_WITHOUT_RESULT = "the run ended without recording a result (killed or crashed); a later run took over"
WORKER_DIED = "the run's worker process died (killed or crashed)"


class RunTracker(Protocol):
    """What the ledger asks the orchestrator about the run that holds a row."""

    def is_finished(self, run_id: str) -> bool:
        """True when the run is over, or unknown to the orchestrator."""
        ...

    def mark_failed(self, run_id: str, why: str) -> None:
        """Record in the orchestrator that a run whose worker died has failed."""
        ...


@dataclass(frozen=True)
class RunStart:
    """How a run began: its orchestrator run id, who started it, and whether it writes."""

    run_id: str
    trigger: Trigger
    dry_run: bool


def current_worker() -> dict[str, Any]:
    """The process that runs this orchestrator run: the run worker, not a short-lived step subprocess."""
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


class SyncRunLedger:
    def __init__(self, store: SyncStore, tracker: RunTracker) -> None:
        self.store = store
        self.tracker = tracker

    def open(self, sync: Sync, start: RunStart) -> SyncRun:
        """The run's `running` row, inserted by the first step that asks and found by every later one."""
        own = self.store.find_run_by_dagster_id(start.run_id)
        if own is not None:
            return own
        holder = self.store.running_run(sync.id)
        if holder is not None and holder.dagster_run_id != start.run_id:
            self._release(sync, holder)
        try:
            return self.store.start_run(
                sync,
                trigger=start.trigger,
                dagster_run_id=start.run_id,
                dry_run=start.dry_run,
                details={"worker": current_worker()},
            )
        except SyncAlreadyRunningError:
            own = self.store.find_run_by_dagster_id(start.run_id)  # another step of this run got there first
            if own is not None:
                return own
            raise

    def complete(self, row: SyncRun, *, counts: SyncCounts, details: Any, dry_run: bool) -> SyncRun:
        """Record the result. When it cannot be stored, the error says what was already written, so nobody
        takes a failed run for one that changed nothing."""
        try:
            return self.store.finish_run(row.id, status="completed", counts=counts, details=details, dry_run=dry_run)
        except (MarketingPipelineError, SQLAlchemyError, ValueError) as exc:
            reason = one_line(str(getattr(exc, "orig", None) or exc), limit=300)
            done = "nothing was written (dry run)" if dry_run else f"the changes were applied ({summary_line(counts)})"
            raise RunNotRecordedError(f"{done}, but the run record could not be stored: {reason}") from None

    def fail(self, run_id: str, message: str) -> SyncRun | None:
        """Mark the row of an orchestrator run failed if it is still `running`; None when it has no row."""
        return self.store.fail_running_run(run_id, message)

    def _release(self, sync: Sync, holder: SyncRun) -> None:
        """Free the sync from a `running` row whose run is over, or refuse while that run is alive."""
        if holder.dagster_run_id:
            finished = self.tracker.is_finished(holder.dagster_run_id)
            if not finished and worker_is_dead(holder):
                # Killed without a daemon watching (a CLI run, say): the orchestrator would wait for it forever.
                self.tracker.mark_failed(holder.dagster_run_id, WORKER_DIED)
                finished = self.tracker.is_finished(holder.dagster_run_id)
            if not finished:
                raise SyncAlreadyRunningError(
                    f"sync {sync.label!r} is already running in Dagster run {holder.dagster_run_id}; "
                    "wait for it to finish"
                )
            self.store.fail_running_run(holder.dagster_run_id, ENDED_WITHOUT_RESULT)
            return
        if utcnow() - holder.started_at < ORPHAN_AFTER:
            raise SyncAlreadyRunningError(
                f"sync {sync.label!r} has a run {holder.id} in progress that Dagster did not start"
            )
        self.store.finish_run(holder.id, status="failed", error_message="abandoned: no result after 6 hours")
