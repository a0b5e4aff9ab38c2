"""The request rate each API was learned to allow (`MarketingApiRate`), read at the start of a step and
written at its end, so a run starts near the rate the last one reached."""

from __future__ import annotations

import math

from sqlalchemy import func, select

from marketing_pipeline.store.database import connect, upsert_into
from marketing_pipeline.store.schema import marketing_api_rate
from marketing_pipeline.transport.rate import LearnedRate

APIS = ("connectwise", "encharge")


class ApiRateStore:
    """Part of `SyncStore`: the learned rates."""

    url: str

    def learned_rate(self, api: str) -> LearnedRate | None:
        t = marketing_api_rate
        with connect(self.url) as conn:
            row = conn.execute(select(t.c.requestsPerSecond, t.c.limitSeen).where(t.c.api == api)).one_or_none()
        if row is None:
            return None
        rate, limit_seen = row
        # The NestJS app or a hand edit may have written anything: only a usable rate is trusted.
        if rate is None or not math.isfinite(rate) or rate <= 0:
            return None
        return LearnedRate(float(rate), limit_seen=bool(limit_seen))

    def record_learned_rate(self, api: str, learned: LearnedRate | None) -> None:
        """Remember what a step learned; nothing learned (no limiter, a fixed rate) leaves the memory alone."""
        if api not in APIS:
            raise ValueError(f"no API {api!r}; one of {APIS}")
        if learned is None or not math.isfinite(learned.per_second) or learned.per_second <= 0:
            return
        t = marketing_api_rate
        with connect(self.url) as conn:
            statement = upsert_into(conn, t).values(
                api=api, requestsPerSecond=float(learned.per_second), limitSeen=learned.limit_seen
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[t.c.api],
                    set_={
                        "requestsPerSecond": statement.excluded.requestsPerSecond,
                        "limitSeen": statement.excluded.limitSeen,
                        "updatedAt": func.current_timestamp(),
                    },
                )
            )
