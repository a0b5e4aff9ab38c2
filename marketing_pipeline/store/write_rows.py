"""The write record (`MarketingSyncWrite`: every write a sync made to Encharge, as it was made) and each
sync's ownership of its tag (`MarketingSyncTagAdoption`). The rules over them are in `sync.write_record` and
`sync.ownership`; this module only reads and writes the rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update

from marketing_pipeline.store.database import connect
from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.schema import marketing_sync_tag_adoption, marketing_sync_write
from marketing_pipeline.store.storable import utcnow
from marketing_pipeline.sync.tags import tag_key
from marketing_pipeline.sync.write_record import TAG_REMOVED, WriteEntry

WRITE_CHUNK = 1000


@dataclass(frozen=True)
class TagAdoption:
    """Whether a sync may take its tag from carriers it did not tag: `adopt_existing` is the operator's
    setting; `adopted_tag`/`adopted_at`/`adopted_how` the moment it took ownership (a run or migration)."""

    adopt_existing: bool = False
    adopted_tag: str | None = None
    adopted_at: datetime | None = None
    adopted_how: str | None = None

    def owns(self, tag: str) -> bool:
        """True when the sync owns `tag`: set to adopt, or it took ownership of this very tag."""
        return self.adopt_existing or (self.adopted_tag is not None and tag_key(self.adopted_tag) == tag_key(tag))


class WriteRecordStore:
    """Part of `SyncStore`: the write record and tag ownership."""

    url: str

    def record_writes(self, sync: Sync, run_id: str | None, entries: Sequence[WriteEntry]) -> None:
        """Append entries (one statement per chunk: a write batch costs one insert)."""
        if not entries:
            return
        t = marketing_sync_write
        now = utcnow()
        values = [
            {
                "syncId": sync.id,
                "runId": run_id,
                "action": e.action,
                "personId": e.person_id,
                "email": e.email,
                "contactId": e.contact_id,
                "tag": e.tag,
                "writtenAt": e.written_at or now,
            }
            for e in entries
        ]
        with connect(self.url) as conn:
            for start in range(0, len(values), WRITE_CHUNK):
                conn.execute(insert(t), values[start : start + WRITE_CHUNK])

    def write_entries(self, sync: Sync, *, run_id: str | None = None) -> list[WriteEntry]:
        """The sync's entries in the order they were written (only one run's, with `run_id`)."""
        t = marketing_sync_write
        query = select(t.c.action, t.c.personId, t.c.email, t.c.contactId, t.c.tag, t.c.writtenAt, t.c.runId).where(
            t.c.syncId == sync.id
        )
        if run_id is not None:
            query = query.where(t.c.runId == run_id)
        with connect(self.url) as conn:
            rows = conn.execute(query.order_by(t.c.id)).all()
        return [WriteEntry(*row) for row in rows]

    def removals_recorded_since(self, sync: Sync, since: datetime) -> list[tuple[str | None, datetime, int]]:
        """Per run (None: a run row since deleted), the last time and the number of removals of the sync's
        tag the write record holds since `since`."""
        t = marketing_sync_write
        query = (
            select(t.c.runId, func.max(t.c.writtenAt), func.count())
            .where(t.c.syncId == sync.id)
            .where(t.c.action == TAG_REMOVED)
            .where(t.c.writtenAt >= since)
            .group_by(t.c.runId)
        )
        with connect(self.url) as conn:
            return [(run_id, at, int(n)) for run_id, at, n in conn.execute(query).all()]

    def tag_adoption(self, sync: Sync) -> TagAdoption:
        t = marketing_sync_tag_adoption
        with connect(self.url) as conn:
            row = conn.execute(
                select(t.c.adoptExisting, t.c.adoptedTag, t.c.adoptedAt, t.c.adoptedHow).where(t.c.syncId == sync.id)
            ).first()
        return TagAdoption(bool(row[0]), row[1], row[2], row[3]) if row else TagAdoption()

    def set_adopt_existing(self, sync: Sync, adopt: bool) -> None:
        """The operator's setting: the sync may (or may no longer) take its tag from carriers it did not tag."""
        self._upsert_adoption(sync, {"adoptExisting": adopt})

    def adopt_tag(self, sync: Sync, how: str) -> None:
        """Record that the sync took ownership of its current tag, and how (an approved plan, a forced run, a
        first run without other carriers, the setting)."""
        self._upsert_adoption(sync, {"adoptedTag": sync.tag_name, "adoptedAt": utcnow(), "adoptedHow": how})

    def _upsert_adoption(self, sync: Sync, values: dict[str, object]) -> None:
        t = marketing_sync_tag_adoption
        with connect(self.url) as conn:
            done = conn.execute(update(t).where(t.c.syncId == sync.id).values(**values)).rowcount
            if not done:
                conn.execute(insert(t).values(syncId=sync.id, **values))
