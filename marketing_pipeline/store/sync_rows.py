"""The syncs: `MarketingSync` rows (the NestJS app's table) with their keys (ours), read and written as
`Sync` values. Every value is checked before anything is written."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, RowMapping

from marketing_pipeline.errors import InvalidSyncConfigError, UnknownSyncError
from marketing_pipeline.store.database import connect
from marketing_pipeline.store.keys import assign_missing_keys, insert_key, with_keys
from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.schema import marketing_sync, marketing_sync_key
from marketing_pipeline.store.storable import NOT_A_NAME, utcnow
from marketing_pipeline.store.tag_claims import clash_of, require_free_tag, tag_clash, tag_key
from marketing_pipeline.sync.domain import FilterConfig, parse_filter_config, validate_tag_name
from marketing_pipeline.sync.schedule import cron_problem, validate_cron


def validate_sync_name(name: str) -> str:
    """A name shown on cards and in the UI: one line, not empty."""
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned:
        raise InvalidSyncConfigError("a sync's name cannot be empty")
    if NOT_A_NAME.search(cleaned):
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


def _find_sync_row(conn: Connection, ref: str) -> RowMapping:
    t, k = marketing_sync, marketing_sync_key
    for condition in (t.c.id == ref, k.c.key == ref, func.lower(t.c.name) == ref.lower()):
        rows = conn.execute(with_keys().where(condition)).mappings().all()
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise UnknownSyncError(f"{len(rows)} syncs are named {ref!r}; use the id or key instead")
    known = conn.execute(with_keys(k.c.key, t.c.name)).all()
    names = ", ".join(sorted(key or name for key, name in known)) or "none; run `marketing-pipeline init`"
    raise UnknownSyncError(f"no sync {ref!r} (known syncs: {names})")


class SyncRowsStore:
    """Part of `SyncStore`: the syncs."""

    url: str

    def list_syncs(self) -> list[Sync]:
        """Every sync, oldest first; a row seen for the first time gets its key first."""
        with connect(self.url) as conn:
            rows = conn.execute(with_keys().order_by(marketing_sync.c.createdAt, marketing_sync.c.id)).mappings().all()
        if any(row["key"] is None for row in rows):
            self.ensure_keys()
            with connect(self.url) as conn:
                rows = (
                    conn.execute(with_keys().order_by(marketing_sync.c.createdAt, marketing_sync.c.id)).mappings().all()
                )
        by_tag: dict[str, list[RowMapping]] = {}
        for row in rows:
            by_tag.setdefault(tag_key(row["tagName"]), []).append(row)
        syncs = []
        for row in rows:
            others = [o for o in by_tag[tag_key(row["tagName"])] if o is not row]
            syncs.append(_sync_from_row(row, tag_clash(row["name"], row["tagName"], others)))
        return syncs

    def get_sync(self, ref: str) -> Sync:
        """A sync by id, key or name (names match case-insensitively); a row seen for the first time gets
        its key first."""
        ref = ref.strip()
        if NOT_A_NAME.search(ref):  # no row can match, and PostgreSQL refuses a NUL in a query
            raise UnknownSyncError(f"no sync {ref!r}")
        with connect(self.url) as conn:
            row = _find_sync_row(conn, ref)
            if row["key"] is not None:
                return _with_clash(conn, row)
        self.ensure_keys()
        with connect(self.url) as conn:
            return _with_clash(conn, _find_sync_row(conn, row["id"]))

    def get_sync_by_key(self, key: str) -> Sync:
        """The sync whose stable key is `key` (a Dagster partition key): never by id or name."""
        if NOT_A_NAME.search(key):
            raise UnknownSyncError(f"no sync {key!r}")
        with connect(self.url) as conn:
            row = conn.execute(with_keys().where(marketing_sync_key.c.key == key)).mappings().first()
            if row is None:
                raise UnknownSyncError(f"no sync {key!r}: its MarketingSync row was deleted")
            return _with_clash(conn, row)

    def enabled_state(self, sync_id: str) -> tuple[bool, datetime] | None:
        """`enabled` and `updatedAt` of one sync, read alone (cheap enough to ask between write batches);
        None when the row is gone."""
        t = marketing_sync
        with connect(self.url) as conn:
            row = conn.execute(select(t.c.enabled, t.c.updatedAt).where(t.c.id == sync_id)).first()
        return (bool(row[0]), row[1]) if row else None

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
            insert_key(conn, sync_id, key, name)
            return _with_clash(conn, _find_sync_row(conn, sync_id))

    def ensure_keys(self) -> list[str]:
        """Give every row without a key (one created by the NestJS app, say) a key from its name."""
        return assign_missing_keys(self.url)

    def sync_keys(self) -> list[str]:
        """Every sync's stable key (the Dagster partition keys), after giving rows that lack one a key."""
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
        schedule comes with it: it would never run. An empty description clears it. The key stays."""
        ref = ref.strip()
        if NOT_A_NAME.search(ref):
            raise UnknownSyncError(f"no sync {ref!r}")
        with connect(self.url) as conn:
            row = _find_sync_row(conn, ref)
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
        return self.get_sync(row["id"])
