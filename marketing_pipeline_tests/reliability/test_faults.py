"""Faults injected through the sandboxes. For each: the run completes correctly, or fails with a clear
error and a failed run record; either way the next run converges, and nobody is lost or duplicated."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import DataError

from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.errors import StoreUnavailableError
from marketing_pipeline.sandbox.server import Fault
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.convergence import assert_converged
from marketing_pipeline_tests.support.pipeline import Pipeline, step_failure

pytestmark = pytest.mark.slow  # fault injection with retries and timeouts

# (name, server, path the faults apply to, faults, what a failure must say)
SCENARIOS = [
    ("429 storm with Retry-After on writes", "encharge", "/v1/people$", [Fault(status=429, retry_after="0")] * 2, None),
    ("429 storm without Retry-After on reads", "encharge", "/people/all", [Fault(status=429)] * 2, None),
    ("429 beyond every retry", "encharge", "/v1/tags", [Fault(status=429, retry_after="0")] * 10, "HTTP 429"),
    ("500 on an upsert", "encharge", "/v1/people$", [Fault(status=500)], None),
    ("502 on ConnectWise", "connectwise", "company/contacts", [Fault(status=502)] * 2, None),
    ("503 on tag removal", "encharge", "/v1/tags", [Fault(status=503)] * 2, None),
    ("504 everywhere for a while", "encharge", None, [Fault(status=504)] * 2, None),
    ("persistent 503 on upserts", "encharge", "/v1/people$", [Fault(status=503)] * 30, "HTTP 503"),
    ("timeouts on reads", "encharge", "/people/all", [Fault(kind="slow", seconds=2.5)], None),
    # The client gives up after 3 attempts; Dagster's step retry policy then runs the read again.
    (
        "timeouts on ConnectWise, past the client's retries",
        "connectwise",
        "company/companies",
        [Fault(kind="slow", seconds=2.5)] * 3,
        None,
    ),
    ("connection resets", "encharge", "/v1/people$", [Fault(kind="reset")] * 2, None),
    ("truncated body", "encharge", "/people/all", [Fault(kind="truncated")], None),
    (
        "non-JSON body, persistent",
        "connectwise",
        "company/companies",
        [Fault(status=200, kind="non_json")] * 5,
        "not JSON",
    ),
    (
        "401 in the middle of a run",
        "encharge",
        "/v1/tags",
        [Fault(status=401, body={"error": {"message": "Token revoked"}})],
        "check ENCHARGE_REST_API_KEY",
    ),
]


@pytest.mark.parametrize("name, server, path, faults, failure", SCENARIOS, ids=[s[0] for s in SCENARIOS])
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_fault_then_convergence(
    pipeline: Pipeline, name: str, server: str, path: str | None, faults: list[Fault], failure: str | None
) -> None:
    boxes = pipeline.boxes
    store: SyncStore = pipeline.store
    before = boxes.encharge.snapshot()
    getattr(boxes, server).faults.inject(*faults, path=path)

    result = pipeline.run()

    run = store.last_run(store.get_sync(SYNC_KEY))
    if result.success:
        assert failure is None, f"{name}: expected a failure"
        assert run.status == "completed" and run.contacts_failed == 0
        assert_converged(boxes, before)
    else:
        assert failure is not None, f"{name}: the run failed: {run.error_message}"
        assert run.status == "failed" and failure in run.error_message
        assert "\n" not in run.error_message and "Traceback" not in run.error_message
    getattr(boxes, server).faults.reset()
    assert pipeline.run().success
    assert_converged(boxes, before)
    assert store.last_run(store.get_sync(SYNC_KEY)).status == "completed"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_database_unavailable_at_the_start(pipeline: Pipeline) -> None:
    boxes = pipeline.boxes
    before = boxes.encharge.snapshot()
    unreachable = MarketingStoreResource(database_url="postgresql://nobody@127.0.0.1:1/marketing")
    result = pipeline.with_resource("marketing_store", unreachable).run()
    assert not result.success
    assert "cannot use the marketing database postgresql://nobody@127.0.0.1:1/marketing" in step_failure(result)
    assert pipeline.writes() == 0
    assert pipeline.run().success
    assert_converged(boxes, before)


class _OutageAtTheEnd(SyncStore):
    """The database goes away after the plan was applied: nothing can be recorded."""

    def finish_run(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailableError("cannot use the marketing database (simulated outage)")

    def fail_running_run(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailableError("cannot use the marketing database (simulated outage)")


class OutageAtTheEnd(MarketingStoreResource):
    def store(self) -> SyncStore:
        return _OutageAtTheEnd(self.database_url)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_database_unavailable_at_the_end(pipeline: Pipeline) -> None:
    boxes = pipeline.boxes
    store: SyncStore = pipeline.store
    before = boxes.encharge.snapshot()
    result = pipeline.with_resource("marketing_store", OutageAtTheEnd(database_url=store.url)).run()
    assert not result.success
    message = step_failure(result)
    assert "the changes were applied (83 synced, 12 new, 3 removed), but the run record could not" in message
    assert "simulated outage" in message and "\n" not in message.strip()
    stuck = store.last_run(store.get_sync(SYNC_KEY))
    assert stuck.status == "running"  # nothing could be written: the next run must clear it

    assert pipeline.run().success
    assert_converged(boxes, before)
    cleared = store.get_run(stuck.id)
    assert cleared.status == "failed" and "ended without recording a result" in cleared.error_message
    assert store.last_run(store.get_sync(SYNC_KEY)).status == "completed"


class _RefusedAtTheEnd(SyncStore):
    """The database refuses the finished record (as PostgreSQL refused run details with a NUL), with the
    statement and its parameters in the error's text; marking the run failed still works."""

    def finish_run(self, *args: Any, **kwargs: Any) -> Any:
        statement = 'UPDATE "MarketingSyncRun" SET details=%(details)s ' + "x" * 1500
        raise DataError(statement, {"details": "..."}, Exception("unsupported Unicode escape sequence\nDETAIL: x"))


class RefusedAtTheEnd(MarketingStoreResource):
    def store(self) -> SyncStore:
        return _RefusedAtTheEnd(self.database_url)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_record_refused_after_the_writes_says_the_writes_happened(pipeline: Pipeline) -> None:
    store: SyncStore = pipeline.store
    result = pipeline.with_resource("marketing_store", RefusedAtTheEnd(database_url=store.url)).run()
    assert not result.success and pipeline.writes() > 0
    expected = (
        "the changes were applied (83 synced, 12 new, 3 removed), but the run record could not be stored: "
        "unsupported Unicode escape sequence"
    )
    assert step_failure(result).strip().endswith(f"Failure: {expected}")
    row = store.last_run(store.get_sync(SYNC_KEY))
    assert (row.status, row.error_message) == ("failed", expected)  # one plain line, no SQL
