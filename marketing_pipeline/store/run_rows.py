"""Run records: `MarketingSyncRun` rows (the NestJS app's table), each with its link (ours: the Dagster run,
the dry-run flag, how it was started) and, while it runs, its sync's claim.

Each link also says which Dagster instance launched the run (its run storage's id and DAGSTER_HOME).

This module is the only writer of run rows, and every `running` row it writes claims its sync in
`MarketingSyncRunning` in the same transaction; ending the run releases the claim in the transaction that
ends it. The claim's primary key is the sync, so two of our runs of one sync can never both be `running`.
A claim whose run is no longer `running` (the app or a person closed the row) is stale, and the next start
releases it; one whose row is deleted goes with it (the foreign key cascades).

The row is what Prisma expects: a uuid id, `startedAt`/`completedAt` in milliseconds (naive UTC), `status`
running/completed/failed, `triggeredBy` in the specification's two words (a backfill is `manual`; the link
keeps `backfill`), and `details` always a JSON object (its shape is in the README, "For the NestJS team").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from marketing_pipeline.errors import SyncAlreadyRunningError, UnknownRunError
from marketing_pipeline.store.database import connect
from marketing_pipeline.store.models import Sync, SyncRun
from marketing_pipeline.store.schema import (
    marketing_sync_run,
    marketing_sync_run_link,
    marketing_sync_running,
    marketing_sync_write,
)
from marketing_pipeline.store.storable import NOT_A_NAME, storable_details, storable_message, utcnow
from marketing_pipeline.sync.domain import TRIGGERS, SyncCounts, Trigger
from marketing_pipeline.sync.safety import PastRemovals

RUNS_PAGE_MAX = 500
ENDED = ("completed", "failed")

run = marketing_sync_run
link = marketing_sync_run_link
running = marketing_sync_running
# Not a dry run: a real run of ours, or a run the app recorded (which has no link).
REAL = or_(link.c.dryRun.is_(None), link.c.dryRun.is_(False))


def specification_trigger(trigger: Trigger) -> str:
    """`triggeredBy` as the specification words it: a schedule's run, or one a person started."""
    return "schedule" if trigger == "schedule" else "manual"


def run_rows() -> Select:
    """Runs with what we know of them (link columns None for the app's own rows)."""
    joined = run.outerjoin(link, link.c.runId == run.c.id)
    return select(
        *run.c, link.c.dagsterRunId, link.c.dryRun, link.c.trigger, link.c.dagsterInstance, link.c.dagsterHome
    ).select_from(joined)


def _run_from_row(row: RowMapping) -> SyncRun:
    return SyncRun.model_validate(dict(row))


def _details_object(details: Any) -> dict[str, Any]:
    """`details` as stored: always a JSON object (the app's run-detail page reads it)."""
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise ValueError(f"a run's details are a JSON object, not {type(details).__name__}")
    return dict(details)


def _release(conn: Connection, run_id: str) -> None:
    conn.execute(delete(running).where(running.c.runId == run_id))


def _release_stale_claim(conn: Connection, sync_id: str) -> bool:
    """Drop the sync's claim if its run is no longer `running`; True when one was dropped."""
    stale = conn.execute(
        select(running.c.runId)
        .select_from(running.join(run, run.c.id == running.c.runId))
        .where(running.c.syncId == sync_id)
        .where(run.c.status != "running")
    ).scalar()
    if stale is None:
        return False
    _release(conn, stale)
    return True


