from __future__ import annotations

from datetime import datetime, timedelta

from marketing_pipeline.sync.domain import SyncCounts
from marketing_pipeline.sync.outcome import ActionResult, SyncOutcome, summary_line
from marketing_pipeline.sync.plan_types import PlanCounts
from marketing_pipeline.sync.safety import PastRemovals, brake_reason, removed_in_window


def counts(**kw: int) -> PlanCounts:
    base = {
        "contacts_total": 10,
        "create": 0,
        "update": 0,
        "add_tag": 0,
        "remove_tag": 0,
        "skip": 0,
        "unchanged": 0,
        "tagged_before": 10,
    }
    return PlanCounts(**{**base, **kw})


def test_summary_in_the_seeds_words() -> None:
    assert summary_line(SyncCounts(contacts_total=86, contacts_created=1, contacts_skipped=1)) == (
        "85 synced, 1 new, 0 removed"
    )
    assert summary_line(SyncCounts(contacts_total=10, contacts_failed=2, contacts_removed=1)) == (
        "8 synced, 0 new, 1 removed, 2 failed"
    )


def test_outcome_counts_people_once_and_keeps_failures_in_details() -> None:
    results = [
        ActionResult("create", "a@x.com", "ok"),
        ActionResult("update", "b@x.com", "ok"),
        ActionResult("add_tag", "B@x.com", "ok"),
        ActionResult("add_tag", "c@x.com", "failed", error="HTTP 404"),
        ActionResult("remove_tag", "d@x.com", "ok"),
        ActionResult("skip", None, "skipped", contact_id=9, reason="no email address"),
    ]
    outcome = SyncOutcome(plan=counts(skip=1, contacts_total=5), results=results, dry_run=False, plan_fingerprint="abc")
    assert outcome.counts() == SyncCounts(
        contacts_total=5,
        contacts_created=1,
        contacts_updated=1,
        contacts_removed=1,
        contacts_skipped=1,
        contacts_failed=1,
    )
    details = outcome.details(limit=2)
    assert details["contacts"][0] == {
        "action": "add_tag",
        "email": "c@x.com",
        "status": "failed",
        "error": "HTTP 404",
    }
    assert len(details["contacts"]) == 2 and details["truncated"] == 4
    assert details["summary"] == "3 synced, 1 new, 1 removed, 1 failed"


def test_dry_run_summary() -> None:
    outcome = SyncOutcome(plan=counts(create=2, remove_tag=1, skip=1), results=[], dry_run=True, plan_fingerprint="x")
    assert outcome.summary() == "Dry run: would create 2, update 0, tag 0, untag 1; 1 skipped"


def test_brake() -> None:
    assert brake_reason(counts(remove_tag=2)) is None  # 20% is allowed
    reason = brake_reason(counts(remove_tag=3))
    assert reason is not None and "3 of 10 people (30%, above the 20% limit)" in reason
    assert "force: true" in reason
    assert brake_reason(counts(remove_tag=3), max_removal_fraction=0.5) is None
    empty = brake_reason(counts(contacts_total=0, remove_tag=10))
    assert empty is not None and "no contacts" in empty
    assert brake_reason(counts(contacts_total=0, tagged_before=0)) is None  # nothing to lose


NOW = datetime(2026, 3, 2, 12, 0)


def test_removals_spread_over_runs_are_braked_within_24_hours() -> None:
    # 100 tagged; 15 removed an hour ago (under the limit on its own); 15 more now: 30 of 100 in 24 hours.
    past = [PastRemovals(NOW - timedelta(hours=1), 15, False)]
    recent = removed_in_window(past, NOW)
    assert recent == 15
    reason = brake_reason(counts(tagged_before=85, remove_tag=15), removed_recently=recent)
    assert reason is not None and "30 of 100 people (30%, above the 20% limit over 24 hours)" in reason
    assert "15 lost it in the last 24 hours" in reason
    assert brake_reason(counts(tagged_before=85, remove_tag=5), removed_recently=recent) is None  # 20 of 100
    assert brake_reason(counts(tagged_before=85, remove_tag=0), removed_recently=50) is None  # removes nobody


def test_the_window_rolls_and_starts_after_a_forced_run() -> None:
    old = PastRemovals(NOW - timedelta(hours=25), 40, False)
    assert removed_in_window([old], NOW) == 0
    forced = PastRemovals(NOW - timedelta(hours=3), 40, True)
    after = PastRemovals(NOW - timedelta(hours=2), 4, False)
    before = PastRemovals(NOW - timedelta(hours=4), 9, False)
    assert removed_in_window([before, forced, after], NOW) == 4
    assert removed_in_window([before, after], NOW, timedelta(hours=3)) == 4


def test_a_dry_run_says_whether_the_real_run_would_be_braked() -> None:
    outcome = SyncOutcome(
        plan=counts(remove_tag=5), results=[], dry_run=True, plan_fingerprint="x", brake="too many removals"
    )
    assert outcome.summary() == (
        "Dry run: would create 0, update 0, tag 0, untag 5; 0 skipped; the real run would be braked: too many removals"
    )
    details = outcome.details()
    assert details["brake"] == "too many removals" and details["forced"] is False


def test_a_person_gone_since_the_read_is_skipped_once_not_failed() -> None:
    gone = "no longer in Encharge (deleted since it was read?)"
    results = [
        ActionResult("update", "a@x.com", "skipped", error=gone),
        ActionResult("add_tag", "A@x.com", "skipped", error=gone),
        ActionResult("update", "b@x.com", "failed", error="HTTP 409: refused"),
        ActionResult("create", "c@x.com", "ok"),
        ActionResult("skip", None, "skipped", contact_id=9, reason="no email address"),
    ]
    outcome = SyncOutcome(plan=counts(skip=1, contacts_total=4), results=results, dry_run=False, plan_fingerprint="f")
    got = outcome.counts()
    assert (got.contacts_skipped, got.contacts_failed, got.contacts_updated) == (2, 1, 0)
    assert outcome.summary() == "1 synced, 1 new, 0 removed, 1 failed"
    assert [r.email for r in outcome.failures] == ["b@x.com"]
    assert outcome.details()["reads"] == {}
