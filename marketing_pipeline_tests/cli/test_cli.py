"""Every CLI command, its human and JSON output, and its errors (one line on stderr, exit code 1)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from marketing_pipeline.cli import main
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync


@pytest.fixture
def cli(tmp_path: Path, store_url: str, monkeypatch: pytest.MonkeyPatch, sandboxes: Sandboxes):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MARKETING_DATABASE_URL", store_url)
    for name, value in sandboxes.env().items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):  # type: ignore[no-untyped-def]
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) is ok, result.output + result.stderr
        return result

    invoke("init")
    adopt_first_sync(store_url)
    return invoke


def test_init_is_idempotent(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("init").output
    assert "first sync: already there" in out and "1 sync(s)" in out


def test_init_says_the_first_sync_is_active_and_how_to_start_paused(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARKETING_DATABASE_URL", sqlite_url)
    out = CliRunner().invoke(main, ["init"], catch_exceptions=False).output
    assert "  Active: its schedule marketing_sync_managed_client_newsletter (0 6 * * 1, Europe/London, next " in out
    assert "writes to Encharge as soon as a Dagster daemon runs" in out
    assert "`marketing-pipeline syncs update managed-client-newsletter --disable` (or `init --paused`" in out
    again = CliRunner().invoke(main, ["init", "--paused"], catch_exceptions=False).output
    assert "Active (it existed already: --paused only applies when init creates it)" in again


def test_init_paused_creates_the_first_sync_paused(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETING_DATABASE_URL", sqlite_url)
    out = CliRunner().invoke(main, ["init", "--paused"], catch_exceptions=False).output
    assert "first sync: created\n  Paused: its schedule marketing_sync_managed_client_newsletter" in out
    assert "`marketing-pipeline syncs update managed-client-newsletter --enable`" in out
    listing = json.loads(CliRunner().invoke(main, ["syncs", "list", "--json"]).output)
    assert [(s["key"], s["enabled"], s["status"], s["nextRunAt"]) for s in listing] == [
        (SYNC_KEY, False, "Paused", None)
    ]
    from marketing_pipeline.defs.schedules import load_sync_schedules

    (schedule,) = load_sync_schedules()  # the UI's toggle starts STOPPED
    assert schedule.default_status.value == "STOPPED"


def test_syncs_list_shows_the_card(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("syncs", "list").output
    assert "Managed Client Newsletter  [Active]" in out
    assert "Last run: never" in out and "Next run: " in out and "Schedule: 0 6 * * 1 (Europe/London)" in out
    data = json.loads(cli("syncs", "list", "--json").output)
    assert data[0]["tagName"] == "managed-client-newsletter" and data[0]["status"] == "Active"
    assert data[0]["filterConfig"]["companyExcludeTypes"] == [35, 5]
    assert data[0]["nextRunAt"] and data[0]["lastRun"] is None


def test_trigger_runs_through_dagster_and_records_the_run(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("syncs", "trigger", SYNC_KEY).output
    assert out.startswith("83 synced, 12 new, 3 removed")
    payload = json.loads(cli("syncs", "trigger", "Managed Client Newsletter", "--json").output)
    assert payload["success"] is True
    run = payload["run"]
    assert (run["status"], run["triggeredBy"], run["contactsCreated"], run["dagsterRunId"]) == (
        "completed",
        "manual",
        0,
        payload["dagsterRunId"],
    )
    card = cli("syncs", "list").output
    assert "83 synced, 0 new, 0 removed" in card
    show = json.loads(cli("syncs", "show", SYNC_KEY, "--json").output)
    assert len(show["runs"]) == 2 and show["lastRun"]["result"] == "83 synced, 0 new, 0 removed"
    history = cli("runs", "list", SYNC_KEY).output
    assert "Date" in history and "Trigger" in history and "completed" in history
    page = json.loads(cli("runs", "list", SYNC_KEY, "--limit", "1", "--offset", "1", "--json").output)
    assert page["total"] == 2 and page["runs"][0]["contactsCreated"] == 12
    detail = cli("runs", "show", page["runs"][0]["id"]).output
    assert "remove_tag" in detail and "no longer in the ConnectWise audience" in detail
    assert json.loads(cli("runs", "show", payload["dagsterRunId"], "--json").output)["id"] == run["id"]


def test_dry_run_trigger(cli) -> None:  # type: ignore[no-untyped-def]
    out = cli("syncs", "trigger", SYNC_KEY, "--dry-run").output
    assert out.startswith("Dry run: would create 12, update 5, tag 6, untag 3; 3 skipped")


def test_review_then_apply_from_the_cli(cli, sandboxes: Sandboxes) -> None:  # type: ignore[no-untyped-def]
    preview = cli("syncs", "trigger", SYNC_KEY, "--dry-run").output
    match = re.search(r"To apply exactly this plan: marketing-pipeline syncs trigger \S+ --approve (\S+)", preview)
    assert match, preview
    plan_hash = match.group(1)
    sandboxes.encharge.clear_log()
    # Another plan's hash is refused with nothing written: the plan computed now is not the one approved.
    refused = cli("syncs", "trigger", SYNC_KEY, "--approve", "0" * len(plan_hash), ok=False)
    assert "is not the approved plan" in refused.stderr and refused.stderr.count("\n") == 1
    assert not any(method != "GET" for method, _, _ in sandboxes.encharge.log)
    out = cli("syncs", "trigger", SYNC_KEY, "--approve", plan_hash).output
    assert out.startswith("83 synced, 12 new, 3 removed")
    both = cli("syncs", "trigger", SYNC_KEY, "--dry-run", "--approve", plan_hash, ok=False)
    assert both.stderr.startswith("error: an approved plan is applied, not previewed")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_trigger_refuses_a_paused_sync_and_says_how_to_force(cli, sandboxes: Sandboxes) -> None:  # type: ignore[no-untyped-def]
    cli("syncs", "update", SYNC_KEY, "--disable")
    sandboxes.encharge.clear_log()
    refused = cli("syncs", "trigger", SYNC_KEY, ok=False)
    line = refused.stderr.splitlines()[-1]
    assert line.startswith(f"error: sync '{SYNC_KEY}' is paused (MarketingSync.enabled = false): nothing was run")
    assert "--even-if-paused" in line and "--dry-run" in line and f"syncs update {SYNC_KEY} --enable" in line
    assert sandboxes.encharge.log == [] and sandboxes.connectwise.request_count() == 0
    assert json.loads(cli("runs", "list", SYNC_KEY, "--json").output)["total"] == 0  # no run was started
    # A dry run writes nothing, so a paused sync may have one; forcing runs it and leaves it paused.
    assert cli("syncs", "trigger", SYNC_KEY, "--dry-run").output.startswith("Dry run: would create 12")
    assert not any(method != "GET" for method, _, _ in sandboxes.encharge.log)
    forced = json.loads(cli("syncs", "trigger", SYNC_KEY, "--even-if-paused", "--json").output)
    assert forced["success"] is True and forced["run"]["contactsCreated"] == 12
    assert json.loads(cli("syncs", "show", SYNC_KEY, "--json").output)["enabled"] is False


def test_update_schedule_forms(cli) -> None:  # type: ignore[no-untyped-def]
    cases = {
        ("--daily", "--at", "07:30"): "30 7 * * *",
        ("--weekly", "friday", "--at", "18:05"): "5 18 * * 5",
        ("--monthly", "1"): "0 6 1 * *",
        ("--schedule", "15 4 * * 2"): "15 4 * * 2",
    }
    for args, cron in cases.items():
        data = json.loads(cli("syncs", "update", SYNC_KEY, *args, "--json").output)
        assert data["schedule"] == cron
    out = cli("syncs", "update", SYNC_KEY, "--disable").output
    assert "[Paused]" in out and "Next run: -" in out
    assert json.loads(cli("syncs", "update", SYNC_KEY, "--enable", "--json").output)["enabled"] is True


@pytest.mark.parametrize(
    "args, message",
    [
        (("syncs", "show", "nope"), "error: no sync 'nope' (known syncs: managed-client-newsletter)"),
        (
            ("syncs", "update", SYNC_KEY, "--schedule", "0 25 * * *"),
            "error: schedule: '0 25 * * *' is not a valid cron",
        ),
        (("syncs", "update", SYNC_KEY), "error: nothing to change"),
        (("syncs", "update", SYNC_KEY, "--weekly", "someday"), "error: --weekly 'someday' is not a day"),
        (("syncs", "update", SYNC_KEY, "--daily", "--at", "25:00"), "error: --at '25:00' is not a time"),
        (("syncs", "update", SYNC_KEY, "--monthly", "31"), "error: --monthly takes a day from 1 to 28"),
        (("syncs", "update", SYNC_KEY, "--daily", "--schedule", "0 1 * * *"), "error: give either --schedule"),
        (("syncs", "trigger", "ghost"), "error: no sync 'ghost'"),
        (("runs", "show", "missing-run"), "error: no run 'missing-run'"),
        (("runs", "list", "ghost"), "error: no sync 'ghost'"),
    ],
)
def test_errors_are_one_line_and_change_nothing(cli, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args, ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(message), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output + result.stderr
    assert json.loads(cli("syncs", "show", SYNC_KEY, "--json").output)["schedule"] == "0 6 * * 1"


def test_trigger_fails_cleanly_when_a_secret_is_missing(cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("ENCHARGE_REST_API_KEY")
    result = cli("syncs", "trigger", SYNC_KEY, ok=False)
    assert result.stderr.startswith("error: set ENCHARGE_REST_API_KEY first")


def test_trigger_exit_code_follows_the_run(cli, sandboxes: Sandboxes) -> None:  # type: ignore[no-untyped-def]
    sandboxes.connectwise.faults.inject(403)
    result = cli("syncs", "trigger", SYNC_KEY, "--json", ok=False)
    payload = json.loads(result.stdout)  # the record on stdout; the failure's one line on stderr
    assert payload["success"] is False and payload["run"]["status"] == "failed"
    assert "HTTP 403" in payload["run"]["errorMessage"]


def test_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETING_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(main, ["syncs", "list"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot use the marketing database postgresql://nobody@127.0.0.1:1/none")


def test_uninitialised_store_says_to_run_init(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("MARKETING_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(main, ["syncs", "list"])
    assert result.exit_code == 1 and "run `marketing-pipeline init`" in result.stderr


def test_sandbox_print_env() -> None:
    out = CliRunner().invoke(main, ["sandbox", "--print-env", "--cw-port", "9001"]).output
    assert "export CW_BASE_URL='http://127.0.0.1:9001/v2025_1/apis/3.0/'" in out
    assert "export ENCHARGE_REST_API_KEY=" in out


def test_an_unexpected_error_is_one_line_unless_debugging(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import marketing_pipeline.cli.syncs as syncs_module

    def broken() -> None:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setattr(syncs_module, "open_store", broken)
    result = CliRunner().invoke(main, ["syncs", "list"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: unexpected failure: disk on fire (set MARKETING_PIPELINE_DEBUG=1 for the traceback)\n"
    )
    monkeypatch.setenv("MARKETING_PIPELINE_DEBUG", "1")
    assert isinstance(CliRunner().invoke(main, ["syncs", "list"]).exception, RuntimeError)


STEPS = sorted(["cw_companies", "cw_contacts", "encharge_people", "sync_plan", "encharge_audience"])


def test_trigger_shows_each_step_and_its_counts_when_asked(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("syncs", "trigger", SYNC_KEY, "--progress")
    lines = result.stderr.splitlines()
    assert sorted(line.split()[0] for line in lines) == STEPS  # one line per step (stderr is not a terminal)
    assert [line.split()[0] for line in lines[-2:]] == ["sync_plan", "encharge_audience"]
    by_step = {line.split()[0]: line for line in lines}
    assert all(" done in " in line for line in lines)
    assert by_step["cw_companies"].endswith(": 9 companies pass the filter (11 read)")
    assert by_step["cw_contacts"].endswith(": 86 contacts (87 read, 2 without a usable email)")
    assert by_step["encharge_people"].endswith(": 82 people in Encharge, 68 with the tag 'managed-client-newsletter'")
    assert by_step["sync_plan"].endswith(": planned: create 12, update 5, tag 6, untag 3, skip 3, unchanged 60")
    assert by_step["encharge_audience"].endswith(": 83 synced, 12 new, 3 removed")
    assert result.stdout.startswith("83 synced, 12 new, 3 removed")


def test_progress_stays_off_with_json_and_off_a_terminal_unless_asked(cli) -> None:  # type: ignore[no-untyped-def]
    quiet = cli("syncs", "trigger", SYNC_KEY, "--dry-run")
    assert quiet.stderr == "" and quiet.stdout.startswith("Dry run: would create 12")
    as_json = cli("syncs", "trigger", SYNC_KEY, "--json")
    assert as_json.stderr == "" and json.loads(as_json.stdout)["success"] is True
    asked = cli("syncs", "trigger", SYNC_KEY, "--json", "--progress")
    assert len(asked.stderr.splitlines()) == 5 and json.loads(asked.stdout)["success"] is True


@pytest.mark.parametrize("group", [(), ("syncs",), ("runs",)])
def test_help_lists_every_command_in_full(group: tuple[str, ...]) -> None:
    out = CliRunner().invoke(main, [*group, "--help"], terminal_width=80).output
    commands = out.split("Commands:\n")[1].splitlines()
    assert commands and not any(line.rstrip().endswith("...") for line in commands), out


@pytest.mark.parametrize(
    "command",
    [
        ("syncs", "list"),
        ("syncs", "show"),
        ("syncs", "update"),
        ("syncs", "trigger"),
        ("runs", "list"),
        ("runs", "show"),
        ("runs", "release"),
        ("sandbox",),
        ("demo",),
        ("init",),
        ("check",),
    ],
)
def test_every_option_says_what_it_does(command: tuple[str, ...]) -> None:
    from click import Context

    node = main
    for name in command:
        node = node.get_command(Context(node), name)  # type: ignore[attr-defined]
    undocumented = [p.opts[0] for p in node.params if isinstance(p, click.Option) and not p.help]
    assert undocumented == []


def test_reading_before_init_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.delenv("MARKETING_DATABASE_URL", raising=False)
    for args in (["syncs", "list"], ["syncs", "show", "x"], ["runs", "list", "x"], ["runs", "show", "x"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and "run `marketing-pipeline init`" in result.stderr, args
    from marketing_pipeline.defs.schedules import load_sync_schedules

    assert load_sync_schedules() == []  # loading the code location (`dg dev`) before init
    assert not home.exists()
    assert CliRunner().invoke(main, ["init"]).exit_code == 0
    assert (home / "marketing.db").exists()
