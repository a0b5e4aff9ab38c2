"""Each sync's latest audience (`MarketingSyncAudience`): the evidence of which other syncs hold a person,
for the field-owner rule (`sync.owners`)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete

from marketing_pipeline.store.database import connect
from marketing_pipeline.store.keys import with_keys
from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.schema import marketing_sync, marketing_sync_audience, marketing_sync_key
from marketing_pipeline.sync.owners import SyncRank

AUDIENCE_CHUNK = 1000


def rank_of(sync: Sync) -> SyncRank:
    return SyncRank(created_at=sync.created_at, sync_id=sync.id, label=sync.key or sync.name)


class AudiencesStore:
    """Part of `SyncStore`: record a sync's audience, and read which other syncs hold which addresses."""

    url: str

    def record_audience(self, sync: Sync, email_keys: Iterable[str]) -> None:
        """Replace the sync's recorded audience with these addresses, in one transaction (a reader sees the
        old audience or the new one, never half of it)."""
        t = marketing_sync_audience
        values = [{"syncId": sync.id, "emailKey": key} for key in sorted(set(email_keys))]
        with connect(self.url) as conn:
            conn.execute(delete(t).where(t.c.syncId == sync.id))
            for start in range(0, len(values), AUDIENCE_CHUNK):
                conn.execute(t.insert(), values[start : start + AUDIENCE_CHUNK])

    def audience_holders(self, sync: Sync) -> dict[str, list[SyncRank]]:
        """Address -> the other syncs, not paused, whose recorded audience holds it. (A deleted sync's rows
        went with it.)"""
        t, s = marketing_sync_audience, marketing_sync
        query = (
            with_keys(t.c.emailKey, s.c.id, s.c.name, s.c.createdAt, marketing_sync_key.c.key)
            .join(t, t.c.syncId == s.c.id)
            .where(s.c.id != sync.id, s.c.enabled.is_(True))
        )
        holders: dict[str, list[SyncRank]] = {}
        with connect(self.url) as conn:
            for key, sync_id, name, created_at, sync_key in conn.execute(query):
                rank = SyncRank(created_at=created_at, sync_id=sync_id, label=sync_key or name)
                holders.setdefault(key, []).append(rank)
        return holders
