"""The request rate each API was learned to allow (`MarketingApiRate`), read at the start of a step and
written at its end, so a run starts near the rate the last one reached."""

from __future__ import annotations

import math

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from marketing_pipeline.store.database import connect
from marketing_pipeline.store.schema import marketing_api_rate

APIS = ("connectwise", "encharge")


class ApiRateStore:
    """Part of `SyncStore`: the learned rates."""

    url: str

    def learned_rate(self, api: str) -> float | None:
        t = marketing_api_rate
        with connect(self.url) as conn:
            rate = conn.execute(select(t.c.requestsPerSecond).where(t.c.api == api)).scalar_one_or_none()
        return float(rate) if rate is not None and math.isfinite(rate) and rate > 0 else None

    def record_learned_rate(self, api: str, requests_per_second: float | None) -> None:
        """Remember what a step learned; nothing learned (no limiter, a fixed rate) leaves the memory alone."""
        if api not in APIS:
            raise ValueError(f"no API {api!r}; one of {APIS}")
        if requests_per_second is None or not math.isfinite(requests_per_second) or requests_per_second <= 0:
            return
        t = marketing_api_rate
        with connect(self.url) as conn:
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = dialect.insert(t).values(api=api, requestsPerSecond=float(requests_per_second))
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[t.c.api],
                    set_={
                        "requestsPerSecond": statement.excluded.requestsPerSecond,
                        "updatedAt": func.current_timestamp(),
                    },
                )
            )
