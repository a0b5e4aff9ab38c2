"""The memory of what each sync last wrote to each person's synced fields (`sync.written_fields`), in the table
`MarketingSyncWrittenFields`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from marketing_pipeline.store.database import connect, upsert_into
from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.schema import marketing_sync_written
from marketing_pipeline.sync.written_fields import WrittenFields, merged

WRITTEN_CHUNK = 1000


class WrittenFieldsStore:
    """Part of `SyncStore`: read and record the memory."""

    url: str

    def written_fields(self, sync: Sync) -> list[WrittenFields]:
        t = marketing_sync_written
        with connect(self.url) as conn:
            rows = conn.execute(
                select(t.c.emailKey, t.c.personId, t.c.firstName, t.c.lastName, t.c.company, t.c.tagName).where(
                    t.c.syncId == sync.id
                )
            ).all()
        return [WrittenFields(*row) for row in rows]

    def record_written(self, sync: Sync, records: Sequence[WrittenFields]) -> None:
        """Remember what was written; a field a write left alone (None) keeps its remembered value."""
        if not records:
            return
        t = marketing_sync_written
        latest = {r.email_key: r for r in merged(records)}  # one row per person per statement
        values = [
            {
                "syncId": sync.id,
                "emailKey": r.email_key,
                "personId": r.person_id,
                "firstName": r.first_name,
                "lastName": r.last_name,
                "company": r.company,
                "tagName": r.tag,
            }
            for r in latest.values()
        ]
        with connect(self.url) as conn:
            statement = upsert_into(conn, t)
            keep = {
                name: func.coalesce(statement.excluded[name], t.c[name])
                for name in ("personId", "firstName", "lastName", "company", "tagName")
            }
            statement = statement.on_conflict_do_update(
                index_elements=[t.c.syncId, t.c.emailKey], set_={**keep, "writtenAt": func.current_timestamp()}
            )
            for start in range(0, len(values), WRITTEN_CHUNK):
                conn.execute(statement, values[start : start + WRITTEN_CHUNK])
