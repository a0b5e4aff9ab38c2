"""Alerts with a real `dagster-daemon`: a CLI run (executed in the CLI's own process) is seen by the daemon's
alert sensors, the CLI leaves the message to them, and exactly one message goes out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from marketing_pipeline.alerts.dispatch import ALERT_TAG, alert_sensors_live
from marketing_pipeline.launch.home import ensure_dagster_home
from marketing_pipeline.launch.trigger import trigger_sync
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync
from marketing_pipeline_tests.support.alerts import WebhookListener

pytestmark = pytest.mark.slow  # a real dagster-daemon process

REPO = Path(__file__).resolve().parents[2]
DAEMON = Path(sys.executable).with_name("dagster-daemon")


def wait_for(condition, what: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_the_daemon_alerts_once_for_a_cli_run(
    tmp_path: Path,
    sqlite_url: str,
    sandboxes: Sandboxes,
    webhook: WebhookListener,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    env = {
        "DAGSTER_HOME": str(home),
        "MARKETING_DATABASE_URL": sqlite_url,
        "MARKETING_ALERT_WEBHOOK_URL": webhook.url,
        **sandboxes.env(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    ensure_dagster_home(postgres=False)  # the repository's dagster.yaml: queued runs, run monitoring, ...
    initialise_store(sqlite_url)
    adopt_first_sync(sqlite_url)  # an existing install: the first sync owns its tag
    store = SyncStore(sqlite_url)
    daemon = subprocess.Popen(
        [str(DAEMON), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            # Started: its alert sensors have ticked once (which sets their cursors).
            wait_for(lambda: daemon.poll() is None and alert_sensors_live(instance), "the alert sensors", 60)
            sandboxes.connectwise.faults.inject(401, path="company/companies")
            result = trigger_sync(store, SYNC_KEY, instance=instance)
            assert not result.success
            assert result.alerts.note == "alerts: left to the daemon's alert sensors" and not result.alerts.outcomes
            wait_for(lambda: webhook.bodies, "the daemon's alert", 90)  # a loaded CI machine slows the daemon
            run = instance.get_run_by_id(result.dagster_run_id)
            assert run is not None and run.tags[ALERT_TAG] == "failed"
            time.sleep(1)
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
    [text] = webhook.texts
    assert "Managed Client Newsletter: sync failed" in text and result.dagster_run_id in text
    assert "ConnectWise rejected the credentials (HTTP 401" in text
