"""The Compose deployment, for real: the repository's Dockerfile built FROM a Debian base made here, the
stack of deploy/compose/compose.yaml brought up on podman's Docker API, a sync launched through the full
webserver's GraphQL, queued, started by the daemon in a container of its own, run to completion, and the
audience converged; then everything is torn down, however far it got.

The sandbox APIs run in this test, on the Compose network's gateway (`host.containers.internal` inside
the containers), so the audience is checked against the dataset's own manifest. `pytest -s` prints how
long each phase took."""

from __future__ import annotations

import json
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from marketing_pipeline.sandbox.connectwise_api import API_ROOT
from marketing_pipeline.sandbox.launch import running_sandboxes, sandbox_env
from marketing_pipeline.store.database import dispose_engine
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync
from marketing_pipeline_tests.support.containers import (
    ComposeProject,
    HealthPump,
    Timings,
    base_image,
    docker_api,
    gateway_of,
    missing_tools,
    podman,
    postgres_image,
    project_image,
    remove_everything,
    wheelhouse,
)
from marketing_pipeline_tests.support.convergence import assert_converged
from marketing_pipeline_tests.support.dagster_processes import free_port, wait_for

# Builds images and starts nine containers: minutes, mostly waiting (it runs beside the other tests).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

RUN_TAGS = """
query RunTags($runId: ID!) {
  runOrError(runId: $runId) { __typename ... on Run { status tags { key value } } }
}
"""


@pytest.fixture
def engine() -> None:
    missing = missing_tools()
    if missing:
        message = f"the Compose test needs {', '.join(missing)} (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def write_env_file(path: Path, values: dict[str, str]) -> None:
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()), encoding="utf-8")


