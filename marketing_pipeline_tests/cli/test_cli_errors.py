"""Every failure a careless operator can cause: one plain line on stderr (no module path, no class name,
no secret), a non-zero exit code, and nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from marketing_pipeline.cli import main
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.schema import marketing_sync
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync

CLASS_NAMES = ("Error:", "Exception", "dagster._", "Failure:", "Traceback", "sqlalchemy.", "psycopg2.")


def plain_failure(result: Result, starts: str, code: int = 1) -> str:
    assert result.exit_code == code, (result.exit_code, result.output)
    line = result.stderr
    assert line.startswith(starts), line
    assert line.count("\n") == 1, line
    assert not any(name in line for name in CLASS_NAMES), line
    return line


@pytest.fixture
def env(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, sandboxes: Sandboxes) -> Sandboxes:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MARKETING_DATABASE_URL", sqlite_url)
    for name, value in sandboxes.env().items():
        monkeypatch.setenv(name, value)
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    adopt_first_sync(sqlite_url)
    return sandboxes


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def saved() -> tuple[str, bool]:
    data = json.loads(run("syncs", "show", SYNC_KEY, "--json").stdout)
    return data["schedule"], data["enabled"]


def test_a_failed_sync_run_goes_to_stderr(env: Sandboxes) -> None:
    env.connectwise.faults.inject(403)
    result = run("syncs", "trigger", SYNC_KEY)
    assert result.stdout == ""
    line = plain_failure(result, "error: the sync failed: ConnectWise refused access")
    assert "(run " in line and "Dagster run " in line
    env.connectwise.faults.inject(403)
    as_json = run("syncs", "trigger", SYNC_KEY, "--json")
    assert json.loads(as_json.stdout)["run"]["status"] == "failed"  # the record stays on stdout
    plain_failure(as_json, "error: the sync failed: ConnectWise refused access")


def test_a_failure_raised_by_dagster_reads_as_plain_words(env: Sandboxes, sqlite_url: str) -> None:
    """The brake raises Dagster's Failure: its message is shown, not `dagster._core...Failure: ...`."""
    assert run("syncs", "trigger", SYNC_KEY).exit_code == 0
    with get_engine(sqlite_url).begin() as conn:  # a filter nobody passes: everyone would lose the tag
        conn.execute(
            update(marketing_sync).values(
                filterConfig={
                    "companyTypes": [999],
                    "companyExcludeTypes": [],
                    "companyStatuses": [1],
                    "contactTypes": [1],
                    "contactExcludeTypes": [],
                }
            )
        )
    line = plain_failure(run("syncs", "trigger", SYNC_KEY), "error: the sync failed: sync ")
    assert "--force" in line or "force" in line


@pytest.mark.parametrize(
    "args, starts, code",
    [
        (("runs", "list", SYNC_KEY, "--offset", "99999999999999999999"), "Usage:", 2),
        (("runs", "list", SYNC_KEY, "--limit", "100000"), "Usage:", 2),
        (("sandbox", "--cw-port", "99999"), "Usage:", 2),
        (("sandbox", "--cw-port", "abc"), "Usage:", 2),
        (("sandbox", "--encharge-hidden-limit", "-1"), "Usage:", 2),
        (("sandbox", "--encharge-hidden-burst", "lots"), "Usage:", 2),
        (("demo", "--size", "99999999999"), "Usage:", 2),
        (("runs", "show", "run\x00id"), "error: no run 'run\\x00id'", 1),
        (("syncs", "show", "sync\x00"), "error: no sync 'sync\\x00'", 1),
    ],
)
def test_out_of_range_numbers_and_bad_arguments(env: Sandboxes, args: tuple[str, ...], starts: str, code: int) -> None:
    result = run(*args)
    assert result.exit_code == code and result.stdout == ""
    assert result.stderr.startswith(starts) or starts in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "OverflowError" not in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("--enable", "--disable"), "error: give --enable or --disable, not both"),
        (("--disable", "--schedule", "0 6 31 2 *"), "error: schedule: '0 6 31 2 *'"),
        (("--disable", "--schedule", "0 6 1W * *"), "error: schedule: '0 6 1W * *'"),
        (("--disable", "--schedule", "0 6 31 4 *"), "error: schedule: '0 6 31 4 *'"),
        (("--disable", "--monthly", "31"), "error: --monthly takes a day from 1 to 28"),
        (
            ("--disable", "--dagster-url", "http://127.0.0.1:port"),
            "error: --dagster-url has a port that is not a number",
        ),
        (("--disable", "--dagster-url", "127.0.0.1:3000"), "error: --dagster-url must be an http:// or https:// URL"),
    ],
)
def test_an_update_with_any_error_writes_nothing(env: Sandboxes, args: tuple[str, ...], message: str) -> None:
    plain_failure(run("syncs", "update", SYNC_KEY, *args), message)
    assert saved() == ("0 6 * * 1", True)


