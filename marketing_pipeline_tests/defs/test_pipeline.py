"""The sync end to end through Dagster, against both sandboxes over HTTP and a real store."""

from __future__ import annotations

import dagster as dg
import pytest

from marketing_pipeline.sandbox.dataset import TAG
from marketing_pipeline.sandbox.server import Fault
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.pipeline import Pipeline, audience_metadata, checks, step_failure


def test_first_sync_does_exactly_what_the_rules_say(pipeline: Pipeline) -> None:
    boxes = pipeline.boxes
    manifest = boxes.dataset.manifest
    before = boxes.encharge.snapshot()

    result = pipeline.run()

    assert result.success
    after = boxes.encharge.snapshot()
    # Everyone in the audience exists once and carries the tag.
    for email in manifest.audience:
        assert TAG in after[email]["tags"], email
    assert set(after) - set(before) == manifest.creates
    # Stale people were updated from ConnectWise; their other tags are still there.
    for email in manifest.updates:
        assert "(old)" not in after[email]["lastName"] and after[email]["company"] != "Previous Employer Ltd"
        assert "webinar-2026" in after[email]["tags"]
    # Former members lost this tag and nothing else; nobody was deleted or (un)subscribed.
    for email in manifest.tag_removals:
        assert set(after[email]["tags"]) == set(before[email]["tags"]) - {TAG}
        assert {k: v for k, v in after[email].items() if k not in ("tags", "updatedAt")} == {
            k: v for k, v in before[email].items() if k not in ("tags", "updatedAt")
        }
    for email in manifest.untouched | manifest.in_sync:
        assert after[email] == before[email], email
    assert all(after[e]["unsubscribed"] == before[e]["unsubscribed"] for e in before)

    run = pipeline.last_run()
    assert (run.status, run.triggered_by, run.dry_run) == ("completed", "manual", False)
    assert run.counts.to_json_dict() == {
        "contactsTotal": 86,
        "contactsCreated": len(manifest.creates),
        "contactsUpdated": len(manifest.updates | manifest.tag_adds),
        "contactsRemoved": len(manifest.tag_removals),
        "contactsSkipped": 3,
        "contactsFailed": 0,
    }
    assert run.dagster_run_id == result.run_id
    details = {(d["action"], (d.get("email") or "").lower()) for d in run.details["contacts"]}
    assert {("create", e) for e in manifest.creates} <= details
    assert {("remove_tag", e) for e in manifest.tag_removals} <= details
    skipped = [d for d in run.details["contacts"] if d["action"] == "skip"]
    assert sorted(d["contactId"] for d in skipped) == sorted(manifest.skipped)

    metadata = audience_metadata(result)
    assert metadata["summary"] == "**83 synced, 12 new, 3 removed**"
    assert metadata["contactsFailed"] == 0
    assert checks(result) == {"source_not_collapsed": True, "no_failed_contacts": True}


def test_second_run_makes_zero_writes(pipeline: Pipeline) -> None:
    assert pipeline.run().success
    boxes = pipeline.boxes
    boxes.encharge.clear_log()
    boxes.connectwise.clear_log()
    result = pipeline.run()
    assert result.success
    assert pipeline.writes() == 0
    assert boxes.encharge.request_count("GET", "/people/all") == 1  # 82 + 12 people: one page
    assert boxes.encharge.request_count("GET") == 3  # and peopleCount before and after the read
    # companies, then contacts (one query per contact type), and after each read what changed during it
    assert boxes.connectwise.request_count() == 6
    assert audience_metadata(result)["summary"] == "**83 synced, 0 new, 0 removed**"


def test_dry_run_writes_nothing_and_is_marked(pipeline: Pipeline) -> None:
    before = pipeline.boxes.encharge.snapshot()
    result = pipeline.run(dry_run=True)
    assert result.success
    assert pipeline.writes() == 0
    assert pipeline.boxes.encharge.snapshot() == before
    run = pipeline.last_run()
    assert run.dry_run is True and run.details["dryRun"] is True
    assert run.details["summary"] == "Dry run: would create 12, update 5, tag 6, untag 3; 3 skipped"
    assert audience_metadata(result)["dry_run"] is True
    # Launched with `dry_run: true` in the Launchpad: the run carries the tag the CLI gives its dry runs.
    launched = pipeline.instance.get_run_by_id(result.run_id)
    assert launched is not None and launched.tags["marketing/dry_run"] == "true"
    real = pipeline.run()
    assert "marketing/dry_run" not in pipeline.instance.get_run_by_id(real.run_id).tags  # type: ignore[union-attr]


def test_brake_stops_a_plan_that_would_untag_too_many(pipeline: Pipeline) -> None:
    store: SyncStore = pipeline.store
    store.update_sync(SYNC_KEY)  # no-op; the audience shrinks when ConnectWise drops a company
    boxes = pipeline.boxes
    assert pipeline.run().success
    # Most contacts leave ConnectWise: their companies lose the Fully Managed type.
    for company in boxes.dataset.companies[1:]:
        company["types"] = [{"id": 47, "name": "Break/Fix"}]
    before = boxes.encharge.snapshot()
    boxes.encharge.clear_log()

    result = pipeline.run()

    assert not result.success
    assert pipeline.writes() == 0 and boxes.encharge.snapshot() == before
    run = pipeline.last_run()
    assert run.status == "failed"
    assert "above the 20% limit): nothing was applied" in run.error_message
    assert "force: true" in run.error_message

    forced = pipeline.run(force=True)
    assert forced.success
    assert pipeline.last_run().contacts_removed > 0