def test_a_sync_runs_in_its_own_container_on_the_compose_stack(tmp_path: Path, engine: None) -> None:
    timings = Timings()
    with timings.phase("base image (debootstrap and import; cached)"):
        base = base_image()
    with timings.phase("wheelhouse on the host (cached)"):
        wheels = wheelhouse()
    with timings.phase("project image (Dockerfile, podman build)"):
        image = project_image(base, wheels)
    with timings.phase("postgres image"):
        postgres = postgres_image(base)

    name = f"mp-compose-{uuid.uuid4().hex[:8]}"
    network = f"{name}-network"
    password = secrets.token_hex(16)
    cw_port, encharge_port = free_port(), free_port()
    keys = sandbox_env()
    env_file = tmp_path / "compose.env"

    with docker_api(tmp_path) as docker_host:
        write_env_file(
            env_file,
            {
                "POSTGRES_PASSWORD": password,
                "POSTGRES_IMAGE": postgres,
                "MARKETING_PIPELINE_IMAGE": image,
                "MARKETING_DOCKER_NETWORK": network,
                "DOCKER_SOCKET": docker_host.removeprefix("unix://"),
                "DOCKER_GID": "0",  # rootful podman's socket belongs to root's group
                "WEBSERVER_PUBLISH": f"127.0.0.1:{free_port()}",
                "WEBSERVER_READONLY_PUBLISH": f"127.0.0.1:{free_port()}",
                "CW_BASE_URL": f"http://host.containers.internal:{cw_port}{API_ROOT}",
                "CW_COMPANY_ID": keys["CW_COMPANY_ID"],
                "CW_PUBLIC_KEY": keys["CW_PUBLIC_KEY"],
                "CW_PRIVATE_KEY": keys["CW_PRIVATE_KEY"],
                "CW_CLIENT_ID": keys["CW_CLIENT_ID"],
                "ENCHARGE_BASE_URL": f"http://host.containers.internal:{encharge_port}/v1/",
                "ENCHARGE_REST_API_KEY": keys["ENCHARGE_REST_API_KEY"],
            },
        )
        project = ComposeProject(name, env_file, docker_host)
        store_url = ""
        try:
            # The network's bridge (and so the host's address on it) exists once a container runs on it.
            with timings.phase("compose up postgres (network, volume, healthy)"), HealthPump(project.unhealthy_ids):
                project.command("up", "--detach", "--no-build", "--pull", "never", "--wait", "postgres")
            gateway = gateway_of(network)
            with running_sandboxes(cw_port=cw_port, encharge_port=encharge_port, host=gateway) as boxes:
                before = boxes.encharge.snapshot()
                with timings.phase("compose up: init done, code server healthy"), HealthPump(project.unhealthy_ids):
                    project.command("up", "--detach", "--no-build", "--pull", "never")
                assert project.container_of("init")["ExitCode"] == 0
                # The operator's decision on the tag's carriers the new sync never tagged (issue 22 finding 4:
                # `syncs update --adopt-existing-tag`, or approving the dry run's plan), made in the stack's store.
                store_url = f"postgresql://marketing:{password}@{project.address_of('postgres')}:5432/marketing"
                adopt_first_sync(store_url)
                webserver = project.address_of("webserver")
                with timings.phase("webservers answering"):
                    for service in ("webserver", "webserver-readonly"):
                        url = f"http://{project.address_of(service)}:3000/server_info"
                        wait_for(lambda url=url: _answers(url), f"{service} to answer", 180)

                client = DagsterGraphQLClient(webserver, port_number=3000)
                with timings.phase("sync: queued, launched, run in its own container"):
                    run_id = client.submit_job_execution(
                        "marketing_sync_job",
                        repository_location_name="marketing_pipeline",
                        repository_name="__repository__",
                        tags={"dagster/partition": SYNC_KEY},
                    )
                    wait_for(lambda: _finished(client, run_id), "the run to finish", 420)
                status = client.get_run_status(run_id)
                assert status == dg.DagsterRunStatus.SUCCESS, project.logs()

                # marketing.view: the read-only webserver sees the run and cannot launch one.
                viewer = DagsterGraphQLClient(project.address_of("webserver-readonly"), port_number=3000)
                assert viewer.get_run_status(run_id) == dg.DagsterRunStatus.SUCCESS
                with pytest.raises(DagsterGraphQLClientError):
                    viewer.submit_job_execution(
                        "marketing_sync_job",
                        repository_location_name="marketing_pipeline",
                        repository_name="__repository__",
                        tags={"dagster/partition": SYNC_KEY},
                    )

                tags = _run_tags(webserver, run_id)
                assert_converged(boxes, before)

                # Every long-running service's own health check passes (retried as Docker would, on a busy host).
                with timings.phase("health checks of the five services"):
                    for service in ("postgres", "code", "webserver", "webserver-readonly", "daemon"):
                        wait_for(lambda service=service: project.healthy(service), f"{service}'s health check", 120)

            # The run had a container of its own: from our image, on the project's network, exited 0 (its
            # process ends a moment after it reports the run's success).
            wait_for(lambda: _run_container(run_id)["State"] == "exited", "the run's container to exit", 120)
            container = _run_container(run_id)
            assert container["Id"] == tags["docker/container_id"]
            assert container["Labels"].get("com.docker.compose.service") is None  # not one of the services
            assert container["Labels"]["com.marketing-pipeline.role"] == "run"
            assert (container["State"], container["ExitCode"]) == ("exited", 0)
            assert container["Image"] in {image, image.removeprefix("localhost/")}
            assert network in container["Networks"]
            assert tags["dagster/image"] == image

            # ... and its record, in the Compose project's own PostgreSQL.
            row = SyncStore(store_url).get_run(run_id)
            assert (row.status, row.contacts_total, row.contacts_created) == ("completed", 86, 12)
        except BaseException:
            print("\n" + project.logs())  # what the services said, for the failure's diagnosis
            raise
        finally:
            if store_url:
                dispose_engine(store_url)
            with timings.phase("teardown"):
                left = remove_everything(project, network)
            print("\n" + timings.report())
        assert left == [], f"containers left behind: {left}"


def _run_container(run_id: str) -> dict[str, Any]:
    found = json.loads(podman("ps", "--all", "--format", "json", "--filter", f"label=dagster/run_id={run_id}").stdout)
    assert len(found) == 1, found
    return found[0]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).ok
    except requests.RequestException:
        return False


def _finished(client: DagsterGraphQLClient, run_id: str) -> bool:
    return client.get_run_status(run_id) in (
        dg.DagsterRunStatus.SUCCESS,
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.CANCELED,
    )


def _run_tags(host: str, run_id: str) -> dict[str, str]:
    response = requests.post(
        f"http://{host}:3000/graphql",
        json={"query": RUN_TAGS, "variables": {"runId": run_id}},
        timeout=30,
    ).json()
    return {tag["key"]: tag["value"] for tag in response["data"]["runOrError"]["tags"]}
