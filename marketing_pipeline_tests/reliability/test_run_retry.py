"""Dagster's run retry finishes a crashed apply (issue 22, finding 9), with one run worker per run as a
container or pod gives it: the run worker and its step processes are SIGKILLed while the apply step writes,
the crash is noticed (here by the code server that launched the worker; by run monitoring with a container
per run) and the daemon's run retry re-executes every step, not "from failure" (whose step outputs would be
the dead worker's, on its disk, and whose plan the apply step refuses as another run's). The retry reads
ConnectWise and Encharge afresh, plans again and completes: the sync converges within the retry, nobody
duplicated, no run record left `running`."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
from dagster_graphql import DagsterGraphQLClient

from marketing_pipeline.defs.sync_step import RETRY_ALL_STEPS, RETRY_STRATEGY_TAG
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.convergence import assert_converged
from marketing_pipeline_tests.support.dagster_processes import wait_for
from marketing_pipeline_tests.support.topology import (
    LOCATION,
    Deployment,
    initialised_deployment,
    process_tree,
    production_topology,
)

# A code server, a webserver and a daemon; a run killed and retried: about 2 minutes, more under load.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

STEPS = {"cw_companies", "cw_contacts", "encharge_people", "sync_plan", "encharge_audience"}


@pytest.fixture
def deployment(pg_database: Callable[[], str], sandboxes: Sandboxes, tmp_path: Path) -> Deployment:
    return initialised_deployment(pg_database(), pg_database(), sandboxes, tmp_path / "dagster_home")


def writes(boxes: Sandboxes) -> int:
    return boxes.encharge.request_count("POST") + boxes.encharge.request_count("DELETE")


def steps_run(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    return {
        event.step_key
        for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
        if event.step_key is not None
    }


def test_a_run_worker_killed_mid_apply_is_retried_from_the_start_and_the_sync_converges_issue_22_finding_9(
    deployment: Deployment, sandboxes: Sandboxes, tmp_path: Path
) -> None:
    before = sandboxes.encharge.snapshot()
    store = deployment.store
    started = time.monotonic()
    with production_topology(deployment.env, tmp_path / "services", read_only=False) as topology:
        topology.wait_for_daemon(deployment)
        client = DagsterGraphQLClient("127.0.0.1", port_number=topology.web_port)
        run_id = client.submit_job_execution(
            "marketing_sync_job", repository_location_name=LOCATION, tags={"dagster/partition": SYNC_KEY}
        )
        wait_for(lambda: client.get_run_status(run_id) == dg.DagsterRunStatus.STARTED, "the daemon's launch", 180)
        sandboxes.encharge.faults.latency_ms = 300
        wait_for(lambda: writes(sandboxes) >= 3, "the apply phase", 180)
        row = store.running_run(store.get_sync(SYNC_KEY).id)
        assert row is not None and row.dagster_run_id == run_id
        worker = row.details["worker"]["pid"]  # the run worker, as the ledger recorded it
        killed = process_tree(worker)  # the worker and its step processes: a container's whole content
        assert len(killed) >= 2
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        written_when_killed = writes(sandboxes)
        sandboxes.encharge.faults.latency_ms = 0

        def retried() -> bool:
            runs = deployment.runs()
            return len(runs) == 2 and all(r.is_finished for r in runs)

        wait_for(retried, "the crashed run's retry to finish", 300)
        seconds = time.monotonic() - started
        with deployment.instance() as instance:
            retry, parent = deployment.runs()
            assert parent.run_id == run_id and parent.status == dg.DagsterRunStatus.FAILURE
            assert retry.status == dg.DagsterRunStatus.SUCCESS, topology.log("code-server")[-4000:]
            assert retry.parent_run_id == run_id and retry.tags["dagster/retry_number"] == "1"
            assert retry.tags[RETRY_STRATEGY_TAG] == parent.tags[RETRY_STRATEGY_TAG] == RETRY_ALL_STEPS
            assert steps_run(instance, retry.run_id) == STEPS  # every step again: a plan of its own
    print(f"killed after {written_when_killed} writes; retried and converged {seconds:.1f} s after the start")
    assert 3 <= written_when_killed < 38  # in the middle of the apply
    assert_converged(sandboxes, before)  # within the retry: nobody duplicated, every member tagged
    rows = {r.dagster_run_id: r for r in store.list_runs(store.get_sync(SYNC_KEY))}
    assert rows[retry.run_id].status == "completed"
    assert rows[run_id].status == "failed"  # released by the retry, with the reason
    assert [r for r in rows.values() if r.status == "running"] == []
