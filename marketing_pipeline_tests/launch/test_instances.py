"""Which Dagster instance a run belongs to: a running record whose Dagster run this instance does not know
is not taken for finished; the CLI refuses an instance that is not the deployment's when it can tell (the
daemon records its own); `runs release` frees a dead claim and refuses while the run is known alive; every
command that launches or inspects runs says which DAGSTER_HOME it used."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from sqlalchemy import update

from marketing_pipeline.cli import main
from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.defs.sensors import marketing_sync_registry
from marketing_pipeline.errors import MarketingPipelineError
from marketing_pipeline.launch.trigger import trigger_sync
from marketing_pipeline.runs.ledger import current_worker
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.database import connect
from marketing_pipeline.store.repository import SyncStore, utcnow
from marketing_pipeline.store.schema import marketing_sync_run
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.pipeline import Pipeline, step_failure


@pytest.fixture
def environment(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    monkeypatch.setenv("MARKETING_DATABASE_URL", pipeline.store.url)
    for name, value in pipeline.boxes.env().items():
        monkeypatch.setenv(name, value)
    return pipeline


def record_the_daemons_instance(instance: dg.DagsterInstance, store: SyncStore) -> None:
    """What the daemon does every minute: its registry sensor notes which instance it runs."""
    context = dg.build_sensor_context(
        instance=instance, resources={"marketing_store": MarketingStoreResource(database_url=store.url)}
    )
    marketing_sync_registry(context)


def dead_pid() -> int:
    """A process id nobody has now (a child that has exited and been reaped)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_running_record_of_a_run_this_instance_does_not_know_is_not_finished(environment: Pipeline) -> None:
    store = environment.store
    sync = store.get_sync(SYNC_KEY)
    elsewhere = store.start_run(
        sync,
        trigger="schedule",
        dagster_run_id="launched-from-another-instance",
        details={"worker": {"pid": 1, "host": "another-host"}},
        dagster_instance="other-run-storage",
        dagster_home="/srv/dagster",
    )
    before = environment.boxes.encharge.snapshot()
    result = environment.run()
    assert not result.success and environment.boxes.encharge.snapshot() == before
    held = store.get_run(elsewhere.id)
    assert held.status == "running"  # not failed: it may be writing right now
    message = step_failure(result)
    assert "already running in Dagster run launched-from-another-instance" in message
    assert "another Dagster instance (DAGSTER_HOME=/srv/dagster" in message and "runs release" in message

    # A claim older than the staleness rule (6 hours without a result) is released, as an app's would be.
    with connect(store.url) as conn:
        conn.execute(
            update(marketing_sync_run)
            .where(marketing_sync_run.c.id == elsewhere.id)
            .values(startedAt=utcnow() - timedelta(hours=7))
        )
    assert environment.run().success
    old = store.get_run(elsewhere.id)
    assert old.status == "failed" and "6 hours" in old.error_message


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_run_whose_worker_is_gone_from_this_host_is_released_even_if_unknown_here(environment: Pipeline) -> None:
    store = environment.store
    sync = store.get_sync(SYNC_KEY)
    crashed = store.start_run(
        sync,
        trigger="manual",
        dagster_run_id="killed-elsewhere",
        details={"worker": {"pid": dead_pid(), "host": socket.gethostname()}},
    )
    assert environment.run().success
    old = store.get_run(crashed.id)
    assert old.status == "failed" and "killed or crashed" in old.error_message


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_trigger_refuses_an_instance_that_is_not_the_deployments(environment: Pipeline) -> None:
    store = environment.store
    deployment = environment.instance
    record_the_daemons_instance(deployment, store)
    before = environment.boxes.encharge.snapshot()
    with dg.instance_for_test() as stray:
        with pytest.raises(MarketingPipelineError) as refused:
            trigger_sync(store, SYNC_KEY, instance=stray)
        message = str(refused.value)
        assert f"DAGSTER_HOME={stray.root_directory}" in message
        assert f"DAGSTER_HOME={deployment.root_directory}" in message and "the daemon" in message
        assert stray.get_runs() == []
    assert environment.boxes.encharge.snapshot() == before and store.list_runs(store.get_sync(SYNC_KEY)) == []
    # From the deployment's instance it runs, and its record says which instance launched it.
    result = trigger_sync(store, SYNC_KEY, instance=deployment)
    assert result.success and result.dagster_home == deployment.root_directory
    assert (result.run.dagster_home, result.run.dagster_instance) == (
        deployment.root_directory,
        deployment.run_storage.get_run_storage_id(),
    )


@pytest.fixture
def cli_home(environment: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    yield home.resolve()


def cli(*args: str, ok: bool = True):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert (result.exit_code == 0) is ok, result.output + result.stderr
    return result


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_runs_release_frees_a_dead_claim_and_refuses_while_the_run_is_alive(
    environment: Pipeline, cli_home: Path, sandboxes: Sandboxes
) -> None:
    store = environment.store
    sync = store.get_sync(SYNC_KEY)
    gone = store.start_run(sync, trigger="manual", dagster_run_id="lost-in-another-shell")
    refused = cli("syncs", "trigger", SYNC_KEY, ok=False)
    assert "already running in Dagster run lost-in-another-shell" in refused.stderr
    assert f"marketing-pipeline runs release {gone.id}" in refused.stderr

    released = cli("runs", "release", gone.id)
    assert f"Dagster home: {cli_home}" in released.stderr
    assert "released" in released.output and "lost-in-another-shell" in released.output
    row = store.get_run(gone.id)
    assert row.status == "failed" and "released by hand" in row.error_message
    again = cli("runs", "release", gone.id, ok=False)
    assert "is not running (failed)" in again.stderr
    assert cli("syncs", "trigger", SYNC_KEY).stdout.startswith("83 synced, 12 new, 3 removed")

    # A run this instance knows to be alive keeps its claim, whatever anyone types.
    with dg.DagsterInstance.get() as instance:
        live = instance.create_run_for_job(
            dg.GraphDefinition(name="other", node_defs=[]).to_job(), status=dg.DagsterRunStatus.STARTED
        )
    row = store.start_run(sync, trigger="manual", dagster_run_id=live.run_id, details={"worker": current_worker()})
    alive = cli("runs", "release", row.id, ok=False)
    assert f"Dagster run {live.run_id} is STARTED" in alive.stderr and "Terminate" in alive.stderr
    assert store.get_run(row.id).status == "running"


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_commands_that_launch_or_inspect_runs_say_which_dagster_home_they_used(
    environment: Pipeline, cli_home: Path
) -> None:
    triggered = cli("syncs", "trigger", SYNC_KEY, "--json")
    payload = json.loads(triggered.stdout)
    assert payload["dagsterHome"] == str(cli_home) and triggered.stderr == ""
    human = cli("syncs", "trigger", SYNC_KEY, "--dry-run")
    assert human.stdout.splitlines()[0].endswith(f" in DAGSTER_HOME={cli_home})") and human.stderr == ""
    listed = cli("runs", "list", SYNC_KEY, "--json")
    assert json.loads(listed.stdout)["dagsterHome"] == str(cli_home)
    assert f"Dagster home: {cli_home}" in cli("runs", "list", SYNC_KEY).stderr
    shown = cli("runs", "show", payload["dagsterRunId"], "--json")
    assert json.loads(shown.stdout)["dagsterHome"] == str(cli_home)
    assert f"Dagster home: {cli_home}" in cli("runs", "show", payload["dagsterRunId"]).stderr
