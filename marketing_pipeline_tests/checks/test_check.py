"""`marketing-pipeline check` against the sandboxes, a real store and a Dagster instance: right when all is
right, and with each thing wrong in turn it says what to fix in one line, leaves the rest alone, exits 1,
keeps every secret out, and writes nothing anywhere."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from marketing_pipeline.cli import main
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.database import connect
from marketing_pipeline.store.migrate import MIGRATIONS
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.alerts import Mailbox, WebhookListener

CHECKS = [
    "connectwise.site",
    "connectwise.keys",
    "connectwise.role",
    "connectwise.ids",
    "encharge.account",
    "store.database",
    "store.syncs",
    "dagster.instance",
    "dagster.daemon",
    "dagster.webserver",
    "alerts.webhook",
    "alerts.email",
]


@dataclass
class Deployment:
    """A deployment pointed at the sandboxes: CW_SITE (companyinfo finds the codebase), the keys, an
    initialised store and instance folder."""

    boxes: Sandboxes
    store: SyncStore
    home: Path
    monkeypatch: pytest.MonkeyPatch

    def check(self, *args: str) -> tuple[int, dict[str, Any], dict[str, dict[str, Any]]]:
        result = CliRunner().invoke(main, ["check", "--json", *args])
        assert result.exit_code in (0, 1), result.output + result.stderr
        report = json.loads(result.stdout)
        by_id: dict[str, dict[str, Any]] = {}
        for item in report["checks"]:
            by_id.setdefault(item["id"], item)
        return result.exit_code, report, by_id

    def set(self, **env: str | None) -> None:
        for name, value in env.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)


@pytest.fixture
def deployment(tmp_path: Path, sqlite_url: str, sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    home = tmp_path / "home"
    env = {**sandboxes.env(), "DAGSTER_HOME": str(home), "MARKETING_DATABASE_URL": sqlite_url}
    env.pop("CW_BASE_URL")
    env["CW_SITE"] = sandboxes.connectwise.root_url  # http on loopback only: the sandbox
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    return Deployment(sandboxes, SyncStore(sqlite_url), home, monkeypatch)


def test_a_deployment_that_is_right_says_so_in_one_line_each(deployment: Deployment) -> None:
    code, report, by_id = deployment.check()
    assert [c["id"] for c in report["checks"]] == CHECKS
    statuses = {c["id"]: c["status"] for c in report["checks"]}
    assert statuses == {
        **dict.fromkeys(CHECKS, "ok"),
        "dagster.instance": "warn",  # SQLite storage: fine on one machine only
        "dagster.daemon": "warn",  # none running
        "dagster.webserver": "off",
        "alerts.webhook": "off",
        "alerts.email": "off",
    }
    assert code == 0 and report["ok"] is True and report["exitCode"] == 0
    assert "company 'sandbox' on codebase v2025_1/ at http://127.0.0.1:" in by_id["connectwise.site"]["message"]
    keys = by_id["connectwise.keys"]["message"]
    assert "keys and clientId accepted for company 'sandbox' (ConnectWise v2025.1" in keys
    ids = by_id["connectwise.ids"]
    assert ids["subject"] == SYNC_KEY
    assert ids["message"] == (
        "company types 48 Fully Managed (not 35 Owner, 5 Partner); statuses 1 Active, 19 Active - Onboarding; "
        "contact types 1 Approver, 2 Decision Maker, 21 AM Point of Contact (not 19 Managed Group)"
    )
    assert by_id["encharge.account"]["message"] == "account 'Sandbox' (active): 82 people"
    assert "migrations at head" in by_id["store.database"]["message"]
    assert f"1 sync: {SYNC_KEY} (Active, next " in by_id["store.syncs"]["message"]
    assert "no daemon has ever heartbeated" in by_id["dagster.daemon"]["message"]
    assert all(c["seconds"] < 10 for c in report["checks"])
    assert CliRunner().invoke(main, ["check", "--strict"]).exit_code == 1  # the warnings count


def test_the_text_report_is_one_line_per_check_and_a_summary(deployment: Deployment) -> None:
    result = CliRunner().invoke(main, ["check"])
    lines = result.stdout.splitlines()
    assert len(lines) == len(CHECKS) + 1
    assert lines[0].startswith("ok    ConnectWise site ")
    assert any(line.startswith("WARN  Dagster daemon ") for line in lines)
    assert lines[-1].startswith("nothing to fix, 2 warnings, 7 ok, 3 off (")


def test_check_writes_nothing_before_init(
    tmp_path: Path, sandboxes: Sandboxes, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for name, value in sandboxes.env().items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["check", "--json"])
    assert result.exit_code == 1
    by_id = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    assert by_id["connectwise.ids"]["message"].endswith("(as `init` will create it)")  # the first sync's ids
    assert "run `marketing-pipeline init`" in by_id["store.database"]["message"]
    assert by_id["store.syncs"]["status"] == "skipped"
    assert by_id["dagster.instance"]["message"].startswith(f"no dagster.yaml in {home.resolve()}")
    assert not home.exists()  # no instance folder, no SQLite file, no schedule
    assert sandboxes.encharge.request_count("POST") + sandboxes.encharge.request_count("DELETE") == 0


def test_check_writes_nothing_to_an_initialised_deployment(deployment: Deployment) -> None:
    def state() -> tuple[Any, ...]:
        with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
            runs = len(instance.get_runs())
            ticks = instance.all_instigator_state()
        sync = deployment.store.get_sync(SYNC_KEY)
        files = sorted((p.name, p.stat().st_size) for p in deployment.home.rglob("*") if p.is_file())
        return runs, len(ticks), sync.model_dump(), deployment.store.count_runs(sync), files

    before = state()
    deployment.check()
    assert state() == before


def _one_wrong(deployment: Deployment, wrong: str) -> Callable[[], None]:
    boxes = deployment.boxes

    def with_company_types(*ids: int) -> dict[str, Any]:
        filters = deployment.store.get_sync(SYNC_KEY).filter_config
        assert filters is not None
        return {**filters.model_dump(by_alias=True), "companyTypes": list(ids)}

    return {
        "bad site": lambda: deployment.set(CW_SITE="http://127.0.0.1:1"),
        "unknown company id": lambda: deployment.set(CW_COMPANY_ID="nobody-here"),
        "bad keys": lambda: deployment.set(CW_PRIVATE_KEY="not-the-private-key"),
        "missing clientId": lambda: deployment.set(CW_CLIENT_ID=None),
        "wrong clientId": lambda: deployment.set(CW_CLIENT_ID="11111111-2222-4333-8444-555555555555"),
        "a role hiding contacts' types": lambda: boxes.connectwise.set_modes(
            {"hidden_fields": {"contacts": ["types"]}}
        ),
        "a role hiding contacts' companies": lambda: boxes.connectwise.set_modes({"blank_company": True}),
        "an id with no name": lambda: deployment.store.update_sync(SYNC_KEY, filter_config=with_company_types(48, 99)),
        "a bad Encharge key": lambda: deployment.set(ENCHARGE_REST_API_KEY="eyJhbGciOiJIUzI1NiJ9.e30.d3Jvbmc"),
        "the marketing database unreachable": lambda: deployment.set(
            MARKETING_DATABASE_URL="postgresql://nobody@127.0.0.1:1/marketing"
        ),
    }[wrong]


WRONG = {
    # what is wrong: (the check that says so, what it says, the checks it leaves unchecked)
    "bad site": ("connectwise.site", "cannot reach http://127.0.0.1:1 (connection refused): check CW_SITE, your "
                 "region's api- host", {"connectwise.keys", "connectwise.role", "connectwise.ids"}),
    "unknown company id": ("connectwise.site", "knows no company 'nobody-here' (HTTP 404): check CW_COMPANY_ID",
                           {"connectwise.keys", "connectwise.role", "connectwise.ids"}),
    "bad keys": ("connectwise.keys", "ConnectWise rejected the credentials (HTTP 401 on /system/info): check "
                 "CW_COMPANY_ID, CW_PUBLIC_KEY and CW_PRIVATE_KEY", {"connectwise.role", "connectwise.ids"}),
    "missing clientId": ("connectwise.keys", "CW_CLIENT_ID is not set: the integration's clientId (register it on "
                         "the ConnectWise Developer Network)", {"connectwise.role", "connectwise.ids"}),
    "wrong clientId": ("connectwise.keys", "ConnectWise refused the clientId (HTTP 401 on /system/info",
                       {"connectwise.role", "connectwise.ids"}),
    "a role hiding contacts' types": ("connectwise.role", "security role (ConnectWise: System > Security Roles) "
                                      "hides `types` on contacts (no record of the 15 companies and 50 contacts read",
                                      set()),
    "a role hiding contacts' companies": ("connectwise.role", "hides `company` on contacts", set()),
    "an id with no name": ("connectwise.ids", "ConnectWise has no company type 99 (companyTypes): correct the "
                           "sync's filter", set()),
    "a bad Encharge key": ("encharge.account", "Encharge rejected the API key (HTTP 401", set()),
    "the marketing database unreachable": ("store.database", "cannot use the marketing database "
                                           "postgresql://nobody@127.0.0.1:1/marketing (check MARKETING_DATABASE_URL)",
                                           {"store.syncs"}),
}  # fmt: skip


@pytest.mark.parametrize("wrong", list(WRONG))
def test_each_thing_wrong_in_turn_is_named_with_what_to_fix(deployment: Deployment, wrong: str) -> None:
    _one_wrong(deployment, wrong)()
    code, report, by_id = deployment.check()
    check, says, unchecked = WRONG[wrong]
    assert code == 1 and report["ok"] is False
    assert by_id[check]["status"] == "fix"
    assert says in by_id[check]["message"]
    fixes = {c["id"] for c in report["checks"] if c["status"] == "fix"}
    assert fixes == {check}
    assert {c["id"] for c in report["checks"] if c["status"] == "skipped"} == unchecked
    assert "\n" not in by_id[check]["message"]


def test_a_database_behind_on_migrations_says_how_far(deployment: Deployment, pg_url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    first = list(script.walk_revisions())[-1].revision  # the oldest migration
    head = script.get_current_head()
    behind = len(list(script.iterate_revisions(head, first)))
    with connect(pg_url, create=True) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, first)
    deployment.set(MARKETING_DATABASE_URL=pg_url)
    code, _, by_id = deployment.check()
    assert code == 1
    assert by_id["store.database"]["message"] == (
        f"{pg_url} is {behind} migration{'s' if behind != 1 else ''} behind (at {first}, head {head}): run "
        "`marketing-pipeline init` (it migrates, and adds nothing that is already there)"
    )
    assert by_id["store.syncs"]["status"] == "skipped"
    assert by_id["connectwise.ids"]["message"].endswith("(as `init` will create it)")


def test_a_missing_instance_setting_is_something_to_fix(deployment: Deployment) -> None:
    (deployment.home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    _, _, by_id = deployment.check()
    message = by_id["dagster.instance"]["message"]
    assert by_id["dagster.instance"]["status"] == "fix"
    assert "lacks run_coordinator, concurrency, run_monitoring, run_retries, retention (the run queue" in message


def test_dagster_storage_in_postgresql_unreachable_or_without_tables(deployment: Deployment, pg_url: str) -> None:
    (deployment.home / "dagster.yaml").write_text(
        (deployment.home / "dagster.yaml").read_text()
        + "storage:\n  postgres:\n    postgres_url:\n      env: DAGSTER_POSTGRES_URL\n"
    )
    _, _, by_id = deployment.check()
    assert by_id["dagster.instance"]["message"].endswith("from DAGSTER_POSTGRES_URL, which is not set")
    deployment.set(DAGSTER_POSTGRES_URL=pg_url)
    _, _, by_id = deployment.check()
    assert by_id["dagster.instance"]["message"] == f"{pg_url} has no Dagster tables yet: run `marketing-pipeline init`"
    deployment.set(DAGSTER_POSTGRES_URL="postgresql://dagster:pw-sekrit-1@127.0.0.1:1/dagster")
    result = CliRunner().invoke(main, ["check"])
    assert "cannot reach Dagster's storage database postgresql://dagster:***@127.0.0.1:1/dagster" in result.stdout
    assert "pw-sekrit-1" not in result.stdout
    assert re.search(r"\nskip  Dagster daemon +not checked: needs a Dagster instance that can be opened", result.stdout)


def test_alert_channels_and_a_test_message(
    deployment: Deployment, webhook: WebhookListener, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp
    deployment.set(
        MARKETING_ALERT_WEBHOOK_URL=webhook.url,
        MARKETING_ALERT_EMAIL_TO="ops@example.com",
        MARKETING_ALERT_EMAIL_FROM="pipeline@example.com",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(port),
    )
    _, _, by_id = deployment.check()
    assert by_id["alerts.webhook"]["message"] == (
        "configured: a JSON POST to 127.0.0.1:" + webhook.url.split(":")[2].split("/")[0]
        + " (`--send-test-alert` sends a test message)"
    )  # fmt: skip
    assert by_id["alerts.email"]["message"].startswith(f"configured: to ops@example.com via 127.0.0.1:{port}")
    assert webhook.bodies == [] and mailbox.messages == []  # nothing sent unless asked
    _, _, by_id = deployment.check("--send-test-alert")
    assert by_id["alerts.webhook"]["status"] == by_id["alerts.email"]["status"] == "ok"
    assert by_id["alerts.webhook"]["message"].startswith("test message delivered: a JSON POST to 127.0.0.1:")
    assert len(webhook.bodies) == 1 and "marketing-pipeline: test alert" in webhook.texts[0]
    assert len(mailbox.messages) == 1


def test_a_webhook_that_fails_the_test_message(deployment: Deployment, webhook: WebhookListener) -> None:
    webhook.status = 403
    deployment.set(MARKETING_ALERT_WEBHOOK_URL=webhook.url)
    code, report, by_id = deployment.check("--send-test-alert")
    assert code == 1 and by_id["alerts.webhook"]["status"] == "fix"
    assert by_id["alerts.webhook"]["message"].startswith("the test message failed: webhook at 127.0.0.1: HTTP 403")
    assert "hook-sekrit-token" not in json.dumps(report)
    deployment.set(MARKETING_ALERT_WEBHOOK_URL="ftp://hooks.example.com/x")
    _, _, by_id = deployment.check()
    assert by_id["alerts.webhook"]["message"] == (
        "webhook alerts are off: MARKETING_ALERT_WEBHOOK_URL is not an http(s) URL"
    )


def test_an_incomplete_email_channel_is_something_to_fix(deployment: Deployment) -> None:
    deployment.set(MARKETING_ALERT_EMAIL_TO="ops@example.com")
    _, _, by_id = deployment.check()
    assert by_id["alerts.email"] == {
        **by_id["alerts.email"],
        "status": "fix",
        "message": "email alerts are off: set MARKETING_ALERT_EMAIL_FROM to the sender's address",
    }


def test_the_webserver_is_checked_when_configured(deployment: Deployment) -> None:
    deployment.set(DAGSTER_WEBSERVER_URL="http://ops:web-sekrit-2@127.0.0.1:1")
    result = CliRunner().invoke(main, ["check"])
    line = next(line for line in result.stdout.splitlines() if "Dagster webserver" in line)
    assert line.startswith("FIX   Dagster webserver ")
    assert "cannot reach the Dagster webserver at http://ops:***@127.0.0.1:1/graphql" in line
    assert "web-sekrit-2" not in result.stdout


SECRETS = ("PUB-chk-sekrit-1a2b", "PRIV-chk-sekrit-3c4d", "eyJhbGciOiJIUzI1NiJ9.e30.Y2hrLXNla3JpdA")


def test_no_secret_in_any_line(deployment: Deployment) -> None:
    deployment.set(CW_PUBLIC_KEY=SECRETS[0], CW_PRIVATE_KEY=SECRETS[1], ENCHARGE_REST_API_KEY=SECRETS[2])
    texts = []
    for args in (["check"], ["check", "--json"], ["check", "--send-test-alert"]):
        result = CliRunner().invoke(main, args)
        texts += [result.stdout, result.stderr]
    everything = "\n".join(texts)
    assert "rejected" in everything  # the wrong keys were refused, and said so
    assert [s for s in SECRETS if s in everything] == []


def test_usage_errors_exit_2() -> None:
    assert CliRunner().invoke(main, ["check", "--no-such-option"]).exit_code == 2


def test_a_fixed_base_url_left_behind_by_an_upgrade_is_a_warning(deployment: Deployment) -> None:
    deployment.set(CW_BASE_URL=deployment.boxes.connectwise.base_url)
    _, _, by_id = deployment.check()
    assert by_id["connectwise.site"]["message"].endswith("(CW_BASE_URL, as companyinfo names it)")
    deployment.boxes.connectwise.move_codebase("v2026_1")
    code, _, by_id = deployment.check()
    assert code == 0 and by_id["connectwise.site"]["status"] == "warn"
    assert by_id["connectwise.site"]["message"].startswith(
        "CW_BASE_URL names codebase v2025_1/ but companyinfo now names v2026_1/: unset CW_BASE_URL"
    )
    assert by_id["connectwise.keys"]["status"] == "ok"  # the client follows companyinfo on the 404


def test_a_configured_base_url_is_used_when_companyinfo_does_not_answer(deployment: Deployment) -> None:
    deployment.set(CW_BASE_URL=deployment.boxes.connectwise.base_url)
    deployment.boxes.connectwise.faults.inject(502, 502, path="/login/companyinfo")
    code, _, by_id = deployment.check()
    assert code == 0 and by_id["connectwise.site"]["status"] == "warn"
    assert by_id["connectwise.site"]["message"] == (
        f"companyinfo did not confirm the codebase (companyinfo at {deployment.boxes.connectwise.root_url} "
        "answered HTTP 502 for company 'sandbox': check CW_BASE_URL); using CW_BASE_URL as configured"
    )
    assert by_id["connectwise.keys"]["status"] == by_id["connectwise.role"]["status"] == "ok"
