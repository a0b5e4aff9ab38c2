"""Pause/Resume with a real dagster-webserver and dagster-daemon: the UI's schedule toggle (the same
startSchedule / stopRunningSchedule mutations the UI sends), the CLI without --dagster-url, and the NestJS
app writing the row all end with the toggle and MarketingSync.enabled agreeing; no tick runs twice."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from sqlalchemy import update

from marketing_pipeline.cli import main
from marketing_pipeline.launch.webserver import DagsterWebserver
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.repository import utcnow
from marketing_pipeline.store.schema import marketing_sync
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.dagster_processes import (
    daemon_process,
    dagster_home_with_store,
    wait_for,
    webserver_process,
)

pytestmark = pytest.mark.slow  # real dagster-webserver and daemon processes

NAME = "marketing_sync_managed_client_newsletter"
AGREE_WITHIN = 75  # the sensor ticks every 30 s; the daemon's sensor loop adds a few seconds


def test_the_toggle_and_the_row_follow_each_other(
    tmp_path: Path, sqlite_url: str, sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tick every minute while the test runs.
    home, store = dagster_home_with_store(tmp_path, sqlite_url, lambda s: s.update_sync(SYNC_KEY, schedule="* * * * *"))
    env = {**os.environ, **sandboxes.env(), "DAGSTER_HOME": str(home), "MARKETING_DATABASE_URL": sqlite_url}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_WEBSERVER_URL", raising=False)
    env.pop("DAGSTER_WEBSERVER_URL", None)

    with webserver_process(env) as port, daemon_process(env) as daemon:
        ui = DagsterWebserver(f"http://127.0.0.1:{port}")
        assert ui.schedule(NAME).status == "RUNNING"

        # The UI's toggle pauses: the row follows.
        assert ui.toggle(NAME, running=False) == "STOPPED"
        wait_for(lambda: not store.get_sync(SYNC_KEY).enabled, "the row to say paused", AGREE_WITHIN)
        assert CliRunner().invoke(main, ["syncs", "list", "--json"]).output.count('"enabled": false') == 1

        # The CLI resumes, with no webserver flag: the toggle follows.
        resumed = CliRunner().invoke(main, ["syncs", "update", SYNC_KEY, "--enable"])
        assert resumed.exit_code == 0, resumed.output
        wait_for(lambda: ui.schedule(NAME).status == "RUNNING", "the toggle to say running", AGREE_WITHIN)

        # The NestJS app pauses by writing the row: the toggle follows.
        with get_engine(sqlite_url).begin() as conn:
            conn.execute(
                update(marketing_sync)
                .where(marketing_sync.c.id == store.get_sync(SYNC_KEY).id)
                .values(enabled=False, updatedAt=utcnow())
            )
        wait_for(lambda: ui.schedule(NAME).status == "STOPPED", "the toggle to say stopped", AGREE_WITHIN)

        # The UI resumes again: the row follows.
        assert ui.toggle(NAME, running=True) == "RUNNING"
        wait_for(lambda: store.get_sync(SYNC_KEY).enabled, "the row to say resumed", AGREE_WITHIN)
        assert daemon.poll() is None

        with dg.DagsterInstance.from_config(str(home)) as instance:

            def scheduled_runs() -> list[dg.DagsterRun]:
                return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/schedule_name": NAME})))

            # Usually there already are some; on a loaded machine the running schedule's next tick is awaited.
            wait_for(scheduled_runs, "a scheduled run while the schedule runs", 100)
            runs = scheduled_runs()
    run_keys = Counter(run.tags.get("dagster/run_key") for run in runs)
    assert all(count == 1 for count in run_keys.values()), run_keys
