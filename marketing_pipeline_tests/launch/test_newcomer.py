"""The README's way into the UI: `marketing-pipeline init`, then `dg dev` from the instance folder, prints
no warning a newcomer would have to puzzle over (no stray dagster.yaml, no daemon cursor notices)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from marketing_pipeline import settings
from marketing_pipeline_tests.support.dagster_processes import REPO, free_port, wait_until_serving

pytestmark = pytest.mark.slow  # a real `dg dev`: webserver, daemon and code server

BIN = Path(sys.executable).parent


def test_dg_dev_after_init_prints_no_warning(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in (settings.MARKETING_DATABASE_URL, "DAGSTER_HOME")}
    env["DAGSTER_HOME"] = str(tmp_path / ".dagster_home")
    init = subprocess.run(
        [str(BIN / "marketing-pipeline"), "init"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    port = free_port()
    # The README's command: from inside the instance folder, so the repository's dagster.yaml (the source
    # `init` copied) is not mistaken for the instance's.
    process = subprocess.Popen(
        [str(BIN / "dg"), "dev", "-w", str(REPO / "workspace.yaml"), "-p", str(port)],
        cwd=env["DAGSTER_HOME"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # dg dev's webserver, daemon and code server stop with it
    )
    try:
        wait_until_serving(port, process, "dg dev", 120)
        time.sleep(15)  # the daemon's first pass (where the cursor notices used to come from)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
    assert "Serving dagster-webserver" in output
    warnings = [line for line in output.splitlines() if re.search(r"WARNING|Warning|Traceback", line)]
    assert warnings == []
