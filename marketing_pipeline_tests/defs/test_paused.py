"""A paused sync writes nothing unless the run says so (`even_if_paused: true`): a backfill's run of a paused
partition, a schedule's run that starts just after a pause and a run in flight when the sync is paused all
stop before writing (their next write batch, for the run in flight), say why in the run record and the
Dagster run, and leave what was already written recorded."""

from __future__ import annotations

import threading
import time
from typing import Any

import dagster as dg
import pytest

from marketing_pipeline.defs.dagster_names import schedule_name
from marketing_pipeline.runs import pause_watch
from marketing_pipeline.sandbox.dataset import TAG
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import FIRST_SYNC
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.convergence import assert_converged
from marketing_pipeline_tests.support.pipeline import Pipeline, step_failure

PAUSED = "is paused (MarketingSync.enabled = false)"
HOW_TO_FORCE = "even_if_paused: true"


def assert_stopped_for_the_pause(pipeline: Pipeline, result: dg.ExecuteInProcessResult, key: str = SYNC_KEY) -> None:
    """The Dagster run failed saying why, and so does the sync's run record (machine-readably too)."""
    assert not result.success
    assert PAUSED in step_failure(result) and HOW_TO_FORCE in step_failure(result)
    run = pipeline.last_run(key)
    assert run.dagster_run_id == result.run_id
    assert run.status == "failed" and run.completed_at is not None
    assert PAUSED in run.error_message and HOW_TO_FORCE in run.error_message
    assert run.details["paused"] is True


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_backfill_skips_the_partition_of_a_paused_sync_and_says_why(pipeline: Pipeline) -> None:
    store: SyncStore = pipeline.store
    other = store.create_sync(
        name="Partner Digest", filter_config=FIRST_SYNC["filter_config"], tag_name="partner-digest", schedule=None
    )
    pipeline.instance.add_dynamic_partitions("marketing_sync", [other.key])
    store.update_sync(SYNC_KEY, enabled=False)
    backfill = {"dagster/backfill": "all-syncs"}
    before = pipeline.boxes.encharge.snapshot()

    paused = pipeline.run(key=SYNC_KEY, tags=backfill)

    assert pipeline.writes() == 0 and pipeline.boxes.encharge.snapshot() == before
    assert_stopped_for_the_pause(pipeline, paused)
    assert pipeline.last_run().trigger == "backfill"
    # Nothing was read either: the first step stopped the run.
    assert pipeline.boxes.connectwise.request_count() == 0
    # The backfill's other partition, an active sync, runs as usual.
    active = pipeline.run(key=other.key, tags=backfill)
    assert active.success and pipeline.last_run(other.key).status == "completed"
    assert pipeline.writes() > 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_schedule_run_that_starts_just_after_a_pause_writes_nothing(pipeline: Pipeline) -> None:
    store: SyncStore = pipeline.store
    store.update_sync(SYNC_KEY, enabled=False)  # paused after the tick requested the run
    scheduled = {"dagster/schedule_name": schedule_name(SYNC_KEY), "marketing/triggered_by": "schedule"}
    result = pipeline.run(tags=scheduled)
    assert pipeline.writes() == 0
    assert_stopped_for_the_pause(pipeline, result)

    # Resumed with the UI toggle: the schedule was started after the row was paused, so the schedule-state
    # sensor is about to write `enabled = true`; the run goes ahead, as the tick did.
    from marketing_pipeline.launch.dagster_internals import set_schedule_toggle

    set_schedule_toggle(pipeline.instance, schedule_name(SYNC_KEY), "0 6 * * 1", True)
    assert pipeline.run(tags=scheduled).success
    assert pipeline.last_run().status == "completed"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_paused_sync_runs_when_the_run_says_so_and_dry_runs_freely(pipeline: Pipeline) -> None:
    store: SyncStore = pipeline.store
    store.update_sync(SYNC_KEY, enabled=False)
    before = pipeline.boxes.encharge.snapshot()

    dry = pipeline.run(dry_run=True)  # writes nothing anyway
    assert dry.success and pipeline.writes() == 0
    assert pipeline.last_run().status == "completed" and pipeline.last_run().dry_run

    assert_stopped_for_the_pause(pipeline, pipeline.run())  # the brake's `force` is not a pause override
    forced = pipeline.run(even_if_paused=True)
    assert forced.success and pipeline.last_run().status == "completed"
    assert "paused" not in pipeline.last_run().details
    assert_converged(pipeline.boxes, before)
    assert not store.get_sync(SYNC_KEY).enabled  # running it did not resume it


@pytest.fixture
def slow_writes(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """One write at a time, one person per request, each answered after 80 ms; the pause is re-read before
    every write batch (not at most once a second), so the test can count exactly."""
    monkeypatch.setattr(pause_watch, "REREAD_SECONDS", 0.0)
    pipeline.boxes.encharge.faults.latency_ms = 80
    encharge = pipeline.resources["encharge"].model_copy(update={"batch_size": 1, "write_concurrency": 1})
    return pipeline.with_resource("encharge", encharge)


def run_in_background(pipeline: Pipeline, **config: Any) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def work() -> None:
        outcome["result"] = pipeline.run(**config)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, outcome


def wait_for_writes(pipeline: Pipeline, thread: threading.Thread, count: int) -> None:
    deadline = time.monotonic() + 120
    while pipeline.writes() < count:
        assert thread.is_alive(), "the run ended before it wrote"
        assert time.monotonic() < deadline, "the apply phase never started"
        time.sleep(0.01)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_a_run_in_flight_stops_before_its_next_write_batch_when_the_sync_is_paused(slow_writes: Pipeline) -> None:
    pipeline, store = slow_writes, slow_writes.store
    before = pipeline.boxes.encharge.snapshot()
    thread, outcome = run_in_background(pipeline)
    wait_for_writes(pipeline, thread, 6)

    store.update_sync(SYNC_KEY, enabled=False)  # Pause: the CLI, the NestJS app or the UI toggle's sensor
    paused_at = pipeline.writes()
    thread.join(timeout=120)
    assert not thread.is_alive()

    # At most the request already in flight (and one whose check passed as the row changed) went out.
    assert pipeline.writes() - paused_at <= 2
    result = outcome["result"]
    assert_stopped_for_the_pause(pipeline, result)
    run = pipeline.last_run()
    assert "since this run began" in run.error_message and "not sent" in run.error_message
    # What was written stays recorded: the record's counts and per-contact rows are the writes made.
    contacts = run.details["contacts"]
    done = [c for c in contacts if c["status"] == "ok"]
    not_sent = [c for c in contacts if c["status"] == "not_sent"]
    assert done and not_sent
    assert run.contacts_created == sum(1 for c in done if c["action"] == "create")
    assert run.contacts_removed == sum(1 for c in done if c["action"] == "remove_tag")
    assert run.contacts_failed == 0
    assert len(done) + len(not_sent) == sum(1 for c in contacts if c["action"] != "skip")
    written = store.written_fields(store.get_sync(SYNC_KEY))
    assert {c["email"].lower() for c in done if c["action"] in ("create", "update")} <= {w.email_key for w in written}

    # Resumed, the next run finishes the work.
    store.update_sync(SYNC_KEY, enabled=True)
    pipeline.boxes.encharge.faults.latency_ms = 0
    assert pipeline.run().success
    assert_converged(pipeline.boxes, before)
    for email in pipeline.boxes.dataset.manifest.audience:
        assert TAG in pipeline.boxes.encharge.tags_of(email)
