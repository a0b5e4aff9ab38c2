"""No key, token or password appears in logs, Dagster metadata or events, compute logs, run records, error
messages, CLI output or the code server's warnings, on any error path: keys pasted with a line break,
database passwords given in the URL (also as `?password=`), webserver credentials."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner

from marketing_pipeline.cli import main
from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
from marketing_pipeline.sandbox.dataset import generate
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.server import Fault
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync

pytestmark = pytest.mark.slow  # every error path, with timeouts

PUBLIC, PRIVATE = "PUB-sekrit-4f1c", "PRIV-sekrit-9a7e"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzZWtyaXQiOjF9.SEKRIT-SIGNATURE-77c2"
WRONG_PRIVATE = "PRIV-wrong-sekrit-0b3d"
WRONG_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ3cm9uZyI6MX0.WRONG-SEKRIT-SIG-5e8a"
DB_PASSWORD = "db-sekrit-3c9d"
WEB_PASSWORD = "web-sekrit-6f21"
SPLIT_PRIVATE = PRIVATE[:8] + "\n" + PRIVATE[8:]  # "PRIV-sek" / "rit-9a7e": a line break pasted inside
SECRETS = [
    PUBLIC,
    PRIVATE,
    TOKEN,
    WRONG_PRIVATE,
    WRONG_TOKEN,
    DB_PASSWORD,
    WEB_PASSWORD,
    PRIVATE[:8],
    PRIVATE[8:],
    TOKEN[:30],
    base64.b64encode(f"acme+{PUBLIC}:{PRIVATE}".encode()).decode(),
    base64.b64encode(f"acme+{PUBLIC}:{WRONG_PRIVATE}".encode()).decode(),
]

SCENARIOS = {
    "success": ({}, None),
    "wrong ConnectWise key": ({"CW_PRIVATE_KEY": WRONG_PRIVATE}, None),
    "wrong Encharge token": ({"ENCHARGE_REST_API_KEY": WRONG_TOKEN}, None),
    "Encharge 401 mid-run": ({}, ("encharge", "/v1/tags", [Fault(status=401)])),
    "ConnectWise 503 until it gives up": ({}, ("connectwise", "company/companies", [Fault(status=503)] * 6)),
    "Encharge timeouts": ({}, ("encharge", "/people/all", [Fault(kind="slow", seconds=1.5)] * 6)),
    "non-JSON body": ({}, ("encharge", "/people/all", [Fault(kind="non_json")] * 6)),
    "a contact Encharge refuses": (
        {},
        ("encharge", "/v1/people$", [Fault(status=400, body={"error": {"message": "Invalid email"}})]),
    ),
    "Encharge key pasted with its newline": ({"ENCHARGE_REST_API_KEY": TOKEN + "\n"}, None),
    "a line break inside the ConnectWise key": ({"CW_PRIVATE_KEY": SPLIT_PRIVATE}, None),
    "webserver credentials in DAGSTER_WEBSERVER_URL": (
        {"DAGSTER_WEBSERVER_URL": f"http://ops:{WEB_PASSWORD}@127.0.0.1:1"},
        None,
    ),
}


def compute_logs(home: Path) -> list[str]:
    """Everything the runs' steps printed, as Dagster keeps it (what the UI's compute logs show)."""
    return [path.read_text(errors="replace") for path in home.glob("storage/*/compute_logs/*") if path.is_file()]


def dagster_records(home: Path) -> list[str]:
    """Every run's config, tags and event log entries (what read-only users of the UI can see)."""
    texts: list[str] = []
    if not home.is_dir():  # nothing reached Dagster
        return texts
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs():
            texts += [json.dumps(run.run_config, default=str), json.dumps(dict(run.tags))]
            texts += [str(entry) for entry in instance.all_logs(run.run_id)]
    return texts


def leaked(texts: list[str]) -> list[str]:
    everything = "\n".join(texts)
    assert len(everything) > 1000  # we really looked at something
    return [secret for secret in SECRETS if secret in everything]