def test_a_row_with_a_bad_cron_breaks_no_listing(env: Sandboxes, sqlite_url: str) -> None:
    with get_engine(sqlite_url).begin() as conn:
        conn.execute(update(marketing_sync).values(schedule="0 6 31 2 *"))
    listing = run("syncs", "list")
    assert listing.exit_code == 0 and "! sync 'Managed Client Newsletter': schedule: '0 6 31 2 *'" in listing.stdout
    assert "Next run: -" in listing.stdout
    assert run("syncs", "show", SYNC_KEY).exit_code == 0
    assert json.loads(run("syncs", "list", "--json").stdout)[0]["nextRunAt"] is None
    plain_failure(run("syncs", "update", SYNC_KEY, "--enable"), "error: sync 'Managed Client Newsletter' cannot be")
    assert run("syncs", "update", SYNC_KEY, "--schedule", "0 6 28 2 *").exit_code == 0


def test_webserver_credentials_are_never_printed(env: Sandboxes) -> None:
    result = run("syncs", "update", SYNC_KEY, "--disable", "--dagster-url", "http://ops:sekrit-pass@127.0.0.1:1")
    assert result.exit_code == 0  # saved; the webserver could not be told, and the warning says so
    assert "warning: saved, but Dagster was not updated: cannot reach the Dagster webserver at " in result.stderr
    assert "http://ops:***@127.0.0.1:1/graphql" in result.stderr
    assert "sekrit" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "variable, value, message",
    [
        (
            "MARKETING_DATABASE_URL",
            "postgres://u:sekrit@127.0.0.1/db",
            "error: MARKETING_DATABASE_URL starts with postgres://",
        ),
        (
            "MARKETING_DATABASE_URL",
            "postgresql://u:sekrit@127.0.0.1:abc/db",
            "error: MARKETING_DATABASE_URL has a port",
        ),
        (
            "MARKETING_DATABASE_URL",
            "postgresql://u@127.0.0.1:1/db?password=sekrit",
            "error: cannot use the marketing database postgresql://u@127.0.0.1:1/db?password=*** ",
        ),
    ],
)
def test_database_urls_that_cannot_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv(variable, value)
    for args in (("syncs", "list"), ("init",), ("runs", "list", SYNC_KEY)):
        line = plain_failure(run(*args), message)
        assert "sekrit" not in line


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("CW_CONCURRENCY", "abc", "error: CW_CONCURRENCY must be a number, not 'abc'"),
        ("MARKETING_HTTP_TIMEOUT_SECONDS", "0", "error: MARKETING_HTTP_TIMEOUT_SECONDS must be above 0"),
        ("ENCHARGE_BATCH_SIZE", "1e400", "error: ENCHARGE_BATCH_SIZE must be a number"),
        ("ENCHARGE_REST_API_KEY", "sekrit\nsplit", "error: ENCHARGE_REST_API_KEY contains a control character"),
        ("CW_PRIVATE_KEY", "sekrit\x1b[0m", "error: CW_PRIVATE_KEY contains a control character"),
        ("CW_BASE_URL", "http://127.0.0.1:port/", "error: the sync failed: CW_BASE_URL has a port"),
    ],
)
def test_bad_environment_values(
    env: Sandboxes, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    line = plain_failure(run("syncs", "trigger", SYNC_KEY), message)
    assert "sekrit" not in line


def test_dagster_postgres_url_must_be_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MARKETING_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", "postgres://dagster:sekrit@127.0.0.1/dagster")
    line = plain_failure(run("init"), "error: DAGSTER_POSTGRES_URL starts with postgres://")
    assert "postgresql://" in line and "sekrit" not in line


def test_an_unexpected_error_is_plain_words(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import marketing_pipeline.cli.syncs as syncs_module

    def broken() -> None:
        raise ValueError("Attempted to set connect timeout to 0\nmore")

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setattr(syncs_module, "open_store", broken)
    result = run("syncs", "list")
    assert result.stderr == (
        "error: unexpected failure: Attempted to set connect timeout to 0 "
        "(set MARKETING_PIPELINE_DEBUG=1 for the traceback)\n"
    )


@pytest.mark.slow  # a real CLI process
def test_a_closed_pipe_ends_quietly(env: Sandboxes, tmp_path: Path) -> None:
    cli = str(Path(sys.executable).with_name("marketing-pipeline"))
    reader, writer = os.pipe()
    os.close(reader)  # like `| head` that has already exited
    try:
        finished = subprocess.run(
            [cli, "syncs", "list", "--json"], stdout=writer, stderr=subprocess.PIPE, text=True, timeout=120
        )
    finally:
        os.close(writer)
    assert finished.stderr == ""
    assert finished.returncode != 0
