"""The adapter over Dagster's internals (`launch/dagster_internals.py`), held to what each use must do, against
a real instance: a Dagster release that moves or changes any of them fails here, by name, first. `.ci/run`
also runs these on the newest Dagster release the project allows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest

from marketing_pipeline.launch import dagster_internals as internals

NAME = "marketing_sync_some_sync"
CRON = "0 6 * * 1"


@pytest.fixture
def temp_instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        yield instance


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def test_a_schedule_toggle_is_read_as_it_was_set(temp_instance: dg.DagsterInstance) -> None:
    assert internals.schedule_toggle(temp_instance, NAME) == internals.Toggle(running=None, started_at=None)

    before = _now() - timedelta(seconds=1)
    internals.set_schedule_toggle(temp_instance, NAME, CRON, True)
    started = internals.schedule_toggle(temp_instance, NAME)
    assert started.running is True
    assert started.started_at is not None and before <= started.started_at <= _now()

    internals.set_schedule_toggle(temp_instance, NAME, CRON, False)  # an existing state is updated
    assert internals.schedule_toggle(temp_instance, NAME) == internals.Toggle(running=False, started_at=None)
    assert internals.schedule_toggle(temp_instance, "marketing_sync_other").running is None
    assert internals.schedule_toggle(temp_instance, NAME, location="another_location").running is None


def test_last_ticks_names_only_instigators_that_are_not_stopped(temp_instance: dg.DagsterInstance) -> None:
    internals.set_schedule_toggle(temp_instance, NAME, CRON, True)
    internals.set_schedule_toggle(temp_instance, "marketing_sync_stopped", CRON, False)
    ticks = internals.last_ticks(temp_instance, {NAME, "marketing_sync_stopped", "not_there"})
    assert ticks == {NAME: 0}  # never ticked


def test_the_run_event_cursors_are_the_daemons_own_and_set_once(temp_instance: dg.DagsterInstance) -> None:
    run_ends = (dg.DagsterEventType.RUN_FAILURE, dg.DagsterEventType.RUN_SUCCESS)
    expected = {f"EVENT_LOG_CONSUMER_CURSOR-{event.value}" for event in run_ends}
    assert set(internals.settle_run_event_cursors(temp_instance)) == expected
    assert temp_instance.daemon_cursor_storage.get_cursor_values(expected) == dict.fromkeys(expected, "0")
    assert internals.settle_run_event_cursors(temp_instance) == []  # present ones are left alone


def test_the_run_storage_id_is_the_instances_own(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "a")) as first:
        one = internals.run_storage_id(first)
        assert one and internals.run_storage_id(first) == one
    with dg.DagsterInstance.local_temp(str(tmp_path / "a")) as again:
        assert internals.run_storage_id(again) == one  # kept by the storage, not made up per process
    with dg.DagsterInstance.local_temp(str(tmp_path / "b")) as other:
        assert internals.run_storage_id(other) not in (None, one)


def test_a_listener_sees_each_step_of_a_run_as_it_goes(temp_instance: dg.DagsterInstance) -> None:
    @dg.op
    def work(context) -> None:  # unannotated: Dagster reads the annotation, a string here
        context.log.info("progress: 1 page")

    @dg.job
    def one_step() -> None:
        work()

    seen: list[str] = []
    internals.listen_to_run(
        temp_instance,
        "0f1e2d3c-0000-4000-8000-000000000001",
        lambda entry: seen.append(entry.dagster_event.event_type_value if entry.dagster_event else entry.user_message),
    )
    assert one_step.execute_in_process(instance=temp_instance, run_id="0f1e2d3c-0000-4000-8000-000000000001").success
    assert seen.index("STEP_START") < seen.index("progress: 1 page") < seen.index("STEP_SUCCESS")


def test_daemon_heartbeats_and_the_daemons_an_instance_needs(temp_instance: dg.DagsterInstance) -> None:
    ages, required = internals.daemon_heartbeat_ages(temp_instance, time.time())
    assert dict(ages) == {}  # no daemon ran here
    assert {"SCHEDULER", "SENSOR"} <= set(required)
