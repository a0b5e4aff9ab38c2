"""The Dagster instances a daemon runs (`MarketingDagsterDaemon`), as the daemon reports them: the one
seen last is the deployment's. A shell whose instance is another one can then be told so."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from marketing_pipeline.store.database import connect, upsert_into
from marketing_pipeline.store.schema import marketing_dagster_daemon
from marketing_pipeline.store.storable import storable_text


@dataclass(frozen=True)
class DaemonSighting:
    """A Dagster instance a daemon ran, where, and when it last said so (naive UTC)."""

    run_storage_id: str
    dagster_home: str
    host: str
    seen_at: datetime


class DagsterInstancesStore:
    """Part of `SyncStore`: which Dagster instance the deployment's daemon runs."""

    url: str

    def record_daemon(self, run_storage_id: str, dagster_home: str, host: str) -> None:
        """The daemon of this instance is running now."""
        t = marketing_dagster_daemon
        values = {"runStorageId": run_storage_id, "dagsterHome": storable_text(dagster_home), "host": host}
        with connect(self.url) as conn:
            statement = upsert_into(conn, t).values(**values)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[t.c.runStorageId],
                    set_={
                        "dagsterHome": statement.excluded.dagsterHome,
                        "host": statement.excluded.host,
                        "seenAt": func.current_timestamp(),
                    },
                )
            )

    def daemon_instance(self) -> DaemonSighting | None:
        """The instance a daemon was seen running last: the deployment's (None before any daemon ran)."""
        t = marketing_dagster_daemon
        with connect(self.url) as conn:
            row = conn.execute(
                select(t.c.runStorageId, t.c.dagsterHome, t.c.host, t.c.seenAt)
                .order_by(t.c.seenAt.desc(), t.c.runStorageId)
                .limit(1)
            ).first()
        return DaemonSighting(*row) if row else None
