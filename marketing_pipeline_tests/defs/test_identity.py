"""Issue 22, findings 3 and 6, end to end (the Dagster job against the sandboxes and a real store): one rule
for tag names (a case-only rename moves people from one spelling to the other, under every way Encharge may
treat case), and one owner of the fields of a person two syncs share."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from marketing_pipeline.sandbox.dataset import SECOND_FILTER, TAG, first_email, share_person
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.schema import marketing_sync
from marketing_pipeline.sync.tags import same_tag
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.pipeline import (
    Pipeline,
    asset_metadata,
    audience_metadata,
    members_leave,
    step_failure,
)

RENAMED = "Managed-Client-Newsletter"  # the first sync's tag, renamed in case only


def spellings(pipeline: Pipeline) -> dict[str, tuple[str, ...]]:
    """Each person carrying the first sync's tag (any spelling): the spellings they carry."""
    out = {}
    for person in pipeline.boxes.encharge.people.values():
        carried = tuple(sorted(t for t in person["tags"] if same_tag(t, TAG)))
        if carried:
            out[(person.get("email") or "").lower()] = carried
    return out


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("tag_case", ["sensitive", "keep_first", "lower"])
def test_a_case_only_rename_moves_people_through_the_brake_and_converges(pipeline: Pipeline, tag_case: str) -> None:
    boxes = pipeline.boxes
    boxes.encharge.modes.tag_case = tag_case
    assert pipeline.run().success
    tagged = set(spellings(pipeline))
    assert tagged and all(s == (TAG,) for s in spellings(pipeline).values())

    pipeline.store.update_sync(SYNC_KEY, tag_name=RENAMED)
    boxes.encharge.clear_log()
    braked = pipeline.run()  # everyone would lose the old spelling: a mass change, braked like any other
    assert not braked.success and "above the 20% limit" in step_failure(braked)
    assert pipeline.writes() == 0

    assert pipeline.run(force=True).success
    carried = spellings(pipeline)
    assert set(carried) == tagged  # the same people carry the tag, nobody more, nobody less
    assert all(len(s) == 1 for s in carried.values())  # nobody carries both spellings
    if tag_case == "sensitive":  # where Encharge keeps spellings apart, everyone has the new one
        assert set(carried.values()) == {(RENAMED,)}
    run = pipeline.last_run()
    assert run is not None and run.contacts_removed == len(tagged)  # each move took one spelling off

    boxes.encharge.clear_log()
    assert pipeline.run().success and pipeline.writes() == 0  # converged

    gone = members_leave(pipeline, 3)
    assert pipeline.run().success
    after = spellings(pipeline)
    assert not set(gone) & set(after)  # the leavers lost whichever spelling they carried
    assert set(after) == tagged - set(gone)
    boxes.encharge.clear_log()
    assert pipeline.run().success and pipeline.writes() == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_leavers_carrying_both_spellings_lose_both_and_members_keep_one(pipeline: Pipeline) -> None:
    boxes = pipeline.boxes
    assert pipeline.run().success
    members = sorted(spellings(pipeline))[:4]
    for email in members:  # a marketer tagged them by hand in another case: Encharge keeps both
        boxes.encharge.find(email=email)["tags"].append(RENAMED)  # type: ignore[index]
    gone = set(members_leave(pipeline, 40)) & set(members)
    assert gone and set(members) - gone
    assert pipeline.run(force=True).success
    after = spellings(pipeline)
    assert not gone & set(after)
    assert all(after[email] == (TAG,) for email in set(members) - gone)
    boxes.encharge.clear_log()
    assert pipeline.run().success and pipeline.writes() == 0


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_tag_the_nestjs_app_wrote_that_encharge_would_rewrite_stops_the_run_before_any_request(
    pipeline: Pipeline,
) -> None:
    with get_engine(pipeline.store.url).begin() as conn:
        conn.execute(update(marketing_sync).values(tagName="newsletter (clients)"))
    result = pipeline.run()
    assert not result.success
    assert "tagName 'newsletter (clients)' contains '(', ')'; an Encharge tag may hold only letters" in step_failure(
        result
    )
    assert pipeline.boxes.encharge.request_count() == 0


# --- finding 6: a person two syncs share --------------------------------------------------------------

SECOND_KEY = "partner-digest"


def fields_of(pipeline: Pipeline, email: str) -> tuple[Any, Any, Any]:
    person = pipeline.boxes.encharge.find(email=email)
    assert person is not None
    return person.get("firstName"), person.get("lastName"), person.get("company")


