"""Typed operations over the MarketingSync / MarketingSyncRun tables. All I/O of the store lives here."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from marketing_pipeline import settings
from marketing_pipeline.errors import (
    InvalidSyncConfigError,
    SyncAlreadyRunningError,
    UnknownRunError,
    UnknownSyncError,
)
from marketing_pipeline.store.database import connect
from marketing_pipeline.store.models import Sync, SyncRun
from marketing_pipeline.store.rates import ApiRateStore
from marketing_pipeline.store.schema import marketing_sync, marketing_sync_run
from marketing_pipeline.store.storable import storable_details, storable_message
from marketing_pipeline.store.tags import clash_of, require_free_tag, tag_clash, tag_key
from marketing_pipeline.store.written import WrittenFieldsStore
from marketing_pipeline.sync.domain import TRIGGERS, FilterConfig, SyncCounts, parse_filter_config, validate_tag_name
from marketing_pipeline.sync.safety import PastRemovals
from marketing_pipeline.sync.schedule import cron_problem, validate_cron

RUNS_PAGE_MAX = 500
_NOT_A_NAME = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def utcnow() -> datetime:
    """Naive UTC with millisecond precision, as Prisma stores `DateTime` in `timestamp(3)`."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "sync"


def validate_sync_name(name: str) -> str:
    """A name shown on cards and in the UI: one line, not empty."""
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned:
        raise InvalidSyncConfigError("a sync's name cannot be empty")
    if _NOT_A_NAME.search(cleaned):
        raise InvalidSyncConfigError(f"the sync name {cleaned!r} contains a control character: give it on one line")
    return cleaned


def _with_clash(conn: Connection, row: RowMapping) -> Sync:
    return _sync_from_row(row, clash_of(conn, row))


def _sync_from_row(row: RowMapping, clash: str | None = None) -> Sync:
    name = row["name"]
    problems: list[str] = []
    filter_config: FilterConfig | None = None
    try:
        filter_config = parse_filter_config(row["filterConfig"], sync_name=name)
    except InvalidSyncConfigError as exc:
        problems.append(str(exc))
    try:
        tag = validate_tag_name(row["tagName"], sync_name=name)
    except InvalidSyncConfigError as exc:
        problems.append(str(exc))
        tag = row["tagName"] or ""
    problem = cron_problem(row["schedule"])
    if problem:
        problems.append(f"sync {name!r}: schedule: {problem}")
    if clash:
        problems.append(clash)
    return Sync(
        id=row["id"],
        key=row["key"],
        name=name,
        description=row["description"],
        source_type=row["sourceType"],
        dest_type=row["destType"],
        filter_config=filter_config,
        tag_name=tag,
        schedule=row["schedule"],
        enabled=row["enabled"],
        created_at=row["createdAt"],
        updated_at=row["updatedAt"],
        problems=problems,
    )


def _run_from_row(row: RowMapping) -> SyncRun:
    return SyncRun.model_validate(dict(row))


