"""The ledger of sync runs: the MarketingSyncRun row of each orchestrator (Dagster) run.

A run's row is opened once: any step of the run may ask for it, and every step gets the same row, so two
steps of one run never refuse each other. Before a new row is opened, a `running` row left by a run that
is over (crashed, killed, cancelled) is closed as failed; a row whose run is still alive refuses the new
run, which is the database's half of "two runs of one sync never overlap".

Over means known to be over: the orchestrator says the run ended, or the run's worker process is gone from
this host. A run the orchestrator here does not know (launched from another Dagster instance, which this one
cannot see) is not over: it holds the sync until it is `ORPHAN_AFTER` old, or until an operator releases it
(`release`, which refuses while the run is known to be alive).

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

# A `running` row whose run nobody here can see (left by the NestJS app, or launched from another Dagster
# instance) is stale after this long: four times the longest run foreseen (a first sync of 20,000 new people
# at the slowest Encharge limit measured, 10 requests a second: about 70 minutes of writes, 90 in all).
ORPHAN_AFTER = timedelta(hours=6)
ENDED_WITHOUT_RESULT = "the run ended without recording a result (killed or crashed); a later run took over"
WORKER_DIED = "the run's worker process died (killed or crashed)"
ABANDONED = "abandoned: no result after 6 hours"


@dataclass(frozen=True)
class RunSeen:
    """What the orchestrator here knows of a run: its status (None: it does not know the run) and whether
    that status is final."""

    status: str | None
    over: bool = False

    @property
    def known(self) -> bool:
        return self.status is not None


class RunTracker(Protocol):
    """What the ledger asks the orchestrator about the run that holds a row."""

    def look_up(self, run_id: str) -> RunSeen:
        """The run as this orchestrator instance knows it."""
        ...

    def mark_failed(self, run_id: str, why: str) -> None:
        """Record in the orchestrator that a run whose worker died has failed."""
        ...

    def instance_id(self) -> str | None:
        """This orchestrator instance's identity (as run links record it), None when it has none."""
        ...

    def describe(self) -> str:
        """This instance, for people: "this Dagster instance (DAGSTER_HOME=...)"."""
        ...


@dataclass(frozen=True)
class RunStart:
    """How a run began: its orchestrator run id, who started it, and whether it writes."""

    run_id: str
    trigger: Trigger
    dry_run: bool
    instance_id: str | None = None  # the Dagster instance that launched it
    dagster_home: str | None = None


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


