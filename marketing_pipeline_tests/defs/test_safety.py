"""The apply step's safety end to end: stale plans, review-then-apply, the brake over 24 hours, a dry run
that says it would be braked, a read that cannot be trusted, two syncs sharing a tag, and a company renamed
while Encharge is silent about companies."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest
from sqlalchemy import insert

from marketing_pipeline.defs.assets import SYNC_ASSETS
from marketing_pipeline.sandbox.dataset import TAG, first_email
from marketing_pipeline.sandbox.server import Fault
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.repository import utcnow
from marketing_pipeline.store.schema import marketing_sync
from marketing_pipeline.store.seed import FIRST_SYNC
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.pipeline import Pipeline, audience_metadata, members_leave, step_failure


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_plan_from_an_earlier_run_is_never_applied(pipeline: Pipeline) -> None:
    assert pipeline.run(dry_run=True).success
    before = pipeline.boxes.encharge.snapshot()
    pipeline.boxes.encharge.clear_log()
    # An operator presses "Materialize" on encharge_audience alone: the stored plan is an hour old, say.
    alone = dg.materialize(
        SYNC_ASSETS,
        selection=["encharge_audience"],
        partition_key=SYNC_KEY,
        instance=pipeline.instance,
        resources=pipeline.resources,
        raise_on_error=False,
    )
    assert not alone.success
    assert "not in this run" in step_failure(alone) and "materialize the whole sync" in step_failure(alone)
    assert pipeline.boxes.encharge.request_count() == 0 and pipeline.boxes.encharge.snapshot() == before
    run = pipeline.last_run()
    assert run is not None and run.status == "failed" and "materialize the whole sync" in (run.error_message or "")
    assert pipeline.run().success  # the whole sync applies its own, fresh plan


def test_review_then_apply_by_plan_hash(pipeline: Pipeline) -> None:
    assert pipeline.run(dry_run=True).success
    dry = pipeline.last_run()
    assert dry is not None
    reviewed = dry.details["planHash"]
    before = pipeline.boxes.encharge.snapshot()

    wrong = pipeline.run(approved_plan_hash="0123456789abcdef")
    assert not wrong.success and "is not the approved plan (0123456789abcdef)" in step_failure(wrong)
    too_old = pipeline.run(approved_plan_hash=reviewed, approval_max_age_hours=0)
    assert not too_old.success and f"no dry run of sync '{SYNC_KEY}' in the last 0 hours" in step_failure(too_old)
    assert pipeline.boxes.encharge.snapshot() == before

    approved = pipeline.run(approved_plan_hash=reviewed)
    assert approved.success
    assert audience_metadata(approved)["plan_hash"] == reviewed
    assert pipeline.last_run().contacts_created == len(pipeline.boxes.dataset.manifest.creates)
    # Something changed since the review: the reviewed hash no longer applies.
    members_leave(pipeline, 1, newest_first=True)
    changed = pipeline.run(approved_plan_hash=reviewed)
    assert not changed.success and "changed since it was reviewed" in step_failure(changed)


def test_the_brake_covers_removals_over_24_hours_and_a_dry_run_says_so(pipeline: Pipeline) -> None:
    assert pipeline.run().success  # 3 former members lose the tag; 83 carry it
    tagged = len(pipeline.boxes.dataset.manifest.audience)
    members_leave(pipeline, 12, newest_first=True)
    assert pipeline.run().success  # 12 of 83 (14%); with the 3 before, 15 of 86 (17%) in 24 hours
    assert pipeline.last_run().contacts_removed == 12

    leaving = members_leave(pipeline, 4, newest_first=True)  # 4 of 71 (6%) alone, but 19 of 86 (22%) in 24 hours
    dry = pipeline.run(dry_run=True)
    assert dry.success
    summary = pipeline.last_run().details["summary"]
    assert summary.startswith("Dry run: would create 0, update 0, tag 0, untag 4; 3 skipped; the real run would be")
    assert "19 of 86 people (22%, above the 20% limit over 24 hours)" in summary
    assert audience_metadata(dry)["braked"] is True

    pipeline.boxes.encharge.clear_log()
    braked = pipeline.run()
    assert not braked.success and pipeline.writes() == 0
    assert "lost it in the last 24 hours" in (pipeline.last_run().error_message or "")

    dry_hash = pipeline.run(dry_run=True)
    approved = pipeline.run(approved_plan_hash=audience_metadata(dry_hash)["plan_hash"])  # reviewed: passes
    assert approved.success and pipeline.last_run().details["forced"] is True
    assert all(TAG not in pipeline.boxes.encharge.tags_of(e) for e in leaving)
    assert tagged - 16 == sum(TAG in p["tags"] for p in pipeline.boxes.encharge.people.values())

    members_leave(pipeline, 1, newest_first=True)  # the window starts after the operator's decision
    assert pipeline.run().success and pipeline.last_run().contacts_removed == 1


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_plainly_broken_read_writes_nothing_and_says_why(pipeline: Pipeline) -> None:
    # Nobody listed, with or without the steadying parameters, while peopleCount says there are people.
    boxes = pipeline.boxes
    boxes.encharge.faults.inject(*[Fault(status=200, body={"people": []})] * 2, path="/people/all")  # both reads
    before = boxes.encharge.snapshot()
    result = pipeline.run()
    assert not result.success and pipeline.writes() == 0 and boxes.encharge.snapshot() == before
    message = pipeline.last_run().error_message or ""
    assert message == (
        "Encharge listed nobody (GET /people/all, with and without sort and ignoreAnonymous) although "
        f"peopleCount is {len(before)}, so nothing was written"
    )
    assert pipeline.run().success  # once Encharge lists people again


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_two_syncs_sharing_a_tag_cannot_run(pipeline: Pipeline) -> None:
    with get_engine(pipeline.store.url).begin() as conn:  # a row the NestJS app wrote
        conn.execute(
            insert(marketing_sync).values(
                id="nest-1",
                name="Prospects",
                sourceType="connectwise",
                destType="encharge",
                filterConfig=FIRST_SYNC["filter_config"],
                tagName=TAG,
                updatedAt=utcnow(),
            )
        )
    assert "prospects" in pipeline.store.sync_keys()  # keyed when first seen, as the registry sensor sees it
    pipeline.instance.add_dynamic_partitions("marketing_sync", ["prospects"])
    for key, other in ((SYNC_KEY, "prospects"), ("prospects", SYNC_KEY)):
        result = pipeline.run(key=key)
        assert not result.success
        assert f"is also the tag of sync '{other}'" in step_failure(result)
    assert pipeline.boxes.encharge.request_count() == 0


def company_of(pipeline: Pipeline, email: str) -> Any:
    person = pipeline.boxes.encharge.find(email=email)
    return person and person.get("company")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_renamed_company_reaches_encharge_although_reads_leave_company_out(pipeline: Pipeline) -> None:
    boxes = pipeline.boxes
    boxes.encharge.modes.omit_fields = ["company"]
    assert pipeline.run().success
    boxes.encharge.clear_log()
    assert pipeline.run().success and pipeline.writes() == 0  # steady: the memory stands in for Encharge

    company = boxes.dataset.companies[0]
    company["name"] = "Renamed Holdings"
    at_company = {
        (first_email(c) or "").strip().lower()
        for c in boxes.dataset.contacts
        if (c.get("company") or {}).get("id") == company["id"]
        and c["id"] in boxes.dataset.manifest.passing_contact_ids
        and c["id"] not in boxes.dataset.manifest.skipped
    } & boxes.dataset.manifest.audience
    assert at_company
    assert pipeline.run().success
    assert {company_of(pipeline, e) for e in at_company} == {"Renamed Holdings"}
    assert pipeline.last_run().contacts_updated == len(at_company)
    boxes.encharge.clear_log()
    assert pipeline.run().success and pipeline.writes() == 0
