"""The Dagster UI as the manual-trigger surface: a real dagster-webserver on loopback, a sync launched
through Dagster's GraphQL client, and the read-only webserver (marketing.view) refusing to launch."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from marketing_pipeline.launch.partition_registry import register_sync_partitions
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync
from marketing_pipeline_tests.support.dagster_processes import (
    DAEMON,
    INSTANCE_YAML,
    REPO,
    stop,
    webserver_process,
)

pytestmark = pytest.mark.slow  # real dagster-webserver and daemon processes


@contextmanager
def webserver(env: dict[str, str], *extra: str) -> Iterator[DagsterGraphQLClient]:
    with webserver_process(env, *extra) as port:
        yield DagsterGraphQLClient("127.0.0.1", port_number=port)


@pytest.fixture
def served(tmp_path: Path, sqlite_url: str, sandboxes: Sandboxes) -> dict:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    initialise_store(sqlite_url)
    adopt_first_sync(sqlite_url)  # an existing install: the first sync owns its tag
    with dg.DagsterInstance.from_config(str(home)) as instance:
        register_sync_partitions(instance, SyncStore(sqlite_url))
    env = {**os.environ, **sandboxes.env(), "DAGSTER_HOME": str(home), "MARKETING_DATABASE_URL": sqlite_url}
    return {"env": env, "home": home, "store": SyncStore(sqlite_url)}


def test_a_sync_launched_from_the_webserver_is_recorded(served: dict) -> None:
    with webserver(served["env"]) as client:
        run_id = client.submit_job_execution(
            "marketing_sync_job",
            repository_location_name="marketing_pipeline",
            repository_name="__repository__",
            tags={"dagster/partition": SYNC_KEY},
        )
        deadline = time.monotonic() + 180
        status = client.get_run_status(run_id)
        while status not in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE) and time.monotonic() < deadline:
            time.sleep(1)
            status = client.get_run_status(run_id)
    assert status == dg.DagsterRunStatus.SUCCESS
    row = served["store"].get_run(run_id)
    assert (row.status, row.triggered_by, row.contacts_total, row.contacts_created) == ("completed", "manual", 86, 12)


def test_the_read_only_webserver_cannot_launch(served: dict) -> None:
    with webserver(served["env"], "--read-only") as client, pytest.raises(DagsterGraphQLClientError):
        client.submit_job_execution(
            "marketing_sync_job",
            repository_location_name="marketing_pipeline",
            repository_name="__repository__",
            tags={"dagster/partition": SYNC_KEY},
        )
    assert served["store"].count_runs(served["store"].get_sync(SYNC_KEY)) == 0


def test_syncs_update_reaches_the_running_webserver(served: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from marketing_pipeline.cli import main
    from marketing_pipeline.launch.webserver import DagsterWebserver

    for name, value in served["env"].items():
        monkeypatch.setenv(name, value)
    with webserver(served["env"]) as client:
        url = f"http://127.0.0.1:{client._port_number}"
        ui = DagsterWebserver(url)
        name = "marketing_sync_managed_client_newsletter"
        assert (ui.schedule(name).status, ui.schedule(name).cron) == ("RUNNING", "0 6 * * 1")

        paused = CliRunner().invoke(main, ["syncs", "update", SYNC_KEY, "--disable", "--dagster-url", url])
        assert paused.exit_code == 0, paused.output
        assert f"schedule {name} is STOPPED" in paused.output
        assert ui.schedule(name).status == "STOPPED"

        resumed = CliRunner().invoke(
            main, ["syncs", "update", SYNC_KEY, "--enable", "--weekly", "tue", "--at", "07:15", "--dagster-url", url]
        )
        assert resumed.exit_code == 0, resumed.output
        assert (ui.schedule(name).status, ui.schedule(name).cron) == ("RUNNING", "15 7 * * 2")

    unreachable = CliRunner().invoke(
        main, ["syncs", "update", SYNC_KEY, "--disable", "--dagster-url", "http://127.0.0.1:1"]
    )
    assert unreachable.exit_code == 0
    assert unreachable.stderr.startswith("warning: saved, but Dagster was not updated: cannot reach")
    assert served["store"].get_sync(SYNC_KEY).enabled is False


BACKFILL = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


def test_a_backfill_over_two_syncs_runs_each_once(served: dict) -> None:
    from marketing_pipeline.store.seed import FIRST_SYNC

    store: SyncStore = served["store"]
    store.create_sync(
        name="Second Newsletter",
        filter_config=FIRST_SYNC["filter_config"],
        tag_name="second-newsletter",
        schedule="0 7 * * *",
    )
    with dg.DagsterInstance.from_config(str(served["home"])) as instance:
        register_sync_partitions(instance, store)
    keys = [SYNC_KEY, "second-newsletter"]
    daemon = subprocess.Popen(
        [str(DAEMON), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=served["home"].parent,
        env=served["env"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with webserver(served["env"]) as client:
            assets = [
                {"path": [name]}
                for name in ("cw_companies", "cw_contacts", "encharge_people", "sync_plan", "encharge_audience")
            ]
            response = requests.post(
                f"http://127.0.0.1:{client._port_number}/graphql",
                timeout=60,
                json={"query": BACKFILL, "variables": {"params": {"assetSelection": assets, "partitionNames": keys}}},
            ).json()
            result = response["data"]["launchPartitionBackfill"]
            assert result["__typename"] == "LaunchBackfillSuccess", result
            backfill_id = result["backfillId"]
            deadline = time.monotonic() + 240
            with dg.DagsterInstance.from_config(str(served["home"])) as instance:
                while True:
                    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
                    if len(runs) >= 2 and all(r.is_finished for r in runs):
                        break
                    assert time.monotonic() < deadline, f"backfill did not finish: {[r.status for r in runs]}"
                    time.sleep(1)
                assert sorted(r.tags["dagster/partition"] for r in runs) == sorted(keys)
                assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    finally:
        stop(daemon)
    for key in keys:
        rows = store.list_runs(store.get_sync(key))
        assert [(r.status, r.triggered_by, r.trigger) for r in rows] == [("completed", "manual", "backfill")]
