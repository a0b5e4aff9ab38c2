"""The pipeline end to end under each of the Encharge sandbox's modes: every way a read can be incomplete,
inconsistent or silent, a live account that changes while it is read (sign-ups, some anonymous; people who
act and move in an order by activity; a growing count), each reading of what Encharge leaves undocumented,
and one odd record. Under every one: every run completes, no person loses a tag other than the sync's,
nobody is duplicated, the audience is right within two runs, and a steady state writes nothing (people
who sign up outside the audience are not work)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from marketing_pipeline.defs.resources import EnchargeResource
from marketing_pipeline.sandbox.dataset import TAG
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline_tests.support.convergence import assert_safe
from marketing_pipeline_tests.support.pipeline import Pipeline, asset_metadata, step_failure

pytestmark = pytest.mark.slow  # three runs of the whole job per mode


@dataclass
class Setup:
    """What a mode did before the runs: people a test deleted, people the sync cannot see who keep the tag,
    addresses the sync may not write to, a narrower Encharge resource when the mode needs one; and what the
    runs must show: people found by lookup in the first run (None: it depends on timing), addresses shared
    up to case, contacts failed in the first run, whether the first run may leave work for the second (a
    read that missed someone), and what to switch off before the steady state."""

    deleted: frozenset[str] = frozenset()
    also_tagged: frozenset[str] = frozenset()
    left_out: frozenset[str] = frozenset()
    read_concurrency: int | None = None
    found: int | None = 0
    duplicates: int = 0
    failed: int = 0
    two_runs: bool = False
    lookup_refused: int = 0
    after_first: Callable[[Sandboxes], None] | None = None


def first(emails: set[str]) -> str:
    return sorted(emails)[0]


def archived(count_archived: bool) -> Callable[[Sandboxes], Setup]:
    def setup(boxes: Sandboxes) -> Setup:
        m = boxes.dataset.manifest
        for email in (first(m.in_sync), first(m.tag_adds), first(m.updates), first(m.untouched)):
            boxes.encharge.archive(email)
        former = first(m.tag_removals)
        boxes.encharge.archive(former)
        boxes.encharge.modes.count_archived = count_archived
        # The sync cannot see an archived former member, so cannot take its tag back: they keep it. The three
        # archived audience members are found by the lookup before create.
        return Setup(also_tagged=frozenset({former}), found=3)

    return setup


def short_page(boxes: Sandboxes) -> Setup:
    boxes.encharge.modes.short_pages.append(100)  # the read goes on where the page stopped: nobody missed
    return Setup()


def empty_page(boxes: Sandboxes) -> Setup:
    boxes.encharge.modes.empty_pages.append(0)  # read again, since people follow it
    return Setup()


def deletion_while_paging(boxes: Sandboxes) -> Setup:
    # A marketer deletes someone on the first page while the sync reads on: everyone after shifts by one, so
    # the first person of the next page slips by (work for the next run), and the deleted person's update
    # finds nobody (skipped, not failed); the next run creates them again, as they are in the audience.
    victim = boxes.dataset.people[0]["email"]
    boxes.encharge.modes.delete_after_page = [0, victim]
    return Setup(deleted=frozenset({boxes.dataset.people[0]["id"]}), read_concurrency=1, two_runs=True, found=None)


def fields_left_out(*names: str) -> Callable[[Sandboxes], Setup]:
    def setup(boxes: Sandboxes) -> Setup:
        boxes.encharge.modes.omit_fields = list(names)
        return Setup()

    return setup


def case_variants(boxes: Sandboxes) -> Setup:
    m = boxes.dataset.manifest
    boxes.encharge.modes.case_sensitive_emails = True
    former = boxes.encharge.find(email=first(m.tag_removals))
    assert former is not None
    boxes.encharge.add_person({"email": former["email"].upper(), "tags": [TAG, "events"]})
    member = boxes.encharge.find(email=first(m.in_sync))
    assert member is not None
    boxes.encharge.add_person({"email": member["email"].title(), "tags": ["events"]})
    new = first(m.creates)  # Encharge holds the new contact's address in other case: not created again
    boxes.encharge.add_person({"email": new.upper(), "tags": ["vip"]})
    return Setup(duplicates=2)


def upsert_tags(mode: str) -> Callable[[Sandboxes], Setup]:
    def setup(boxes: Sandboxes) -> Setup:
        boxes.encharge.modes.upsert_tags = mode
        return Setup()

    return setup


def upsert_answer_bare(boxes: Sandboxes) -> Setup:
    boxes.encharge.modes.upsert_answer = "bare"  # no ids back: the new people are tagged by address
    return Setup()


def lookup_404(boxes: Sandboxes) -> Setup:
    boxes.encharge.modes.lookup_404 = True
    return archived(True)(boxes)


def live(**modes: object) -> Callable[[Sandboxes], Setup]:
    """A busy account: two sign-ups per page read (a quarter anonymous visitors; the first two are new
    contacts of the audience signing up on the website), plus `modes`."""

    def setup(boxes: Sandboxes) -> Setup:
        joining = sorted(boxes.dataset.manifest.creates)[:2]
        boxes.encharge.modes.configure({"signups_per_page": 2, "signup_emails": joining, **modes})
        # Whether the read saw them, or the lookup before create found them, depends on timing.
        missed = modes.get("sort") in ("ignore", "refuse") and modes.get("listing_order") == "activity"
        return Setup(found=None, two_runs=missed)

    return setup


def lookup_refused(boxes: Sandboxes) -> Setup:
    # One new contact's address makes Encharge refuse the lookup (400) of any batch holding it: the batch is
    # split until the address is alone, and that contact is skipped with the reason, never created blind.
    odd = first(boxes.dataset.manifest.creates)
    boxes.encharge.modes.lookup_400 = [odd]
    return Setup(left_out=frozenset({odd}), lookup_refused=1)


def write_refused(boxes: Sandboxes) -> Setup:
    # Encharge refuses every write about one person with a 409: that person fails with the reason, the rest
    # of the plan is applied; once Encharge accepts again, the next run finishes the work.
    odd = first(boxes.dataset.manifest.updates)
    boxes.encharge.modes.refuse_writes = {odd: 409}

    def accept_again(b: Sandboxes) -> None:
        b.encharge.modes.refuse_writes = {}

    return Setup(failed=1, two_runs=True, after_first=accept_again)


MODES: dict[str, Callable[[Sandboxes], Setup]] = {
    "archived people, counted": archived(True),
    "archived people, not counted": archived(False),
    "one short page": short_page,
    "one empty page": empty_page,
    "a deletion while paging": deletion_while_paging,
    "company left out of reads": fields_left_out("company"),
    "every synced field left out of reads": fields_left_out("firstName", "lastName", "company"),
    "case-variant duplicates": case_variants,
    "tags on upsert replace": upsert_tags("replace"),
    "tags on upsert ignored": upsert_tags("ignore"),
    "lookups answer 404": lookup_404,
    "creates answered without people": upsert_answer_bare,
    "sign-ups while reading": live(),
    "sign-ups, ignoreAnonymous not honoured": live(ignore_anonymous="ignore"),
    "ordered by activity, sort honoured": live(listing_order="activity", activity_per_page=1),
    "ordered by activity, sort ignored": live(listing_order="activity", activity_per_page=1, sort="ignore"),
    "ordered by activity, sort refused": live(listing_order="activity", activity_per_page=1, sort="refuse"),
    "a count growing ahead of the listing": live(count_growth=40),
    "a lookup refused for one address": lookup_refused,
    "a write refused for one person": write_refused,
}


def upserts_carry_no_tags(boxes: Sandboxes) -> None:
    bodies = [json.loads(body) for method, path, body in boxes.encharge.log if (method, path) == ("POST", "/v1/people")]
    records = [r for body in bodies for r in (body if isinstance(body, list) else [body])]
    assert records == [] or all("tags" not in r for r in records)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", MODES, ids=list(MODES))
def test_the_guarantees_hold_in_every_mode(paged_pipeline: Pipeline, mode: str) -> None:
    boxes = paged_pipeline.boxes
    setup = MODES[mode](boxes)
    pipeline = paged_pipeline
    if setup.read_concurrency:
        encharge: EnchargeResource = pipeline.resources["encharge"]
        pipeline = pipeline.with_resource("encharge", encharge.model_copy(update={"read_concurrency": 1}))
    before = boxes.encharge.snapshot_by_id()
    safe = {"deleted": setup.deleted, "also_tagged": setup.also_tagged, "left_out": setup.left_out}

    first_run = pipeline.run()
    assert first_run.success, step_failure(first_run)
    assert_safe(boxes, before, converged=not setup.two_runs, **safe)
    upserts_carry_no_tags(boxes)
    people, plan = (asset_metadata(first_run, asset) for asset in ("encharge_people", "sync_plan"))
    assert people["people_read"] > 0 and people["people_count_after"] >= people["people_count_before"] - 1
    if boxes.encharge.modes.count_growth:
        assert people["counted_not_listed"] >= 40 and "may not have been seen" in people["listing_note"]
    if setup.found is not None:
        assert plan["found_by_lookup"] == setup.found
    assert plan["lookup_refused"] == setup.lookup_refused
    run = pipeline.last_run()
    assert run is not None and run.contacts_failed == setup.failed
    assert len(run.details["duplicates"]) == setup.duplicates
    assert run.details["reads"]["encharge"]["peopleRead"] == people["people_read"]
    if setup.failed:
        [failure] = [c for c in run.details["contacts"] if c["status"] == "failed"]
        assert "HTTP 409" in failure["error"]
    if setup.lookup_refused:
        [skipped] = [c for c in run.details["contacts"] if "refused to look this address up" in c.get("reason", "")]
        assert skipped["email"].lower() in setup.left_out and "HTTP 400" in skipped["reason"]
    if setup.after_first:
        setup.after_first(boxes)

    if setup.two_runs:  # the first read missed someone, or a write was refused: the second run finishes
        second = pipeline.run()
        assert second.success, step_failure(second)
        assert pipeline.last_run().contacts_failed == 0
        assert_safe(boxes, before, **safe)

    # Converged: the next run is a steady state and writes nothing, though people keep signing up.
    boxes.encharge.clear_log()
    steady = pipeline.run()
    assert steady.success, step_failure(steady)
    assert pipeline.writes() == 0, boxes.encharge.requests
    assert_safe(boxes, before, **safe)