@pytest.fixture
def world(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    data = generate()
    with (
        ConnectWiseSandbox(
            data.companies, data.contacts, company_id="acme", public_key=PUBLIC, private_key=PRIVATE
        ) as cw,
        EnchargeSandbox(data.people, token=TOKEN) as en,
    ):
        initialise_store(sqlite_url)
        adopt_first_sync(sqlite_url)
        monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("MARKETING_DATABASE_URL", sqlite_url)
        for name, value in {**cw.env(), **en.env()}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("MARKETING_HTTP_TIMEOUT_SECONDS", "1")
        monkeypatch.setenv("MARKETING_HTTP_MAX_ATTEMPTS", "2")
        yield {"connectwise": cw, "encharge": en, "store": SyncStore(sqlite_url), "home": tmp_path / "home"}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_no_secret_leaks(
    world: dict[str, Any],
    scenario: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    env, fault = SCENARIOS[scenario]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if fault:
        server, path, faults = fault
        world[server].faults.inject(*faults, path=path)
    monkeypatch.setenv("CW_CONCURRENCY", "1")
    runner = CliRunner()
    texts: list[str] = []
    with caplog.at_level(logging.DEBUG):
        triggered = runner.invoke(main, ["syncs", "trigger", SYNC_KEY, "--json"])
        texts += [triggered.stdout, triggered.stderr]
        for args in (
            ["syncs", "list", "--json"],
            ["runs", "list", SYNC_KEY, "--json"],
            ["syncs", "show", SYNC_KEY],
            ["syncs", "update", SYNC_KEY, "--enable"],
            *([["check", "--json"]] if env or scenario == "success" else []),  # the settings scenarios
        ):
            result = runner.invoke(main, args)
            texts += [result.stdout, result.stderr]
        payload = json.loads(triggered.stdout) if triggered.stdout.strip() else {}
        if payload.get("run"):
            texts.append(runner.invoke(main, ["runs", "show", payload["run"]["id"], "--json"]).output)
    texts.append(caplog.text)
    captured = capfd.readouterr()
    texts += [captured.out, captured.err]
    texts += dagster_records(world["home"]) + compute_logs(world["home"])
    for row in world["store"].list_runs(world["store"].get_sync(SYNC_KEY)):
        texts.append(json.dumps(row.to_json_dict(), default=str))
    assert leaked(texts) == [], f"{scenario}: leaked {leaked(texts)}"
    if scenario == "a line break inside the ConnectWise key":
        assert triggered.stderr.startswith("error: CW_PRIVATE_KEY contains a control character")
    if scenario == "Encharge key pasted with its newline":
        assert json.loads(triggered.stdout)["success"] is True  # stripped where it is read


REPO = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).with_name("dg")


def launch(home: Path) -> dg.ExecuteInProcessResult:
    """The sync job launched through Dagster on the instance in `home`, as the webserver or daemon would
    (the code location loaded from the environment, no CLI checks first)."""
    from marketing_pipeline.definitions import defs
    from marketing_pipeline.launch.home import ensure_dagster_home

    assert ensure_dagster_home() == home.resolve()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        if SYNC_KEY not in instance.get_dynamic_partitions("marketing_sync"):
            instance.add_dynamic_partitions("marketing_sync", [SYNC_KEY])
        job = defs().resolve_job_def("marketing_sync_job")
        return job.execute_in_process(partition_key=SYNC_KEY, instance=instance, raise_on_error=False)


def test_a_key_with_a_line_break_fails_at_once_inside_a_run(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the CLI's own check (a run from the UI, say): refused where the resource reads it, by name,
    without retries (no 25 s of them for an `InvalidHeader`) and without the key anywhere."""
    monkeypatch.setenv("ENCHARGE_REST_API_KEY", TOKEN[:30] + "\n" + TOKEN[30:])
    monkeypatch.setenv("MARKETING_HTTP_MAX_ATTEMPTS", "6")
    started = time.perf_counter()
    with caplog.at_level(logging.DEBUG):
        result = launch(world["home"])
    elapsed = time.perf_counter() - started
    assert not result.success and elapsed < 15
    assert world["encharge"].request_count() == 0
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert "ENCHARGE_REST_API_KEY contains a control character" in failure.message
    row = world["store"].last_run(world["store"].get_sync(SYNC_KEY))
    assert row.status == "failed" and row.error_message.startswith("ENCHARGE_REST_API_KEY contains a control")
    texts = [caplog.text, json.dumps(row.to_json_dict(), default=str)]
    texts += dagster_records(world["home"]) + compute_logs(world["home"])
    assert leaked(texts) == []


def test_a_database_password_in_the_url_never_shows(
    world: dict[str, Any],
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """`?password=` and `user:password@` in MARKETING_DATABASE_URL, with the database up (PostgreSQL's
    trust auth takes any password) and down: CLI output, code-server warnings, event log, compute logs."""
    home: Path = world["home"]
    runner = CliRunner()
    texts: list[str] = []
    up = f"{pg_url}?password={DB_PASSWORD}&connect_timeout=5"
    down = f"postgresql://nobody:{DB_PASSWORD}@127.0.0.1:1/marketing?password={DB_PASSWORD}"
    for url in (up, down):
        monkeypatch.setenv("MARKETING_DATABASE_URL", url)
        with caplog.at_level(logging.DEBUG):
            for args in (
                ["init"],
                ["syncs", "trigger", SYNC_KEY],
                ["syncs", "list"],
                ["syncs", "show", SYNC_KEY, "--json"],
                ["runs", "list", SYNC_KEY],
            ):
                result = runner.invoke(main, args)
                texts += [result.stdout, result.stderr]
                if args == ["init"] and url == up:
                    adopt_first_sync(url)
            assert launch(home).success is (url == up)  # down: the step fails, naming the database
        code_server = subprocess.run(
            [str(DG), "check", "defs"],
            cwd=REPO,
            env={**os.environ, "HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=180,
        )
        texts += [code_server.stdout, code_server.stderr]
    # Down: the last known schedules (saved while the database was up) are used, with the reason, scrubbed.
    assert "last known" in code_server.stderr
    assert "cannot use the marketing database postgresql://nobody:***@" in code_server.stderr
    assert "store: postgresql://" in texts[0] and "password=***" in texts[0]
    texts.append(caplog.text)
    captured = capfd.readouterr()
    texts += [captured.out, captured.err]
    texts += dagster_records(home) + compute_logs(home)
    assert any("cannot use the marketing database" in text for text in dagster_records(home))
    assert leaked(texts) == []


def test_webserver_credentials_never_show(world: dict[str, Any], capfd: pytest.CaptureFixture[str]) -> None:
    url = f"http://ops:{WEB_PASSWORD}@127.0.0.1:1"
    runner = CliRunner()
    texts = []
    for args in (["--dagster-url", url], ["--dagster-url", url + ":x"], ["--dagster-url", url.replace("http", "ftp")]):
        result = runner.invoke(main, ["syncs", "update", SYNC_KEY, "--enable", *args])
        texts += [result.stdout, result.stderr]
    captured = capfd.readouterr()
    texts += [captured.out, captured.err, "x" * 1000]
    assert leaked(texts) == []
    assert "http://ops:***@127.0.0.1:1/graphql" in "".join(texts)
