"""The pipeline end to end under each of the Encharge sandbox's modes: every way a read can be incomplete,
inconsistent or silent, and each reading of what Encharge leaves undocumented. Under every one: no person
loses a tag other than the sync's, nobody is duplicated, the audience converges within two runs, and a
steady state writes nothing."""

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
    a narrower Encharge resource when the mode needs one; and what the first run must show: reads of
    everyone, people found by lookup, addresses shared up to case."""

    deleted: frozenset[str] = frozenset()
    also_tagged: frozenset[str] = frozenset()
    read_concurrency: int | None = None
    reads: int = 1
    found: int = 0
    duplicates: int = 0


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
        return Setup(also_tagged=frozenset({former}), reads=2 if count_archived else 1, found=3)

    return setup


def short_page(boxes: Sandboxes) -> Setup:
    boxes.encharge.modes.short_pages.append(100)
    return Setup(reads=2)


def empty_page(boxes: Sandboxes) -> Setup:
    boxes.encharge.modes.empty_pages.append(0)
    return Setup(reads=2)


def deletion_while_paging(boxes: Sandboxes) -> Setup:
    # A marketer deletes someone on the first page while the sync reads on: everyone after shifts by one.
    victim = boxes.dataset.people[0]["email"]
    boxes.encharge.modes.delete_after_page = [0, victim]
    return Setup(deleted=frozenset({boxes.dataset.people[0]["id"]}), read_concurrency=1, reads=2)


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


def lookup_404(boxes: Sandboxes) -> Setup:
    boxes.encharge.modes.lookup_404 = True
    return archived(True)(boxes)


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

    first_run = pipeline.run()
    assert first_run.success, step_failure(first_run)
    assert_safe(boxes, before, deleted=setup.deleted, also_tagged=setup.also_tagged)
    upserts_carry_no_tags(boxes)
    people, plan = (asset_metadata(first_run, asset) for asset in ("encharge_people", "sync_plan"))
    assert (people["reads"], plan["found_by_lookup"]) == (setup.reads, setup.found)
    run = pipeline.last_run()
    assert run is not None and run.contacts_failed == 0 and len(run.details["duplicates"]) == setup.duplicates

    # Converged in one run (the guarantee is two): the next run is a steady state and writes nothing.
    boxes.encharge.clear_log()
    steady = pipeline.run()
    assert steady.success, step_failure(steady)
    assert pipeline.writes() == 0, boxes.encharge.requests
    assert_safe(boxes, before, deleted=setup.deleted, also_tagged=setup.also_tagged)
