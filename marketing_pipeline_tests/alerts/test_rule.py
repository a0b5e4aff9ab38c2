"""The rule: one message per change of a sync's state, none while it stays the same."""

from __future__ import annotations

import itertools

import pytest

from marketing_pipeline.alerts.rule import RunFacts, decide, previous_state, state_of
from marketing_pipeline.sync.plan_types import PlanCounts
from marketing_pipeline.sync.safety import brake_reason

# The brake's own words, as the apply step fails with them.
BRAKED = "sync 'x': " + str(
    brake_reason(
        PlanCounts(
            contacts_total=10, create=0, update=0, add_tag=0, remove_tag=30, skip=0, unchanged=10, tagged_before=40
        )
    )
)
counter = itertools.count()


def run(outcome: str = "completed", **kwargs: object) -> RunFacts:
    return RunFacts(dagster_run_id=f"run-{next(counter)}", outcome=outcome, **kwargs)  # type: ignore[arg-type]


OK = run()
FAILED = run("failed", error="ConnectWise: HTTP 401")
BRAKE = run("failed", error=BRAKED)
SOME_FAILED = run(contacts_failed=2)


@pytest.mark.parametrize(
    "facts, state",
    [
        (OK, "ok"),
        (FAILED, "failed"),
        (BRAKE, "braked"),
        (SOME_FAILED, "failed_contacts"),
        (run("failed", error="x", dry_run=True), None),
        (run(dry_run=True, contacts_failed=3), None),
        (run("cancelled"), None),
        (run("unfinished"), None),
        (run("failed", error=None), "failed"),
    ],
)
def test_the_state_a_run_leaves(facts: RunFacts, state: str | None) -> None:
    assert state_of(facts) == state


@pytest.mark.parametrize(
    "before, now, kind",
    [
        (OK, FAILED, "failed"),
        (OK, BRAKE, "braked"),
        (OK, SOME_FAILED, "failed_contacts"),
        (FAILED, OK, "recovered"),
        (BRAKE, OK, "recovered"),
        (SOME_FAILED, OK, "recovered"),
        (FAILED, BRAKE, "braked"),
        (BRAKE, FAILED, "failed"),
        (FAILED, SOME_FAILED, "failed_contacts"),
        (SOME_FAILED, FAILED, "failed"),
        (OK, OK, None),  # silence on success
        (FAILED, run("failed", error="another error"), None),  # still failing: said once
        (BRAKE, BRAKE, None),
        (SOME_FAILED, run(contacts_failed=7), None),
    ],
)
def test_one_message_per_change(before: RunFacts, now: RunFacts, kind: str | None) -> None:
    alert = decide(now, [before])
    assert (alert.kind if alert else None) == kind
    if alert is not None:
        assert alert.previous == state_of(before) and alert.previous_run == before


def test_a_sync_with_no_history_is_ok() -> None:
    assert decide(OK, []) is None
    first_failure = decide(FAILED, [])
    assert first_failure is not None and first_failure.kind == "failed" and first_failure.previous == "ok"


def test_dry_and_cancelled_runs_neither_alert_nor_change_the_state() -> None:
    dry_failure = run("failed", error="ConnectWise: HTTP 401", dry_run=True)
    assert decide(dry_failure, [OK]) is None
    assert decide(run(dry_run=True), [FAILED]) is None  # a good dry run is no recovery
    # Newest first: the failure is still the state behind a dry run and a cancelled run.
    assert previous_state([run(dry_run=True), run("cancelled"), run("unfinished"), FAILED, OK]) == ("failed", FAILED)
    recovered = decide(OK, [run(dry_run=True), run("cancelled"), FAILED])
    assert recovered is not None and recovered.kind == "recovered" and recovered.previous_run == FAILED


def test_only_the_latest_state_counts() -> None:
    assert decide(FAILED, [OK, FAILED]) is not None  # failed, recovered, failed again: news again
    assert decide(OK, [OK, FAILED]) is None


def test_a_brake_is_told_by_its_override_phrase() -> None:
    window = brake_reason(
        PlanCounts(
            contacts_total=10, create=0, update=0, add_tag=0, remove_tag=5, skip=0, unchanged=10, tagged_before=40
        ),
        removed_recently=6,
    )
    assert window is not None and state_of(run("failed", error=f"sync 'x': {window}")) == "braked"
    assert state_of(run("failed", error="Encharge: HTTP 500 force: true")) == "failed"


def test_a_run_a_pause_stopped_neither_alerts_nor_changes_the_state() -> None:
    """A pause is an operator's decision, not a fault: neither the run that wrote nothing because the sync was
    paused nor the one that stopped before its next write batch is news, and neither hides the state before."""
    from marketing_pipeline.sync.pause import paused_before_writing, paused_while_writing

    before_writing = run("failed", error=paused_before_writing("x"))
    while_writing = run("failed", error="sync 'x': " + paused_while_writing("x", written=5, not_sent=30))
    for paused in (before_writing, while_writing):
        assert state_of(paused) is None
        assert decide(paused, [OK]) is None and decide(paused, [FAILED]) is None
    recovered = decide(OK, [before_writing, while_writing, FAILED])
    assert recovered is not None and recovered.kind == "recovered"
    assert decide(OK, [before_writing, OK]) is None
