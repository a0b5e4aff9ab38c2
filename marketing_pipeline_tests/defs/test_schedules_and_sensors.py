"""Schedules built from MarketingSync rows, the registry sensor, and the run-status sensors."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.defs_state.base import set_defs_state_storage
from sqlalchemy import update

from marketing_pipeline.defs.assets import SYNC_ASSETS as ASSETS
from marketing_pipeline.defs.jobs import marketing_sync_job
from marketing_pipeline.defs.resources import MarketingStoreResource, build_resources
from marketing_pipeline.defs.schedules import last_known_path, load_sync_schedules, schedules_behind, sync_schedules
from marketing_pipeline.defs.sensors import mark_canceled_sync_runs, mark_failed_sync_runs, marketing_sync_registry
from marketing_pipeline.defs.sync_partitions import SYNC_PARTITIONS
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.schema import marketing_sync
from marketing_pipeline.store.seed import FIRST_SYNC
from marketing_pipeline_tests.support import SYNC_KEY

TZ = "Europe/London"


def schedule_for(store: SyncStore) -> dg.ScheduleDefinition:
    [schedule] = sync_schedules(store.list_syncs(), TZ)[0]
    return schedule


def tick(schedule: dg.ScheduleDefinition, store: SyncStore, instance: dg.DagsterInstance) -> Any:
    resources = {"marketing_store": MarketingStoreResource(database_url=store.url)}
    instance.add_dynamic_partitions(SYNC_PARTITIONS.name, [SYNC_KEY])
    # Building a repository reads the "current" instance's state storage from a context variable, which in a
    # full suite can still name a disposed instance of an earlier test (as in `support/pipeline.py`).
    with set_defs_state_storage(instance.defs_state_storage):
        repository = dg.Definitions(
            assets=ASSETS, jobs=[marketing_sync_job], schedules=[schedule], resources={**build_resources(), **resources}
        ).get_repository_def()
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(2026, 11, 30, 6, 0, tzinfo=timezone.utc),
        resources=resources,
        repository_def=repository,
    )
    return schedule.evaluate_tick(context)


def test_one_schedule_per_sync_from_its_row(store: SyncStore) -> None:
    schedule = schedule_for(store)
    assert schedule.name == "marketing_sync_managed_client_newsletter"
    assert schedule.cron_schedule == "0 6 * * 1"
    assert schedule.execution_timezone == TZ
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "marketing_sync_job"
    store.update_sync(SYNC_KEY, enabled=False)
    assert schedule_for(store).default_status == dg.DefaultScheduleStatus.STOPPED


def test_a_tick_requests_one_run_for_the_sync_partition(store: SyncStore, instance: dg.DagsterInstance) -> None:
    result = tick(schedule_for(store), store, instance)
    [request] = result.run_requests
    assert request.partition_key == SYNC_KEY
    assert request.run_key == f"{SYNC_KEY}:2026-11-30T06:00:00+00:00"
    assert request.tags["marketing/triggered_by"] == "schedule"


def test_a_tick_rereads_the_row(store: SyncStore, instance: dg.DagsterInstance) -> None:
    schedule = schedule_for(store)
    store.update_sync(SYNC_KEY, enabled=False)
    assert "is paused" in tick(schedule, store, instance).skip_message
    store.update_sync(SYNC_KEY, enabled=True, schedule="0 7 * * *")
    assert "reload the code location" in tick(schedule, store, instance).skip_message


def test_a_bad_cron_gets_no_schedule_and_a_warning(store: SyncStore) -> None:
    store.create_sync(name="Second", filter_config=FIRST_SYNC["filter_config"], tag_name="second", schedule="0 8 * * *")
    with get_engine(store.url).begin() as conn:
        second = marketing_sync.c.id == store.get_sync("second").id
        conn.execute(update(marketing_sync).where(second).values(schedule="0 25 * * *"))
    schedules, warnings = sync_schedules(store.list_syncs(), TZ)
    assert [s.name for s in schedules] == ["marketing_sync_managed_client_newsletter"]
    assert warnings == ["sync 'Second' has no schedule: '0 25 * * *' is not a valid cron expression"]


def test_the_code_location_loads_whatever_the_store_holds(
    store: SyncStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, instance: dg.DagsterInstance
) -> None:
    with get_engine(store.url).begin() as conn:
        conn.execute(update(marketing_sync).values(schedule="not a cron"))
    monkeypatch.setenv("MARKETING_DATABASE_URL", store.url)
    from marketing_pipeline.definitions import defs

    with caplog.at_level(logging.WARNING, logger="marketing_pipeline"):
        loaded = defs()
    assert loaded.get_repository_def().schedule_defs == []
    assert "has no schedule" in caplog.text
    monkeypatch.setenv("MARKETING_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert load_sync_schedules() == []
    monkeypatch.setenv("MARKETING_SCHEDULE_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("MARKETING_DATABASE_URL", store.url)
    assert load_sync_schedules() == []


def test_definitions_resolve_with_schedules(
    store: SyncStore, monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance
) -> None:
    monkeypatch.setenv("MARKETING_DATABASE_URL", store.url)
    from marketing_pipeline.definitions import defs

    repo = defs().get_repository_def()
    assert [s.name for s in repo.schedule_defs] == ["marketing_sync_managed_client_newsletter"]
    assert {j.name for j in repo.get_all_jobs()} >= {"marketing_sync_job"}
    assert {s.name for s in repo.sensor_defs} == {
        "marketing_sync_registry",
        "marketing_sync_schedule_state",
        "mark_failed_sync_runs",
        "mark_canceled_sync_runs",
        "marketing_sync_alerts_on_success",
        "marketing_sync_alerts_on_failure",
    }


def test_registry_sensor_adds_partitions_for_new_rows(store: SyncStore, instance: dg.DagsterInstance) -> None:
    resources = {"marketing_store": MarketingStoreResource(database_url=store.url)}
    result = marketing_sync_registry(dg.build_sensor_context(instance=instance, resources=resources))
    assert [r.partition_keys for r in result.dynamic_partitions_requests] == [[SYNC_KEY]]
    instance.add_dynamic_partitions(SYNC_PARTITIONS.name, [SYNC_KEY])
    store.create_sync(name="Second Sync", filter_config=FIRST_SYNC["filter_config"], tag_name="s2", schedule=None)
    result = marketing_sync_registry(dg.build_sensor_context(instance=instance, resources=resources))
    assert [r.partition_keys for r in result.dynamic_partitions_requests] == [["second-sync"]]
    instance.add_dynamic_partitions(SYNC_PARTITIONS.name, ["second-sync"])
    with get_engine(store.url).begin() as conn:
        second = marketing_sync.c.id == store.get_sync("second-sync").id
        conn.execute(update(marketing_sync).where(second).values(tagName="a,b"))
    skip = marketing_sync_registry(dg.build_sensor_context(instance=instance, resources=resources))
    assert "contains a comma" in skip.skip_message


def test_failure_and_cancel_sensors_close_running_rows(store: SyncStore, instance: dg.DagsterInstance) -> None:
    sync = store.get_sync(SYNC_KEY)
    job = dg.GraphDefinition(name="marketing_sync_job", node_defs=[]).to_job()
    resources = {"marketing_store": MarketingStoreResource(database_url=store.url)}
    for sensor, status in (
        (mark_failed_sync_runs, dg.DagsterRunStatus.FAILURE),
        (mark_canceled_sync_runs, dg.DagsterRunStatus.CANCELED),
    ):
        run = instance.create_run_for_job(job, status=status)
        row = store.start_run(sync, trigger="manual", dagster_run_id=run.run_id)
        event_type = (
            dg.DagsterEventType.RUN_FAILURE
            if status == dg.DagsterRunStatus.FAILURE
            else dg.DagsterEventType.RUN_CANCELED
        )
        instance.report_dagster_event(
            dg.DagsterEvent(event_type.value, job_name=job.name, message="worker process was killed"), run.run_id
        )
        event = instance.get_records_for_run(run.run_id, of_type=event_type).records[0].event_log_entry
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=event.dagster_event,
            resources=resources,
        )
        if status == dg.DagsterRunStatus.FAILURE:
            sensor(context.for_run_failure())
        else:
            sensor(context)
        closed = store.get_run(row.id)
        assert closed.status == "failed" and closed.completed_at is not None
        assert ("worker process was killed" if status == dg.DagsterRunStatus.FAILURE else "cancelled") in (
            closed.error_message or ""
        )


def test_schedules_never_vanish_when_the_store_is_unreachable_at_load(
    store: SyncStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, instance: dg.DagsterInstance
) -> None:
    monkeypatch.setenv("MARKETING_DATABASE_URL", store.url)
    [loaded] = load_sync_schedules()  # a successful load remembers the syncs' schedules
    saved = json.loads(last_known_path().read_text())
    assert saved["syncs"] == [
        {"key": SYNC_KEY, "name": "Managed Client Newsletter", "schedule": "0 6 * * 1", "enabled": True}
    ]
    monkeypatch.setenv("MARKETING_DATABASE_URL", "postgresql://nobody:hunter2@127.0.0.1:1/none")
    with caplog.at_level(logging.WARNING, logger="marketing_pipeline"):
        [kept] = load_sync_schedules()
    assert (kept.name, kept.cron_schedule, kept.default_status) == (
        loaded.name,
        "0 6 * * 1",
        dg.DefaultScheduleStatus.RUNNING,
    )
    assert "WARNING: the marketing database could not be read when the code location loaded" in (kept.description or "")
    assert "last known one" in caplog.text and "hunter2" not in caplog.text + (kept.description or "")
    last_known_path().write_text("{not json")  # a damaged file is no file: no schedules, and a warning
    assert load_sync_schedules() == []


def test_the_loaded_schedules_say_what_they_lag_behind(store: SyncStore) -> None:
    store.create_sync(name="Second", filter_config=FIRST_SYNC["filter_config"], tag_name="second", schedule="0 8 * * *")
    syncs = store.list_syncs()
    loaded = {"marketing_sync_managed_client_newsletter": "0 6 * * 1", "marketing_sync_gone": "0 1 * * *"}
    assert schedules_behind(loaded, syncs) == [
        "marketing_sync_second is new ('0 8 * * *')",
        "marketing_sync_gone no longer has a sync",
    ]
    store.update_sync(SYNC_KEY, schedule="15 7 * * 2")
    assert "marketing_sync_managed_client_newsletter is now '15 7 * * 2'" in schedules_behind(
        loaded, store.list_syncs()
    )


def test_a_tick_right_after_a_ui_resume_runs_before_the_row_follows(
    store: SyncStore, instance: dg.DagsterInstance
) -> None:
    from marketing_pipeline.launch.dagster_internals import schedule_toggle, set_schedule_toggle

    schedule = schedule_for(store)
    store.update_sync(SYNC_KEY, enabled=False)  # paused by the CLI or the NestJS app ...
    assert "is paused" in tick(schedule, store, instance).skip_message
    set_schedule_toggle(instance, schedule.name, str(schedule.cron_schedule), True)  # ... then resumed in the UI
    assert schedule_toggle(instance, schedule.name).running is True
    [request] = tick(schedule, store, instance).run_requests  # the later change wins at once
    assert request.partition_key == SYNC_KEY
    store.update_sync(SYNC_KEY, enabled=False)  # paused again in the table, after the UI resume
    assert "is paused" in tick(schedule, store, instance).skip_message
