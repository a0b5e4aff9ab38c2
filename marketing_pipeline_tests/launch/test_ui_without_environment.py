"""A newcomer's run launched from the UI with no API keys in the environment fails with the CLI's one line
(naming what to set), not a Python traceback."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner
from dagster_graphql import DagsterGraphQLClient

from marketing_pipeline import settings
from marketing_pipeline.cli import main
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.dagster_processes import dagster_home_with_store, webserver_process

pytestmark = pytest.mark.slow  # a real dagster-webserver


def test_a_ui_run_without_the_environment_fails_with_the_clis_line(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, store = dagster_home_with_store(tmp_path, sqlite_url)
    env = {name: value for name, value in os.environ.items() if name not in settings.REQUIRED}
    env.update({"DAGSTER_HOME": str(home), "MARKETING_DATABASE_URL": sqlite_url})
    for name in settings.REQUIRED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("MARKETING_DATABASE_URL", sqlite_url)
    cli = CliRunner().invoke(main, ["syncs", "trigger", SYNC_KEY])
    assert cli.exit_code == 1
    cli_line = cli.stderr.removeprefix("error: ").strip()
    assert cli_line.startswith("set CW_PUBLIC_KEY, CW_PRIVATE_KEY, CW_CLIENT_ID, ENCHARGE_REST_API_KEY first")

    with webserver_process(env) as port:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        run_id = client.submit_job_execution(
            "marketing_sync_job",
            repository_location_name="marketing_pipeline",
            repository_name="__repository__",
            tags={"dagster/partition": SYNC_KEY},
        )
        deadline = time.monotonic() + 120
        status = client.get_run_status(run_id)
        while status not in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE):
            assert time.monotonic() < deadline, "the run did not finish"
            time.sleep(1)
            status = client.get_run_status(run_id)
    assert status == dg.DagsterRunStatus.FAILURE
    with dg.DagsterInstance.from_config(str(home)) as instance:
        failures = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    assert failures, "the run failed in a step, not while resolving its config"
    for record in failures:
        error = record.event_log_entry.dagster_event.step_failure_data
        assert error.user_failure_data is not None  # a Failure: the UI shows its description, no traceback
        assert error.user_failure_data.description == cli_line
    row = store.get_run(run_id)
    assert (row.status, row.error_message) == ("failed", cli_line)
