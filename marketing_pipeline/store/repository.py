"""The marketing store at one database URL: the syncs, the run records, the memory of written fields, the
write record and tag ownership, the learned rates and the daemon's Dagster instance, each kept in its own
module; `SyncStore` is all of them over one URL."""

from __future__ import annotations

from marketing_pipeline import settings
from marketing_pipeline.store.audiences import AudiencesStore
from marketing_pipeline.store.daemon_instances import DagsterInstancesStore
from marketing_pipeline.store.rates import ApiRateStore
from marketing_pipeline.store.run_rows import RUNS_PAGE_MAX, RunRecordsStore
from marketing_pipeline.store.storable import utcnow
from marketing_pipeline.store.sync_rows import SyncRowsStore
from marketing_pipeline.store.write_rows import TagAdoption, WriteRecordStore
from marketing_pipeline.store.written_store import WrittenFieldsStore

__all__ = ["RUNS_PAGE_MAX", "SyncStore", "TagAdoption", "open_store", "utcnow"]


class SyncStore(
    SyncRowsStore,
    RunRecordsStore,
    WrittenFieldsStore,
    WriteRecordStore,
    AudiencesStore,
    ApiRateStore,
    DagsterInstancesStore,
):
    """The marketing store at one database URL."""

    def __init__(self, url: str) -> None:
        self.url = url


def open_store() -> SyncStore:
    """The store the environment names: `MARKETING_DATABASE_URL`, else SQLite beside Dagster's storage."""
    return SyncStore(settings.database_url())
