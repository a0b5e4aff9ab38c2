"""`marketing-pipeline check`: is this deployment ready to sync? One line per setting, before anything is
written; exit code 0 (nothing to fix), 1 (something to fix) or 2 (a usage error)."""

from __future__ import annotations

import sys

import click

from marketing_pipeline.cli.display import echo, emit_json


@click.command(short_help="Check every setting a deployment needs, writing nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON (the exit code is the same).")
@click.option("--send-test-alert", is_flag=True, help="Also send a test message through each configured alert channel.")
@click.option(
    "--strict", is_flag=True, help="Exit 1 on warnings too (say, no daemon heartbeating yet, or SQLite storage)."
)
def check(as_json: bool, send_test_alert: bool, strict: bool) -> None:
    """Check ConnectWise (site, keys and clientId, the API member's security role, the names behind each
    sync's ids), Encharge (key, account), the marketing database and its migrations, the syncs, Dagster's
    instance and storage, the daemon's heartbeat, the webserver and each alert channel, in one line each.
    Creates nothing: no table, row, schedule or instance folder.

    Exit codes: 0 nothing to fix (warnings allowed), 1 something to fix (or, with --strict, a warning),
    2 a usage error.
    """
    from marketing_pipeline.checks.run import run_checks
    from marketing_pipeline.checks.verdicts import exit_code, report_json, report_lines

    findings, seconds = run_checks(send_test_alert=send_test_alert)
    if as_json:
        emit_json(report_json(findings, seconds, strict=strict))
    else:
        for line in report_lines(findings, seconds):
            echo(line)
    sys.exit(exit_code(findings, strict=strict))
