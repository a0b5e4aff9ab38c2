"""The instance `init` writes for production, for real: the sync job on a PostgreSQL-backed Dagster instance."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from marketing_pipeline.launch.home import ensure_dagster_home
from marketing_pipeline.launch.partition_registry import register_sync_partitions
from marketing_pipeline.launch.trigger import trigger_sync
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync

pytestmark = pytest.mark.slow  # a PostgreSQL-backed Dagster instance


def test_sync_job_on_the_production_instance_config(
    pg_database: Callable[[], str], sandboxes: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dagster_db, marketing_db = pg_database(), pg_database()
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", dagster_db)
    assert ensure_dagster_home() == tmp_path.resolve()
    monkeypatch.setenv("MARKETING_DATABASE_URL", marketing_db)
    for name, value in sandboxes.env().items():
        monkeypatch.setenv(name, value)
    initialise_store(marketing_db)
    adopt_first_sync(marketing_db)  # an existing install: the first sync owns its tag
    store = SyncStore(marketing_db)

    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.get_concurrency_config().run_queue_config.tag_concurrency_limits == [
            {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        ]
        register_sync_partitions(instance, store)
        result = trigger_sync(store, SYNC_KEY, instance=instance)
        assert result.success, result.error
        run = instance.get_run_by_id(result.dagster_run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.tags["dagster/partition"] == SYNC_KEY
        materialization = instance.get_latest_materialization_event(dg.AssetKey("encharge_audience"))
        assert materialization is not None
        assert instance.get_dynamic_partitions("marketing_sync") == [SYNC_KEY]

    row = store.get_run(result.dagster_run_id)
    assert (row.status, row.triggered_by, row.contacts_created) == ("completed", "manual", 12)
