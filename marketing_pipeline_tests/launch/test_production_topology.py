"""The production topology as processes, on PostgreSQL: the code location in its own gRPC server
(`dagster code-server start`), a full and a read-only webserver and the daemon, each loading the code server
through a workspace.yaml `grpc_server` entry. `check` finds such a deployment right in every line; a run
queued through the webserver's GraphQL API is launched by the daemon and syncs end to end; restarting the
webserver and then the code server in the middle of its apply loses no run and no row, and the restarted
code server serves the location again."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from marketing_pipeline.launch.webserver import DagsterWebserver
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.convergence import assert_converged
from marketing_pipeline_tests.support.dagster_processes import wait_for
from marketing_pipeline_tests.support.topology import (
    BIN,
    LOCATION,
    Deployment,
    initialised_deployment,
    production_topology,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]  # four services: about 2 minutes, more under load
SCHEDULE = "marketing_sync_managed_client_newsletter"


@pytest.fixture
def deployment(pg_database: Callable[[], str], sandboxes: Sandboxes, tmp_path: Path) -> Deployment:
    return initialised_deployment(pg_database(), pg_database(), sandboxes, tmp_path / "dagster_home")


def writes(boxes: Sandboxes) -> int:
    return boxes.encharge.request_count("POST") + boxes.encharge.request_count("DELETE")


def test_a_queued_run_syncs_through_the_topology_and_survives_restarts(
    deployment: Deployment, sandboxes: Sandboxes, tmp_path: Path
) -> None:
    before = sandboxes.encharge.snapshot()
    timings: dict[str, float] = {}
    mark = time.monotonic()
    with production_topology(deployment.env, tmp_path / "services") as topology:
        topology.wait_for_daemon(deployment)
        timings["start"] = time.monotonic() - mark

        # Every line of `check` is right (alerts are simply off here), warnings included.
        mark = time.monotonic()
        webserver_url = f"http://127.0.0.1:{topology.web_port}"
        check = subprocess.run(
            [str(BIN / "marketing-pipeline"), "check", "--json", "--strict"],
            env={**deployment.env, "DAGSTER_WEBSERVER_URL": webserver_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        report = json.loads(check.stdout)
        assert check.returncode == 0, check.stdout
        assert {c["id"]: c["status"] for c in report["checks"] if c["status"] != "ok"} == {
            "alerts.webhook": "off",
            "alerts.email": "off",
        }
        timings["check"] = time.monotonic() - mark

        mark = time.monotonic()
        client = DagsterGraphQLClient("127.0.0.1", port_number=topology.web_port)
        run_id = client.submit_job_execution(
            "marketing_sync_job", repository_location_name=LOCATION, tags={"dagster/partition": SYNC_KEY}
        )
        assert client.get_run_status(run_id) in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING,
                                                 dg.DagsterRunStatus.STARTED)  # fmt: skip
        wait_for(lambda: client.get_run_status(run_id) == dg.DagsterRunStatus.STARTED, "the daemon's launch", 180)
        timings["queued to started"] = time.monotonic() - mark
        sandboxes.encharge.faults.latency_ms = 500  # the apply lasts through both restarts
        wait_for(lambda: writes(sandboxes) >= 2, "the apply phase", 180)

        mark = time.monotonic()
        topology.restart("webserver")
        timings["webserver restart"] = time.monotonic() - mark
        assert client.get_run_status(run_id) == dg.DagsterRunStatus.STARTED  # still applying
        mark = time.monotonic()
        topology.restart("code-server")  # drains the run in flight, then serves again on the same port
        timings["code server restart"] = time.monotonic() - mark
        sandboxes.encharge.faults.latency_ms = 0

        wait_for(lambda: all(r.is_finished for r in deployment.runs()), "the run to finish", 300)
        read_only = DagsterGraphQLClient("127.0.0.1", port_number=topology.read_only_port)
        with pytest.raises(DagsterGraphQLClientError):  # the read-only webserver launches nothing
            read_only.submit_job_execution(
                "marketing_sync_job", repository_location_name=LOCATION, tags={"dagster/partition": SYNC_KEY}
            )
        assert read_only.get_run_status(run_id) == dg.DagsterRunStatus.SUCCESS
        assert requests.get(f"http://127.0.0.1:{topology.read_only_port}/server_info", timeout=10).ok
        # After both restarts the webserver serves the location from the new code server.
        assert DagsterWebserver(webserver_url, timeout=30).schedule_crons() == {SCHEDULE: "0 6 * * 1"}
    print(f"timings (s): { {k: round(v, 1) for k, v in timings.items()} }")
    assert_converged(sandboxes, before)
    runs = deployment.runs()
    assert [(r.run_id, r.status) for r in runs] == [(run_id, dg.DagsterRunStatus.SUCCESS)]
    rows = deployment.store.list_runs(deployment.store.get_sync(SYNC_KEY))
    assert [(r.dagster_run_id, r.status, r.contacts_created) for r in rows] == [(run_id, "completed", 12)]