def second_sync(pipeline: Pipeline) -> str:
    """A second sync, created after the first, whose audience shares one address with it; that address."""
    store = pipeline.store
    sync = store.create_sync(
        name="Partner Digest", filter_config=SECOND_FILTER, tag_name="partner-digest", schedule=None
    )
    assert sync.key == SECOND_KEY
    pipeline.instance.add_dynamic_partitions("marketing_sync", [SECOND_KEY])
    email = sorted(pipeline.boxes.dataset.manifest.in_sync)[0]
    share_person(pipeline.boxes.dataset, email)
    return email


def contact_fields(pipeline: Pipeline, email: str, filter_types: list[int]) -> tuple[Any, Any, Any]:
    data = pipeline.boxes.dataset
    companies = {c["id"]: c for c in data.companies}
    contact = next(
        c
        for c in data.contacts
        if (first_email(c) or "").strip().lower() == email
        and [t["id"] for t in companies[c["company"]["id"]]["types"] or []][:1] == filter_types[:1]
        and not c["inactiveFlag"]
    )
    return contact["firstName"], contact["lastName"], contact["company"]["name"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_person_in_two_syncs_audiences_has_one_owner_of_their_fields(pipeline: Pipeline) -> None:
    boxes = pipeline.boxes
    email = second_sync(pipeline)
    first_fields = contact_fields(pipeline, email, [48])
    second_fields = contact_fields(pipeline, email, [47])
    assert first_fields != second_fields

    # The newer sync runs first (it knows of no other yet), then the first sync, then each again.
    for key in (SECOND_KEY, SYNC_KEY):
        assert pipeline.run(key=key).success
    assert fields_of(pipeline, email) == first_fields  # the sync created first owns the fields
    person = boxes.encharge.find(email=email)
    assert person is not None and {TAG, "partner-digest"} <= set(person["tags"])  # each sync's tag
    boxes.encharge.clear_log()
    for key in (SECOND_KEY, SYNC_KEY, SECOND_KEY):
        result = pipeline.run(key=key)
        assert result.success and pipeline.writes() == 0, key  # no flip-flop
    assert fields_of(pipeline, email) == first_fields

    # The conflict shows in both syncs' run details and Dagster metadata.
    for key, owns in ((SYNC_KEY, True), (SECOND_KEY, False)):
        run = pipeline.last_run(key)
        assert run is not None and run.details["sharedPeople"] == [
            {"email": email, "fieldsOwnedBy": SYNC_KEY, "syncs": [SYNC_KEY, SECOND_KEY], "thisSyncOwns": owns}
        ]
        assert any("1 people are in another sync's audience too" in note for note in run.details["notes"])
    plan_metadata = asset_metadata(result, "sync_plan")
    assert (plan_metadata["shared_people"], plan_metadata["shared_people_owned_elsewhere"]) == (1, 1)
    assert f"{email}: fields owned by '{SYNC_KEY}'" in str(audience_metadata(result)["shared_people"])

    # A paused owner holds nobody: the other sync writes its fields while it is paused, and gives them back.
    pipeline.store.update_sync(SYNC_KEY, enabled=False)
    assert pipeline.run(key=SECOND_KEY).success and fields_of(pipeline, email) == second_fields
    pipeline.store.update_sync(SYNC_KEY, enabled=True)
    assert pipeline.run(key=SYNC_KEY).success and fields_of(pipeline, email) == first_fields
    boxes.encharge.clear_log()
    assert pipeline.run(key=SECOND_KEY).success and pipeline.writes() == 0

    # The owner no longer has the person (they left its audience): ownership moves on from its next run.
    contact = next(
        c
        for c in boxes.dataset.contacts
        if (first_email(c) or "").strip().lower() == email and c["id"] in boxes.dataset.manifest.passing_contact_ids
    )
    contact["inactiveFlag"] = True
    assert pipeline.run(key=SYNC_KEY, force=True).success
    assert TAG not in (boxes.encharge.find(email=email) or {}).get("tags", [])
    assert pipeline.run(key=SECOND_KEY).success and fields_of(pipeline, email) == second_fields
    boxes.encharge.clear_log()
    for key in (SYNC_KEY, SECOND_KEY):
        assert pipeline.run(key=key).success and pipeline.writes() == 0
    assert pipeline.last_run(SECOND_KEY).details["sharedPeople"] == []  # type: ignore[union-attr]
