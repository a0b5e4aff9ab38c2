"""A changed schedule reaches the UI with nobody pressing Reload: the daemon's schedule-state sensor sees
that the webserver (DAGSTER_WEBSERVER_URL) shows schedules behind the MarketingSync rows and reloads the code
location there. A new sync's schedule appears the same way."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from marketing_pipeline.cli import main
from marketing_pipeline.defs.schedules import reload_if_behind
from marketing_pipeline.launch.webserver import DagsterWebserver
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.dagster_processes import (
    daemon_process,
    dagster_home_with_store,
    wait_for,
    webserver_process,
)

NAME = "marketing_sync_managed_client_newsletter"


@pytest.mark.slow  # real dagster-webserver and daemon processes
def test_a_changed_schedule_shows_without_reload(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, _ = dagster_home_with_store(tmp_path, sqlite_url)
    env = {**os.environ, "DAGSTER_HOME": str(home), "MARKETING_DATABASE_URL": sqlite_url}
    env.pop("DAGSTER_WEBSERVER_URL", None)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_WEBSERVER_URL", raising=False)
    with webserver_process(env) as port:
        url = f"http://127.0.0.1:{port}"
        ui = DagsterWebserver(url)
        assert ui.schedule(NAME).cron == "0 6 * * 1"
        with daemon_process({**env, "DAGSTER_WEBSERVER_URL": url}):
            changed = CliRunner().invoke(main, ["syncs", "update", SYNC_KEY, "--weekly", "tue", "--at", "07:15"])
            assert changed.exit_code == 0, changed.output
            created = CliRunner().invoke(
                main,
                [
                    *("syncs", "create", "Second Newsletter", "--tag", "second-newsletter", "--company-type", "1"),
                    *("--company-status", "1", "--contact-type", "2", "--monthly", "1", "--at", "08:00"),
                ],
            )
            assert created.exit_code == 0, created.output
            assert "Dagster: partition second-newsletter added." in created.output
            with dg.DagsterInstance.from_config(str(home)) as instance:
                assert "second-newsletter" in instance.get_dynamic_partitions("marketing_sync")
            wait_for(
                lambda: ui.schedule_crons() == {NAME: "15 7 * * 2", "marketing_sync_second_newsletter": "0 8 1 * *"},
                "the webserver to show the new schedules",
                90,
            )


def test_without_a_webserver_url_the_change_is_said_to_wait(store: SyncStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_WEBSERVER_URL", raising=False)
    assert reload_if_behind([], store.list_syncs()) is None
    note = reload_if_behind([f"{NAME} is now '15 7 * * 2'"], store.list_syncs())
    assert note is not None
    assert note.startswith(f"schedule change waiting for a code location reload: {NAME} is now '15 7 * * 2'.")
    assert "DAGSTER_WEBSERVER_URL" in note


def test_an_unreachable_webserver_is_one_line(store: SyncStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from marketing_pipeline.errors import MarketingPipelineError

    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://user:secret@127.0.0.1:1")
    with pytest.raises(MarketingPipelineError, match="cannot reach the Dagster webserver") as caught:
        reload_if_behind([], store.list_syncs())
    assert "secret" not in str(caught.value)