class RunRecordsStore:
    """Part of `SyncStore`: the run records."""

    url: str

    def start_run(
        self,
        sync: Sync,
        *,
        trigger: Trigger,
        dagster_run_id: str | None = None,
        dry_run: bool = False,
        details: Mapping[str, Any] | None = None,
        dagster_instance: str | None = None,
        dagster_home: str | None = None,
    ) -> SyncRun:
        """Insert the `running` row and claim the sync. Idempotent per Dagster run; refuses a second running
        run of one sync. `dagster_instance` and `dagster_home` say which Dagster instance launched it."""
        if trigger not in TRIGGERS:
            raise ValueError(f"a run is started by one of {TRIGGERS}, not {trigger!r}")
        if dagster_run_id:
            existing = self.find_run_by_dagster_id(dagster_run_id)
            if existing is not None:
                return existing
        run_id = str(uuid.uuid4())
        recorded = {"dagsterRunId": dagster_run_id, "trigger": trigger, "dryRun": dry_run, **_details_object(details)}

        def insert_running_row(release_stale_claim: bool) -> None:
            with connect(self.url) as conn:
                if release_stale_claim:
                    _release_stale_claim(conn, sync.id)
                conn.execute(
                    insert(run).values(
                        id=run_id,
                        syncId=sync.id,
                        status="running",
                        triggeredBy=specification_trigger(trigger),
                        startedAt=utcnow(),
                        details=storable_details(recorded),
                    )
                )
                conn.execute(
                    insert(link).values(
                        runId=run_id,
                        dagsterRunId=dagster_run_id,
                        dryRun=dry_run,
                        trigger=trigger,
                        dagsterInstance=dagster_instance,
                        dagsterHome=dagster_home,
                    )
                )
                conn.execute(insert(running).values(syncId=sync.id, runId=run_id, claimedAt=utcnow()))

        try:
            insert_running_row(release_stale_claim=False)
        except IntegrityError:
            if dagster_run_id:
                # Another step of the same Dagster run got there first.
                existing = self.find_run_by_dagster_id(dagster_run_id)
                if existing is not None:
                    return existing
            if not self._has_stale_claim(sync.id):
                raise self._already_running(sync) from None
            try:
                insert_running_row(release_stale_claim=True)
            except IntegrityError:
                raise self._already_running(sync) from None
        return self.get_run(run_id)

    def _already_running(self, sync: Sync) -> SyncAlreadyRunningError:
        holder = self.running_run(sync.id)
        named = f" (Dagster run {holder.dagster_run_id})" if holder and holder.dagster_run_id else ""
        return SyncAlreadyRunningError(f"sync {sync.label!r} is already running{named}; wait for it to finish")

    def _has_stale_claim(self, sync_id: str) -> bool:
        with connect(self.url) as conn:
            claimed = conn.execute(
                select(run.c.status)
                .select_from(running.join(run, run.c.id == running.c.runId))
                .where(running.c.syncId == sync_id)
            ).scalar()
        return claimed is not None and claimed != "running"

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        counts: SyncCounts | None = None,
        details: Mapping[str, Any] | None = None,
        error_message: str | None = None,
        dry_run: bool | None = None,
    ) -> SyncRun:
        """End a run as completed or failed and release its sync; `details` are added to those recorded."""
        if status not in ENDED:
            raise ValueError(f"a run finishes as completed or failed, not {status!r}")
        values: dict[str, Any] = {
            "status": status,
            "completedAt": utcnow(),
            "errorMessage": storable_message(error_message),
        }
        if counts is not None:
            values.update(counts.to_json_dict())
        with connect(self.url) as conn:
            current = conn.execute(select(run.c.details).where(run.c.id == run_id)).first()
            if current is None:
                raise UnknownRunError(f"no run {run_id!r}")
            if details is not None or dry_run is not None:
                recorded = current[0] if isinstance(current[0], dict) else {}
                extra = {"dryRun": dry_run} if dry_run is not None else {}
                values["details"] = storable_details({**recorded, **_details_object(details), **extra})
            conn.execute(update(run).where(run.c.id == run_id).values(**values))
            if dry_run is not None:
                conn.execute(update(link).where(link.c.runId == run_id).values(dryRun=dry_run))
            _release(conn, run_id)
        return self.get_run(run_id)

    def fail_running_run(
        self, dagster_run_id: str, error_message: str, *, details: Mapping[str, Any] | None = None
    ) -> SyncRun | None:
        """Mark the row of a Dagster run failed if it is still `running` (used after crashes); `details` are
        added to those recorded. None when the Dagster run has no row."""
        with connect(self.url) as conn:
            run_id = conn.execute(select(link.c.runId).where(link.c.dagsterRunId == dagster_run_id)).scalar()
        if run_id is None:
            return None
        return self.fail_running_row(run_id, error_message, details=details)

    def fail_running_row(self, run_id: str, error_message: str, *, details: Mapping[str, Any] | None = None) -> SyncRun:
        """Mark a run failed, by its id, if it is still `running`, and release its sync."""
        values: dict[str, Any] = {
            "status": "failed",
            "completedAt": utcnow(),
            "errorMessage": storable_message(error_message),
        }
        with connect(self.url) as conn:
            current = conn.execute(select(run.c.details).where(run.c.id == run_id)).first()
            if current is None:
                raise UnknownRunError(f"no run {run_id!r}")
            if details is not None:
                recorded = current[0] if isinstance(current[0], dict) else {}
                values["details"] = storable_details({**recorded, **_details_object(details)})
            conn.execute(update(run).where(run.c.id == run_id).where(run.c.status == "running").values(**values))
            _release(conn, run_id)
        return self.get_run(run_id)

    def get_run(self, ref: str) -> SyncRun:
        """A run by its id or by its Dagster run id."""
        if NOT_A_NAME.search(ref):
            raise UnknownRunError(f"no run {ref!r}")
        with connect(self.url) as conn:
            row = conn.execute(run_rows().where(or_(run.c.id == ref, link.c.dagsterRunId == ref))).mappings().first()
        if row is None:
            raise UnknownRunError(f"no run {ref!r}")
        return _run_from_row(row)

    def find_run_by_dagster_id(self, dagster_run_id: str) -> SyncRun | None:
        with connect(self.url) as conn:
            row = conn.execute(run_rows().where(link.c.dagsterRunId == dagster_run_id)).mappings().first()
        return _run_from_row(row) if row else None

    def running_run(self, sync_id: str) -> SyncRun | None:
        """The sync's `running` row: the one that claims it, else one the app left `running` (oldest)."""
        claimed = select(running.c.runId).where(running.c.syncId == sync_id).scalar_subquery()
        query = (
            run_rows()
            .where(run.c.syncId == sync_id)
            .where(run.c.status == "running")
            .order_by((run.c.id == claimed).desc(), run.c.startedAt, run.c.id)
        )
        with connect(self.url) as conn:
            row = conn.execute(query).mappings().first()
        return _run_from_row(row) if row else None

    def list_runs(self, sync: Sync, *, limit: int = 50, offset: int = 0) -> list[SyncRun]:
        """Newest first."""
        if not 1 <= limit <= RUNS_PAGE_MAX:
            raise ValueError(f"limit must be between 1 and {RUNS_PAGE_MAX}")
        if offset < 0:
            raise ValueError("offset cannot be negative")
        with connect(self.url) as conn:
            rows = conn.execute(
                run_rows()
                .where(run.c.syncId == sync.id)
                .order_by(run.c.startedAt.desc(), run.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).mappings()
            return [_run_from_row(row) for row in rows]

    def count_runs(self, sync: Sync) -> int:
        with connect(self.url) as conn:
            return int(conn.execute(select(func.count()).select_from(run).where(run.c.syncId == sync.id)).scalar())

    def last_run(self, sync: Sync, *, completed_only: bool = False) -> SyncRun | None:
        """The newest run; with `completed_only`, the newest completed real (not dry) run."""
        query = run_rows().where(run.c.syncId == sync.id)
        if completed_only:
            query = query.where(run.c.status == "completed").where(REAL)
        with connect(self.url) as conn:
            row = conn.execute(query.order_by(run.c.startedAt.desc(), run.c.id.desc()).limit(1)).mappings().first()
        return _run_from_row(row) if row else None

    def removals_since(self, sync: Sync, since: datetime) -> list[PastRemovals]:
        """The sync's tag removals since `since`, per run, as the write record holds them whatever became of
        the run (a failed run's removals count); plus, for runs from before the write record (migration
        0006), the removals their completed, real (not dry) records counted."""
        recorded = self.removals_recorded_since(sync, since)  # type: ignore[attr-defined]
        run_ids = [run_id for run_id, _, _ in recorded if run_id is not None]
        forced: dict[str, bool] = {}
        with connect(self.url) as conn:
            if run_ids:
                rows = conn.execute(select(run.c.id, run.c.details["forced"].as_boolean()).where(run.c.id.in_(run_ids)))
                forced = {run_id: bool(flag) for run_id, flag in rows}
            written = select(marketing_sync_write.c.runId).where(marketing_sync_write.c.runId.is_not(None))
            legacy = conn.execute(
                select(run.c.completedAt, run.c.contactsRemoved, run.c.details["forced"].as_boolean())
                .select_from(run.outerjoin(link, link.c.runId == run.c.id))
                .where(run.c.syncId == sync.id)
                .where(run.c.status == "completed")
                .where(REAL)
                .where(run.c.completedAt >= since)
                .where(run.c.contactsRemoved > 0)
                .where(run.c.id.not_in(written.where(marketing_sync_write.c.action == "tag_removed")))
            ).all()
        past = [PastRemovals(at, removed, forced.get(run_id or "", False)) for run_id, at, removed in recorded]
        return past + [PastRemovals(finished_at=at, removed=removed, forced=bool(f)) for at, removed, f in legacy]

    def mark_forced(self, run_id: str) -> None:
        """Note in a run's details, before it writes, that it overrides the brake: the brake's window starts
        after it even when the run does not complete."""
        with connect(self.url) as conn:
            current = conn.execute(select(run.c.details).where(run.c.id == run_id)).scalar()
            recorded = current if isinstance(current, dict) else {}
            conn.execute(
                update(run).where(run.c.id == run_id).values(details=storable_details({**recorded, "forced": True}))
            )

    def dry_run_with_plan(self, sync: Sync, plan_hash: str, since: datetime) -> SyncRun | None:
        """The latest completed dry run of this sync since `since` that showed the plan with this hash."""
        query = (
            run_rows()
            .where(run.c.syncId == sync.id)
            .where(run.c.status == "completed")
            .where(link.c.dryRun.is_(True))
            .where(run.c.completedAt >= since)
            .where(run.c.details["planHash"].as_string() == plan_hash)
            .order_by(run.c.completedAt.desc())
            .limit(1)
        )
        with connect(self.url) as conn:
            row = conn.execute(query).mappings().first()
        return _run_from_row(row) if row else None