class SyncStore(WrittenFieldsStore, ApiRateStore):
    """The marketing store at one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    # --- syncs -----------------------------------------------------------------------------------

    def list_syncs(self) -> list[Sync]:
        with connect(self.url) as conn:
            rows = conn.execute(select(marketing_sync).order_by(marketing_sync.c.createdAt)).mappings().all()
        by_tag: dict[str, list[RowMapping]] = {}
        for row in rows:
            by_tag.setdefault(tag_key(row["tagName"]), []).append(row)
        syncs = []
        for row in rows:
            others = [o for o in by_tag[tag_key(row["tagName"])] if o is not row]
            syncs.append(_sync_from_row(row, tag_clash(row["name"], row["tagName"], others)))
        return syncs

    def get_sync(self, ref: str) -> Sync:
        """A sync by id, key or name (names match case-insensitively)."""
        ref = ref.strip()
        if _NOT_A_NAME.search(ref):  # no row can match, and PostgreSQL refuses a NUL in a query
            raise UnknownSyncError(f"no sync {ref!r}")
        with connect(self.url) as conn:
            row = self._find_sync_row(conn, ref)
            return _with_clash(conn, row)

    def get_sync_by_key(self, key: str) -> Sync:
        """The sync whose stable key is `key` (a Dagster partition key): never by id or name."""
        if _NOT_A_NAME.search(key):
            raise UnknownSyncError(f"no sync {key!r}")
        with connect(self.url) as conn:
            row = conn.execute(select(marketing_sync).where(marketing_sync.c.key == key)).mappings().first()
            if row is None:
                raise UnknownSyncError(f"no sync {key!r}: its MarketingSync row was deleted or its key changed")
            return _with_clash(conn, row)

    def _find_sync_row(self, conn: Connection, ref: str) -> RowMapping:
        t = marketing_sync
        for condition in (t.c.id == ref, t.c.key == ref, func.lower(t.c.name) == ref.lower()):
            rows = conn.execute(select(t).where(condition)).mappings().all()
            if len(rows) == 1:
                return rows[0]
            if len(rows) > 1:
                raise UnknownSyncError(f"{len(rows)} syncs are named {ref!r}; use the id or key instead")
        known = conn.execute(select(t.c.key, t.c.name)).all()
        names = ", ".join(sorted(k or n for k, n in known)) or "none; run `marketing-pipeline init`"
        raise UnknownSyncError(f"no sync {ref!r} (known syncs: {names})")

    def create_sync(
        self,
        *,
        name: str,
        filter_config: Mapping[str, Any],
        tag_name: str,
        schedule: str | None,
        enabled: bool = True,
        description: str | None = None,
        key: str | None = None,
        source_type: str = "connectwise",
        dest_type: str = "encharge",
    ) -> Sync:
        name = validate_sync_name(name)
        parsed = parse_filter_config(dict(filter_config), sync_name=name)
        tag = validate_tag_name(tag_name, sync_name=name)
        cron = validate_cron(schedule, sync_name=name)
        now = utcnow()
        with connect(self.url) as conn:
            require_free_tag(conn, tag, name=name)
            sync_id = str(uuid.uuid4())
            conn.execute(
                insert(marketing_sync).values(
                    id=sync_id,
                    key=key or self._free_key(conn, slugify(name)),
                    name=name,
                    description=description,
                    sourceType=source_type,
                    destType=dest_type,
                    filterConfig=parsed.to_json_dict(),
                    tagName=tag,
                    schedule=cron,
                    enabled=enabled,
                    createdAt=now,
                    updatedAt=now,
                )
            )
            return _with_clash(conn, self._find_sync_row(conn, sync_id))

    def _free_key(self, conn: Connection, base: str) -> str:
        taken = set(conn.execute(select(marketing_sync.c.key).where(marketing_sync.c.key.isnot(None))).scalars())
        key, n = base, 2
        while key in taken:
            key, n = f"{base}-{n}", n + 1
        return key

    def ensure_keys(self) -> list[str]:
        """Give every row without a key (one created by the NestJS app, say) a key from its name."""
        assigned: list[str] = []
        with connect(self.url) as conn:
            rows = conn.execute(
                select(marketing_sync.c.id, marketing_sync.c.name)
                .where(marketing_sync.c.key.is_(None))
                .order_by(marketing_sync.c.createdAt)
            ).all()
            for sync_id, name in rows:
                key = self._free_key(conn, slugify(name))
                conn.execute(update(marketing_sync).where(marketing_sync.c.id == sync_id).values(key=key))
                assigned.append(key)
        return assigned

    def sync_keys(self) -> list[str]:
        """Every sync's stable key (the Dagster partition keys), after giving rows that lack one a key."""
        self.ensure_keys()
        return [sync.key for sync in self.list_syncs() if sync.key]

    def update_sync(
        self,
        ref: str,
        *,
        schedule: str | None = None,
        enabled: bool | None = None,
        tag_name: str | None = None,
        name: str | None = None,
        description: str | None = None,
        filter_config: Mapping[str, Any] | None = None,
    ) -> Sync:
        """Change a sync's schedule, enabled flag, tag, name, description and/or filter, all or nothing: every
        value is checked before anything is written, in one transaction (a tag another sync uses is refused).
        Enabling a sync whose stored cron is unusable (one the NestJS app wrote, say) is refused unless a new
        schedule comes with it: it would never run. An empty description clears it."""
        ref = ref.strip()
        if _NOT_A_NAME.search(ref):
            raise UnknownSyncError(f"no sync {ref!r}")
        with connect(self.url) as conn:
            row = self._find_sync_row(conn, ref)
            values: dict[str, Any] = {}
            if schedule is not None:
                values["schedule"] = validate_cron(schedule, sync_name=row["name"])
            elif enabled and cron_problem(row["schedule"]):
                raise InvalidSyncConfigError(
                    f"sync {row['name']!r} cannot be enabled: schedule: {cron_problem(row['schedule'])}; give a new "
                    "schedule with it"
                )
            if enabled is not None:
                values["enabled"] = enabled
            if tag_name is not None:
                values["tagName"] = validate_tag_name(tag_name, sync_name=row["name"])
                require_free_tag(conn, values["tagName"], name=row["name"], sync_id=row["id"])
            if name is not None:
                values["name"] = validate_sync_name(name)
            if description is not None:
                values["description"] = description.strip() or None
            if filter_config is not None:
                values["filterConfig"] = parse_filter_config(dict(filter_config), sync_name=row["name"]).to_json_dict()
            if values:
                values["updatedAt"] = utcnow()
                conn.execute(update(marketing_sync).where(marketing_sync.c.id == row["id"]).values(**values))
            return _with_clash(conn, self._find_sync_row(conn, row["id"]))

    # --- runs ------------------------------------------------------------------------------------

    def start_run(
        self,
        sync: Sync,
        *,
        triggered_by: str,
        dagster_run_id: str | None = None,
        dry_run: bool = False,
        details: Any = None,
    ) -> SyncRun:
        """Insert the `running` row. Idempotent per Dagster run; refuses a second running run of one sync."""
        if triggered_by not in TRIGGERS:
            raise ValueError(f"triggeredBy must be one of {TRIGGERS}, not {triggered_by!r}")
        if dagster_run_id:
            existing = self.find_run_by_dagster_id(dagster_run_id)
            if existing is not None:
                return existing
        run_id = str(uuid.uuid4())
        try:
            with connect(self.url) as conn:
                conn.execute(
                    insert(marketing_sync_run).values(
                        id=run_id,
                        syncId=sync.id,
                        status="running",
                        triggeredBy=triggered_by,
                        startedAt=utcnow(),
                        dagsterRunId=dagster_run_id,
                        dryRun=dry_run,
                        details=storable_details(details),
                    )
                )
        except IntegrityError:
            if dagster_run_id:
                # Another step of the same Dagster run got there first.
                existing = self.find_run_by_dagster_id(dagster_run_id)
                if existing is not None:
                    return existing
            running = self.running_run(sync.id)
            holder = f" (Dagster run {running.dagster_run_id})" if running and running.dagster_run_id else ""
            raise SyncAlreadyRunningError(
                f"sync {sync.label!r} is already running{holder}; wait for it to finish"
            ) from None
        return self.get_run(run_id)

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        counts: SyncCounts | None = None,
        details: Any = None,
        error_message: str | None = None,
        dry_run: bool | None = None,
    ) -> SyncRun:
        if status not in ("completed", "failed"):
            raise ValueError(f"a run finishes as completed or failed, not {status!r}")
        values: dict[str, Any] = {
            "status": status,
            "completedAt": utcnow(),
            "errorMessage": storable_message(error_message),
        }
        if counts is not None:
            values.update(counts.to_json_dict())
        if details is not None:
            values["details"] = storable_details(details)
        if dry_run is not None:
            values["dryRun"] = dry_run
        with connect(self.url) as conn:
            result = conn.execute(update(marketing_sync_run).where(marketing_sync_run.c.id == run_id).values(**values))
            if result.rowcount == 0:
                raise UnknownRunError(f"no run {run_id!r}")
        return self.get_run(run_id)

    def fail_running_run(self, dagster_run_id: str, error_message: str) -> SyncRun | None:
        """Mark the row of a Dagster run failed if it is still `running` (used after crashes)."""
        with connect(self.url) as conn:
            conn.execute(
                update(marketing_sync_run)
                .where(marketing_sync_run.c.dagsterRunId == dagster_run_id)
                .where(marketing_sync_run.c.status == "running")
                .values(status="failed", completedAt=utcnow(), errorMessage=storable_message(error_message))
            )
        return self.find_run_by_dagster_id(dagster_run_id)

    def get_run(self, ref: str) -> SyncRun:
        """A run by its id or by its Dagster run id."""
        t = marketing_sync_run
        if _NOT_A_NAME.search(ref):
            raise UnknownRunError(f"no run {ref!r}")
        with connect(self.url) as conn:
            row = conn.execute(select(t).where(or_(t.c.id == ref, t.c.dagsterRunId == ref))).mappings().first()
        if row is None:
            raise UnknownRunError(f"no run {ref!r}")
        return _run_from_row(row)

    def find_run_by_dagster_id(self, dagster_run_id: str) -> SyncRun | None:
        t = marketing_sync_run
        with connect(self.url) as conn:
            row = conn.execute(select(t).where(t.c.dagsterRunId == dagster_run_id)).mappings().first()
        return _run_from_row(row) if row else None

    def running_run(self, sync_id: str) -> SyncRun | None:
        t = marketing_sync_run
        with connect(self.url) as conn:
            row = conn.execute(select(t).where(t.c.syncId == sync_id).where(t.c.status == "running")).mappings().first()
        return _run_from_row(row) if row else None

    def list_runs(self, sync: Sync, *, limit: int = 50, offset: int = 0) -> list[SyncRun]:
        """Newest first."""
        if not 1 <= limit <= RUNS_PAGE_MAX:
            raise ValueError(f"limit must be between 1 and {RUNS_PAGE_MAX}")
        if offset < 0:
            raise ValueError("offset cannot be negative")
        t = marketing_sync_run
        with connect(self.url) as conn:
            rows = conn.execute(
                select(t)
                .where(t.c.syncId == sync.id)
                .order_by(t.c.startedAt.desc(), t.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).mappings()
            return [_run_from_row(row) for row in rows]

    def count_runs(self, sync: Sync) -> int:
        t = marketing_sync_run
        with connect(self.url) as conn:
            return int(conn.execute(select(func.count()).select_from(t).where(t.c.syncId == sync.id)).scalar())

    def last_run(self, sync: Sync, *, completed_only: bool = False) -> SyncRun | None:
        t = marketing_sync_run
        query = select(t).where(t.c.syncId == sync.id)
        if completed_only:
            query = query.where(t.c.status == "completed").where(or_(t.c.dryRun.is_(None), t.c.dryRun.is_(False)))
        with connect(self.url) as conn:
            row = conn.execute(query.order_by(t.c.startedAt.desc(), t.c.id.desc()).limit(1)).mappings().first()
        return _run_from_row(row) if row else None

    def removals_since(self, sync: Sync, since: datetime) -> list[PastRemovals]:
        """The tag removals of this sync's completed, real (not dry) runs that finished since `since`."""
        t = marketing_sync_run
        query = (
            select(t.c.completedAt, t.c.contactsRemoved, t.c.details["forced"].as_boolean())
            .where(t.c.syncId == sync.id)
            .where(t.c.status == "completed")
            .where(or_(t.c.dryRun.is_(None), t.c.dryRun.is_(False)))
            .where(t.c.completedAt >= since)
        )
        with connect(self.url) as conn:
            rows = conn.execute(query).all()
        return [PastRemovals(finished_at=at, removed=removed, forced=bool(forced)) for at, removed, forced in rows]

    def dry_run_with_plan(self, sync: Sync, plan_hash: str, since: datetime) -> SyncRun | None:
        """The latest completed dry run of this sync since `since` that showed the plan with this hash."""
        t = marketing_sync_run
        query = (
            select(t)
            .where(t.c.syncId == sync.id)
            .where(t.c.status == "completed")
            .where(t.c.dryRun.is_(True))
            .where(t.c.completedAt >= since)
            .where(t.c.details["planHash"].as_string() == plan_hash)
            .order_by(t.c.completedAt.desc())
            .limit(1)
        )
        with connect(self.url) as conn:
            row = conn.execute(query).mappings().first()
        return _run_from_row(row) if row else None


def open_store() -> SyncStore:
    """The store the environment names: `MARKETING_DATABASE_URL`, else SQLite beside Dagster's storage."""
    return SyncStore(settings.database_url())
