"""What an alert says: the sync, the run, what happened, what to do, a link; never a secret."""

from __future__ import annotations

from dataclasses import replace

from marketing_pipeline.alerts.message import FailedContact, RunDescription, compose
from marketing_pipeline.alerts.rule import Alert, RunFacts

RUN = RunDescription(
    sync_name="Managed Client Newsletter",
    sync_key="managed-client-newsletter",
    dagster_run_id="d-123",
    record_id="r-456",
    triggered_by="schedule",
    started="2026-05-04 07:00 BST",
    run_url="https://dagster.example.com/runs/d-123",
)


def test_a_failure_names_the_sync_the_run_the_error_and_links_to_the_run() -> None:
    alert = Alert(kind="failed", state="failed", previous="ok")
    message = compose(alert, replace(RUN, error="ConnectWise: HTTP 401; check CW_PRIVATE_KEY"))
    assert message.subject == "marketing-pipeline: Managed Client Newsletter: sync failed"
    assert message.text.splitlines() == [
        'Marketing sync "Managed Client Newsletter" failed.',
        "Error: ConnectWise: HTTP 401; check CW_PRIVATE_KEY",
        "Sync: managed-client-newsletter. Run: Dagster run d-123, MarketingSyncRun r-456 "
        "(started 2026-05-04 07:00 BST by schedule).",
        "Open the run: https://dagster.example.com/runs/d-123",
    ]


def test_a_brake_says_what_it_saw_and_how_to_force() -> None:
    reason = "the plan would remove the tag from 30 of 40 people (75%, above the 20% limit): nothing was applied"
    run = RunDescription(
        sync_name="N", sync_key="n", dagster_run_id="d", error=reason, plan="40 contacts; untag 30 of the 40"
    )
    text = compose(Alert(kind="braked", state="braked", previous="ok"), run).text
    assert "stopped by the safety brake: nothing was written to Encharge" in text
    assert f"The brake saw: {reason}" in text and "The plan: 40 contacts; untag 30 of the 40" in text
    assert "marketing-pipeline syncs trigger n --force" in text and "force: true" in text
    assert "Open the run" not in text  # no webserver URL known, no link


def test_failed_contacts_are_listed_up_to_five() -> None:
    failures = [FailedContact("create", f"p{i}@example.com", "Encharge: HTTP 400 Invalid email") for i in range(7)]
    run = RunDescription(
        sync_name="N",
        sync_key="n",
        dagster_run_id="d",
        summary="80 synced, 1 new, 0 removed, 7 failed",
        failed_contacts=7,
        failures=failures,
    )
    message = compose(Alert(kind="failed_contacts", state="failed_contacts", previous="ok"), run)
    assert message.subject == "marketing-pipeline: N: 7 contacts failed"
    lines = message.text.splitlines()
    assert lines[0] == 'Marketing sync "N" completed, but 7 contacts failed: 80 synced, 1 new, 0 removed, 7 failed.'
    assert lines[1:7] == [f"- create p{i}@example.com: Encharge: HTTP 400 Invalid email" for i in range(5)] + [
        "... and 2 more in the run's details"
    ]


def test_a_recovery_says_so_and_what_it_recovered_from() -> None:
    before = RunFacts(dagster_run_id="old", outcome="failed", error="Encharge: HTTP 503 after 6 attempts")
    run = RunDescription(sync_name="N", sync_key="n", dagster_run_id="d", summary="83 synced, 0 new, 0 removed")
    message = compose(Alert(kind="recovered", state="ok", previous="failed", previous_run=before), run)
    assert message.subject == "marketing-pipeline: N: sync recovered"
    assert message.text.splitlines()[:2] == [
        'Marketing sync "N" recovered: 83 synced, 0 new, 0 removed.',
        "The previous run had failed: Encharge: HTTP 503 after 6 attempts",
    ]
    braked = compose(Alert(kind="recovered", state="ok", previous="braked"), run).text
    assert "The previous run had been stopped by the brake." in braked


def test_no_secret_and_no_forged_header_gets_through() -> None:
    run = RunDescription(
        sync_name="Evil\nBcc: everyone@example.com",
        sync_key="evil",
        dagster_run_id="d",
        error="Encharge rejected token eyJ-SEKRIT-token and password hunter2-sekrit",
    )
    message = compose(
        Alert(kind="failed", state="failed", previous="ok"), run, secrets=["eyJ-SEKRIT-token", "hunter2-sekrit", ""]
    )
    assert "\n" not in message.subject and "\r" not in message.subject
    assert "SEKRIT" not in message.text and "sekrit" not in message.text
    assert "Error: Encharge rejected token *** and password ***" in message.text


def test_a_long_error_is_shortened_to_one_line() -> None:
    run = RunDescription(sync_name="N", sync_key="n", dagster_run_id="d", error="x\n" * 2000)
    [_, error, *_] = compose(Alert(kind="failed", state="failed", previous="ok"), run).text.splitlines()
    assert len(error) < 620 and error.endswith("…")
