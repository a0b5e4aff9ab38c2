"""Real processes: `syncs trigger` from a shell whose DAGSTER_HOME is not the one the running sync was
launched from. That instance cannot see the running run; it must not take it for finished, fail its record
and apply alongside it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync
from marketing_pipeline_tests.support.convergence import assert_converged

pytestmark = pytest.mark.slow  # real CLI processes

CLI = str(Path(sys.executable).with_name("marketing-pipeline"))


@pytest.fixture
def two_homes(pg_database: Callable[[], str], sandboxes: Sandboxes, tmp_path: Path) -> dict[str, Any]:
    """One marketing database, two Dagster instance folders (each with its own SQLite storage): the
    deployment's, and a stray one in another shell."""
    marketing_db = pg_database()
    base = {
        **{k: v for k, v in os.environ.items() if k != "DAGSTER_POSTGRES_URL"},
        **sandboxes.env(),
        "MARKETING_DATABASE_URL": marketing_db,
        # One write at a time, one person per request: the apply phase lasts while the stray shell tries.
        "ENCHARGE_BATCH_SIZE": "1",
        "ENCHARGE_CONCURRENCY": "1",
        "ENCHARGE_MAX_REQUESTS_PER_SECOND": "0",
    }
    envs = {}
    for name in ("deployment", "stray"):
        home = tmp_path / name
        home.mkdir()
        envs[name] = {**base, "DAGSTER_HOME": str(home)}
        init = subprocess.run([CLI, "init"], env=envs[name], capture_output=True, text=True, timeout=120)
        assert init.returncode == 0, init.stderr
    adopt_first_sync(marketing_db)
    return {"env": envs, "store": SyncStore(marketing_db)}


def writes(boxes: Sandboxes) -> int:
    return boxes.encharge.request_count("POST") + boxes.encharge.request_count("DELETE")


def test_a_trigger_from_another_instance_never_takes_the_lock_from_a_live_run(
    two_homes: dict[str, Any], sandboxes: Sandboxes
) -> None:
    env, store = two_homes["env"], two_homes["store"]
    before = sandboxes.encharge.snapshot()
    sandboxes.encharge.faults.latency_ms = 50
    live = subprocess.Popen(
        [CLI, "syncs", "trigger", SYNC_KEY, "--json"],
        env=env["deployment"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while writes(sandboxes) < 3:
        assert live.poll() is None, live.communicate()
        assert time.monotonic() < deadline, "the apply phase never started"
        time.sleep(0.02)
    holder = store.running_run(store.get_sync(SYNC_KEY).id)
    assert holder is not None
    sandboxes.encharge.faults.latency_ms = 1500  # the live run keeps applying while the stray shell tries
    try:
        stray = subprocess.run(
            [CLI, "syncs", "trigger", SYNC_KEY, "--json"],
            env=env["stray"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        writes_meanwhile = writes(sandboxes)
    finally:
        sandboxes.encharge.faults.latency_ms = 0
    assert store.get_run(holder.id).status == "running", store.get_run(holder.id).error_message
    assert live.poll() is None, "the live run ended before the stray trigger was refused: the test proves nothing"
    assert stray.returncode == 1, stray.stdout + stray.stderr
    error = stray.stderr.strip().splitlines()[-1]
    assert "already running in Dagster run" in error and "another Dagster instance" in error
    assert env["deployment"]["DAGSTER_HOME"] in error  # where the live run was launched from
    assert env["stray"]["DAGSTER_HOME"] in error  # and which instance this shell used
    assert "runs release" in error
    assert writes_meanwhile <= writes(sandboxes)

    out, err = live.communicate(timeout=300)
    assert live.returncode == 0, err
    payload = json.loads(out)
    assert payload["run"]["status"] == "completed" and payload["dagsterHome"] == env["deployment"]["DAGSTER_HOME"]
    # One run record, completed: the live run's row was never failed, nobody applied alongside it.
    rows = store.list_runs(store.get_sync(SYNC_KEY))
    assert [(r.status, r.dagster_run_id) for r in rows] == [("completed", payload["dagsterRunId"])]
    assert_converged(sandboxes, before)
