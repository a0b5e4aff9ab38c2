"""Issue 22, findings 1 and 2, end to end: every write is recorded as it is made, a failed run's removals
count towards the brake and show in its record, and a removal counts only when Encharge confirms it."""

from __future__ import annotations

from marketing_pipeline.sandbox.dataset import TAG
from marketing_pipeline.sync.write_record import CREATED, LINKED, TAG_ADDED, TAG_REMOVED
from marketing_pipeline_tests.support.pipeline import Pipeline, checks, members_leave, step_failure


def carriers(pipeline: Pipeline) -> set[str]:
    return {p["id"] for p in pipeline.boxes.encharge.people.values() if TAG in p["tags"]}


def test_every_write_is_recorded_with_its_run_contact_and_tag(pipeline: Pipeline) -> None:
    assert pipeline.run().success
    run = pipeline.last_run()
    entries = pipeline.store.write_entries(pipeline.store.get_sync(run.sync_id), run_id=run.id)
    by_action = {action: [e for e in entries if e.action == action] for action in {e.action for e in entries}}
    manifest = pipeline.boxes.dataset.manifest
    assert {e.email.lower() for e in by_action[CREATED]} == manifest.creates
    assert all(e.person_id and e.contact_id for e in by_action[CREATED])
    assert {e.person_id for e in by_action[TAG_ADDED]} >= {e.person_id for e in by_action[CREATED]}
    assert {e.email.lower() for e in by_action[TAG_REMOVED]} == manifest.tag_removals
    assert all(e.tag == TAG and e.contact_id is None for e in by_action[TAG_REMOVED])
    writes = [e for e in entries if e.action != LINKED]
    updated = len(by_action.get("updated", []))
    assert len(writes) == run.contacts_created * 2 + updated + len(manifest.tag_adds) + len(manifest.tag_removals)
    # Contacts matched without a write are tied to their person too, once (followed across an address change).
    assert {e.email.lower() for e in by_action[LINKED]} == manifest.in_sync
    assert pipeline.run().success
    assert pipeline.store.write_entries(pipeline.store.get_sync(run.sync_id), run_id=pipeline.last_run().id) == []


def test_a_failed_runs_removals_count_in_its_record_and_towards_the_brake(pipeline: Pipeline) -> None:
    """Finding 1: a removal phase stopped by a 401 recorded 0 removals, so the next run removed as many again."""
    encharge = pipeline.boxes.encharge
    for email in pipeline.boxes.dataset.manifest.tag_removals:  # untagged by hand before the first run
        person = encharge.find(email=email)
        person["tags"].remove(TAG)
    assert pipeline.run().success and pipeline.last_run().contacts_removed == 0
    tagged = len(carriers(pipeline))

    leaving = members_leave(pipeline, 16, newest_first=True)  # 16 of 83: 19%, under the 20% limit
    encharge.modes.fail_write_calls = [["DELETE /tags", 5, 401]]  # the key is rotated at the fifth removal
    before = carriers(pipeline)
    failed = pipeline.run()
    assert not failed.success and "Encharge rejected the API key" in step_failure(failed)
    removed = before - carriers(pipeline)
    assert 4 <= len(removed) < 16  # those in flight finished; nothing was sent after the error
    record = pipeline.last_run()
    assert record.status == "failed" and record.contacts_removed == len(removed)
    assert "the writes stopped part way" in (record.error_message or "")
    assert record.details["summary"].startswith(f"Stopped before the plan was through: {len(removed)} change(s)")
    entries = pipeline.store.write_entries(pipeline.store.get_sync(record.sync_id), run_id=record.id)
    assert {e.person_id for e in entries if e.action == TAG_REMOVED} == removed

    encharge.modes.fail_write_calls = []  # the new key is in place
    # What is left of the 16, and 3 more: under 20% of those carrying the tag now.
    members_leave(pipeline, 3, newest_first=True)
    encharge.clear_log()
    braked = pipeline.run()
    assert not braked.success and pipeline.writes() == 0
    assert f"{len(removed)} lost it in the last 24 hours" in step_failure(braked)
    assert f"19 of {tagged} people" in step_failure(braked)
    assert all(email for email in leaving)


def test_a_removal_counts_only_when_encharge_confirms_it(pipeline: Pipeline) -> None:
    """Finding 2: a 404 on DELETE /tags counted as removed, even an HTML 404 (a gateway, a retired route)."""
    encharge, manifest = pipeline.boxes.encharge, pipeline.boxes.dataset.manifest
    encharge.modes.tags_html_404 = ["DELETE"]
    result = pipeline.run()
    assert result.success and checks(result)["no_failed_contacts"] is False
    record = pipeline.last_run()
    assert record.contacts_removed == 0 and record.contacts_failed == len(manifest.tag_removals)
    failures = [c for c in record.details["contacts"] if c["status"] == "failed"]
    assert {c["email"].lower() for c in failures} == manifest.tag_removals
    assert all("HTTP 404" in c["error"] for c in failures)
    assert all(TAG in encharge.tags_of(email) for email in manifest.tag_removals)
    sync = pipeline.store.get_sync(record.sync_id)
    assert not [e for e in pipeline.store.write_entries(sync) if e.action == TAG_REMOVED]

    # Encharge's own JSON "person not found" (deleted after the read): gone, neither a removal nor an error.
    encharge.modes.tags_html_404 = []
    deleted, *others = sorted(manifest.tag_removals)
    encharge.modes.delete_after_page = [0, deleted]
    assert pipeline.run().success
    record = pipeline.last_run()
    assert record.contacts_removed == len(others) and record.contacts_failed == 0
    gone = [c for c in record.details["contacts"] if c.get("email", "").lower() == deleted]
    assert gone[0]["status"] == "skipped" and "Person not found" in gone[0]["error"]
    assert {e.email.lower() for e in pipeline.store.write_entries(sync) if e.action == TAG_REMOVED} == set(others)
