"""Real processes: a sync killed with SIGKILL in the middle of applying its plan, and two triggers of one
sync at once. Both run the CLI against a PostgreSQL-backed Dagster instance and PostgreSQL store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync
from marketing_pipeline_tests.support.convergence import assert_converged

pytestmark = pytest.mark.slow  # real CLI processes, SIGKILL

CLI = str(Path(sys.executable).with_name("marketing-pipeline"))


@pytest.fixture
def cli_env(pg_database: Callable[[], str], sandboxes: Sandboxes, tmp_path: Path) -> dict[str, Any]:
    dagster_db, marketing_db = pg_database(), pg_database()
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        **sandboxes.env(),
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_URL": dagster_db,
        "MARKETING_DATABASE_URL": marketing_db,
        # One write at a time, one person per request: the apply phase is long enough to be killed in.
        "ENCHARGE_BATCH_SIZE": "1",
        "ENCHARGE_CONCURRENCY": "1",
        "ENCHARGE_MAX_REQUESTS_PER_SECOND": "0",
    }
    # As the README says: `init` first. It writes the instance configuration (PostgreSQL storage, as
    # DAGSTER_POSTGRES_URL is set), migrates our tables and creates Dagster's in its database.
    init = subprocess.run([CLI, "init"], env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    adopt_first_sync(marketing_db)
    return {"env": env, "home": home, "store": SyncStore(marketing_db)}


def writes(boxes: Sandboxes) -> int:
    return boxes.encharge.request_count("POST") + boxes.encharge.request_count("DELETE")


def trigger(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [CLI, "syncs", "trigger", SYNC_KEY, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_sync_killed_mid_apply_is_failed_and_the_next_run_completes_the_work(
    cli_env: dict[str, Any], sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = sandboxes.encharge.snapshot()
    sandboxes.encharge.faults.latency_ms = 150
    first = trigger(cli_env["env"])
    deadline = time.monotonic() + 120
    while writes(sandboxes) < 5:
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the apply phase never started"
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    store: SyncStore = cli_env["store"]
    killed = store.last_run(store.get_sync(SYNC_KEY))
    assert killed.status == "running"  # nobody could record anything

    sandboxes.encharge.faults.latency_ms = 0
    second = subprocess.run(
        [CLI, "syncs", "trigger", SYNC_KEY, "--json"], env=cli_env["env"], capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["run"]["status"] == "completed"
    assert_converged(sandboxes, before)
    old = store.get_run(killed.id)
    assert old.status == "failed" and "killed or crashed" in old.error_message
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", cli_env["env"]["DAGSTER_POSTGRES_URL"])
    with dg.DagsterInstance.from_config(str(cli_env["home"])) as instance:
        assert instance.get_run_by_id(killed.dagster_run_id).status == dg.DagsterRunStatus.FAILURE


def test_two_triggers_at_once_one_runs_and_the_other_is_refused(cli_env: dict[str, Any], sandboxes: Sandboxes) -> None:
    before = sandboxes.encharge.snapshot()
    sandboxes.encharge.faults.latency_ms = 60
    runs = [trigger(cli_env["env"]), trigger(cli_env["env"])]
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in runs]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 1], outcomes
    refused = next(o for o in outcomes if o[0] == 1)
    assert "already running" in refused[1] + refused[2]
    assert_converged(sandboxes, before)
    store: SyncStore = cli_env["store"]
    rows = store.list_runs(store.get_sync(SYNC_KEY))
    assert [r.status for r in rows] == ["completed"]