def launched_from(row: SyncRun) -> str:
    """Where a run was launched from, as its link recorded it."""
    if row.dagster_home and row.dagster_instance:
        return f"DAGSTER_HOME={row.dagster_home}, run storage {row.dagster_instance[:8]}"
    if row.dagster_home:
        return f"DAGSTER_HOME={row.dagster_home}"
    return "an instance its record does not name"


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
                dagster_instance=start.instance_id,
                dagster_home=start.dagster_home,
            )
        except SyncAlreadyRunningError:
            own = self.store.find_run_by_dagster_id(start.run_id)  # another step of this run got there first
            if own is not None:
                return own
            raise

    def complete(self, row: SyncRun, *, counts: SyncCounts, details: Any, dry_run: bool) -> SyncRun:
        """Record the result. When it cannot be stored, the error says what was already written, so nobody
        takes a failed run for one that changed nothing."""
        done = "nothing was written (dry run)" if dry_run else f"the changes were applied ({summary_line(counts)})"
        return self._finish(row, counts=counts, details=details, dry_run=dry_run, done=done)

    def stopped(self, row: SyncRun, *, counts: SyncCounts, details: Any, reason: str) -> SyncRun:
        """Record a run that stopped before its plan was through (the sync was paused): `failed`, with why,
        and with the counts and per-contact results of what it did write."""
        done = f"some changes were applied ({summary_line(counts)})"
        return self._finish(row, counts=counts, details=details, dry_run=False, done=done, error=reason)

    def _finish(
        self, row: SyncRun, *, counts: SyncCounts, details: Any, dry_run: bool, done: str, error: str | None = None
    ) -> SyncRun:
        status = "failed" if error else "completed"
        try:
            return self.store.finish_run(
                row.id, status=status, counts=counts, details=details, dry_run=dry_run, error_message=error
            )
        except (MarketingPipelineError, SQLAlchemyError, ValueError) as exc:
            reason = one_line(str(getattr(exc, "orig", None) or exc), limit=300)
            raise RunNotRecordedError(f"{done}, but the run record could not be stored: {reason}") from None

    def fail(self, run_id: str, message: str, *, details: dict[str, Any] | None = None) -> SyncRun | None:
        """Mark the row of an orchestrator run failed if it is still `running`; None when it has no row."""
        return self.store.fail_running_run(run_id, message, details=details)

    def _seen(self, row: SyncRun) -> RunSeen:
        """The row's run as known here, a run whose worker is gone from this host marked failed first
        (killed without a daemon watching, a CLI run say: the orchestrator would wait for it forever)."""
        assert row.dagster_run_id
        seen = self.tracker.look_up(row.dagster_run_id)
        if not seen.over and worker_is_dead(row):
            if seen.known:
                self.tracker.mark_failed(row.dagster_run_id, WORKER_DIED)
                seen = self.tracker.look_up(row.dagster_run_id)
            if not seen.known or not seen.over:
                return RunSeen(status=seen.status or "worker gone", over=True)
        if not seen.known and row.dagster_instance and row.dagster_instance == self.tracker.instance_id():
            # Launched from this very instance, which no longer has it: deleted from its run history.
            return RunSeen(status="deleted", over=True)
        return seen

    def _release(self, sync: Sync, holder: SyncRun) -> None:
        """Free the sync from a `running` row whose run is known to be over, or refuse while it may be alive."""
        if not holder.dagster_run_id:
            if utcnow() - holder.started_at < ORPHAN_AFTER:
                raise SyncAlreadyRunningError(
                    f"sync {sync.label!r} has a run {holder.id} in progress that Dagster did not start"
                )
            self.store.finish_run(holder.id, status="failed", error_message=ABANDONED)
            return
        seen = self._seen(holder)
        if seen.over:
            self.store.fail_running_run(holder.dagster_run_id, ENDED_WITHOUT_RESULT)
            return
        if seen.known:
            raise SyncAlreadyRunningError(
                f"sync {sync.label!r} is already running in Dagster run {holder.dagster_run_id}; wait for it to finish"
            )
        if utcnow() - holder.started_at >= ORPHAN_AFTER:
            self.store.fail_running_run(holder.dagster_run_id, ABANDONED)
            return
        # The way out first: the places named after it can be long, and a message is cut at 500 characters.
        raise SyncAlreadyRunningError(
            f"sync {sync.label!r} is already running in Dagster run {holder.dagster_run_id}; if that run is dead, "
            f"free the sync with `marketing-pipeline runs release {holder.id}` (it frees itself 6 hours after it "
            f"started). It was launched from another Dagster instance ({launched_from(holder)}), which "
            f"{self.tracker.describe()} cannot see"
        )

    def release(self, row: SyncRun, *, by: str) -> SyncRun:
        """An operator frees a sync from a `running` row whose run is dead: refused while the run is known
        to be alive here. The row is failed, saying who released it and why that was allowed."""
        if row.status != "running":
            raise MarketingPipelineError(f"run {row.id} is not running ({row.status}): there is nothing to release")
        if not row.dagster_run_id:
            why = "it was not started by Dagster"
        else:
            seen = self._seen(row)
            if seen.known and not seen.over:
                raise SyncAlreadyRunningError(
                    f"Dagster run {row.dagster_run_id} is {seen.status} in {self.tracker.describe()}: it may still "
                    "be writing, so run "
                    f"{row.id} keeps its sync; wait for it, or stop it in the Dagster UI (Runs page, Terminate)"
                )
            why = (
                f"Dagster run {row.dagster_run_id} is {seen.status} in {self.tracker.describe()}"
                if seen.known
                else f"Dagster run {row.dagster_run_id} (launched from {launched_from(row)}) is not known to "
                f"{self.tracker.describe()}"
            )
        return self.store.fail_running_row(row.id, f"released by hand ({by}): {why}")