def test_brake_when_connectwise_yields_no_contacts(pipeline: Pipeline) -> None:
    assert pipeline.run().success
    pipeline.boxes.connectwise.data["contacts"] = []
    pipeline.boxes.encharge.clear_log()
    result = pipeline.run()
    assert not result.success and pipeline.writes() == 0
    assert "ConnectWise returned no contacts" in pipeline.last_run().error_message


def test_one_failing_contact_is_recorded_and_the_rest_carry_on(pipeline: Pipeline) -> None:
    boxes = pipeline.boxes
    rejected = sorted(boxes.dataset.manifest.creates)[0]
    boxes.encharge.reject_emails.add(rejected)

    result = pipeline.run()

    assert result.success  # the run completes; the check reports the failure
    assert checks(result)["no_failed_contacts"] is False
    run = pipeline.last_run()
    assert run.status == "completed" and run.contacts_failed == 1
    assert run.contacts_created == len(boxes.dataset.manifest.creates) - 1
    [failure] = [d for d in run.details["contacts"] if d["status"] == "failed"]
    assert failure["email"].lower() == rejected and "Invalid email" in failure["error"]
    assert boxes.encharge.find(email=rejected) is None

    boxes.encharge.reject_emails.clear()
    assert pipeline.run().success
    assert TAG in boxes.encharge.tags_of(rejected)  # the next run converges


def test_an_auth_failure_mid_run_fails_the_run_and_its_record(pipeline: Pipeline) -> None:
    pipeline.boxes.encharge.faults.inject(
        Fault(status=401, body={"error": {"message": "Token expired"}}), path="/v1/people"
    )
    pipeline.boxes.encharge.faults.inject(Fault(status=200, body={"people": []}), path="/v1/people/all")
    result = pipeline.run()
    assert not result.success
    run = pipeline.last_run()
    assert run.status == "failed"
    assert run.error_message == "Encharge rejected the API key (HTTP 401: Token expired): check ENCHARGE_REST_API_KEY"


def test_read_failure_marks_the_record_failed(pipeline: Pipeline) -> None:
    pipeline.boxes.connectwise.faults.inject(Fault(status=403))
    result = pipeline.run()
    assert not result.success
    run = pipeline.last_run()
    assert run.status == "failed" and "HTTP 403" in run.error_message and run.completed_at is not None


def test_a_crashed_runs_row_is_released_by_the_next_run(pipeline: Pipeline) -> None:
    """Its Dagster run is over (failed, here) but its record was left `running`."""
    store: SyncStore = pipeline.store
    sync = store.get_sync(SYNC_KEY)
    over = pipeline.instance.create_run_for_job(
        dg.GraphDefinition(name="crashed", node_defs=[]).to_job(), status=dg.DagsterRunStatus.FAILURE
    )
    crashed = store.start_run(sync, trigger="schedule", dagster_run_id=over.run_id)
    result = pipeline.run()
    assert result.success
    old = store.get_run(crashed.id)
    assert old.status == "failed" and "killed or crashed" in old.error_message
    assert pipeline.last_run().status == "completed"


def test_a_sync_already_running_in_dagster_is_refused(pipeline: Pipeline) -> None:
    store: SyncStore = pipeline.store
    instance: dg.DagsterInstance = pipeline.instance
    other = instance.create_run_for_job(
        dg.GraphDefinition(name="other", node_defs=[]).to_job(), status=dg.DagsterRunStatus.STARTED
    )
    store.start_run(store.get_sync(SYNC_KEY), trigger="manual", dagster_run_id=other.run_id)
    before = pipeline.boxes.encharge.snapshot()
    result = pipeline.run()
    assert not result.success
    assert pipeline.boxes.encharge.snapshot() == before
    assert f"already running in Dagster run {other.run_id}" in step_failure(result)
    assert store.count_runs(store.get_sync(SYNC_KEY)) == 1


def test_triggered_by_follows_the_run_tags(pipeline: Pipeline) -> None:
    """`triggeredBy` in the specification's two words; a backfill (launched by a person) is `manual`, and
    the run's link keeps the finer word."""
    assert pipeline.run(tags={"dagster/backfill": "abc"}).success
    run = pipeline.last_run()
    assert (run.triggered_by, run.trigger, run.started_by) == ("manual", "backfill", "backfill")
    assert pipeline.run(tags={"dagster/schedule_name": "marketing_sync_x"}).success
    assert (pipeline.last_run().triggered_by, pipeline.last_run().trigger) == ("schedule", "schedule")
    assert pipeline.run().success
    assert (pipeline.last_run().triggered_by, pipeline.last_run().trigger) == ("manual", "manual")


def test_an_unknown_partition_fails_clearly(pipeline: Pipeline) -> None:
    pipeline.instance.add_dynamic_partitions("marketing_sync", ["deleted-sync"])
    result = pipeline.run(key="deleted-sync")
    assert not result.success
    assert "no sync 'deleted-sync'" in step_failure(result)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_on_postgresql(pipeline: Pipeline) -> None:
    assert pipeline.run().success
    assert pipeline.last_run().contacts_created == 12


def test_an_encharge_that_ignores_tags_on_create_still_converges_in_one_run(pipeline: Pipeline) -> None:
    boxes = pipeline.boxes
    boxes.encharge.upsert_tags = "ignore"
    assert pipeline.run().success
    for email in boxes.dataset.manifest.audience:
        assert TAG in boxes.encharge.tags_of(email), email
    creates = len(boxes.dataset.manifest.creates)
    assert boxes.encharge.request_count("POST", "/v1/tags") == 6 + creates  # the follow-up tags the new people
    assert pipeline.last_run().contacts_failed == 0
