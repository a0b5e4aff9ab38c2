"""No key or token appears in logs, Dagster metadata or events, run records, error messages or CLI output,
on any error path."""

from __future__ import annotations

import base64
import json
import logging
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
from marketing_pipeline_tests.support import SYNC_KEY

pytestmark = pytest.mark.slow  # every error path, with timeouts

PUBLIC, PRIVATE = "PUB-sekrit-4f1c", "PRIV-sekrit-9a7e"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzZWtyaXQiOjF9.SEKRIT-SIGNATURE-77c2"
WRONG_PRIVATE = "PRIV-wrong-sekrit-0b3d"
WRONG_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJ3cm9uZyI6MX0.WRONG-SEKRIT-SIG-5e8a"
SECRETS = [
    PUBLIC,
    PRIVATE,
    TOKEN,
    WRONG_PRIVATE,
    WRONG_TOKEN,
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
}


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
        for args in (
            ["syncs", "trigger", SYNC_KEY, "--json"],
            ["syncs", "list", "--json"],
            ["runs", "list", SYNC_KEY, "--json"],
            ["syncs", "show", SYNC_KEY],
        ):
            result = runner.invoke(main, args)
            texts += [result.output, result.stderr]
        run_id = json.loads(texts[0])["run"]["id"] if json.loads(texts[0]).get("run") else None
        if run_id:
            texts.append(runner.invoke(main, ["runs", "show", run_id, "--json"]).output)
    texts.append(caplog.text)
    captured = capfd.readouterr()
    texts += [captured.out, captured.err]
    with dg.DagsterInstance.from_config(str(world["home"])) as instance:
        for run in instance.get_runs():
            texts += [json.dumps(run.run_config, default=str), json.dumps(dict(run.tags))]
            texts += [str(entry) for entry in instance.all_logs(run.run_id)]
    for row in world["store"].list_runs(world["store"].get_sync(SYNC_KEY)):
        texts.append(json.dumps(row.to_json_dict(), default=str))
    everything = "\n".join(texts)
    assert len(everything) > 1000  # we really looked at something
    leaked = [secret for secret in SECRETS if secret in everything]
    assert leaked == [], f"{scenario}: leaked {leaked}"
