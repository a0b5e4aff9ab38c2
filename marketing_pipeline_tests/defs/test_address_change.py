"""Issue 22, finding 5, end to end: a contact whose address changed in ConnectWise is followed, by its
contact id, to the Encharge person it was synced to; never made a new subscribed person while the old one,
who unsubscribed, loses the tag. Encharge's documentation does not say whether its upsert by id changes an
address, so each possibility is a sandbox switch (`upsert_id_email`)."""

from __future__ import annotations

from typing import Any

import pytest

from marketing_pipeline.sandbox.dataset import TAG, first_email
from marketing_pipeline.sync.write_record import MOVE_REFUSED, MOVED
from marketing_pipeline_tests.support.pipeline import Pipeline

NEW = "rebranded@newname.example.com"


def created_contact(pipeline: Pipeline) -> tuple[dict[str, Any], str]:
    """A contact the first run created (so the write record ties it to its person), and its address."""
    email = sorted(pipeline.boxes.dataset.manifest.creates)[0]
    contact = next(c for c in pipeline.boxes.dataset.contacts if (first_email(c) or "").strip().lower() == email)
    return contact, email


def change_address(contact: dict[str, Any], email: str) -> None:
    for item in contact["communicationItems"]:
        if (item.get("type") or {}).get("name") == "Email":
            item["value"] = email
            return


def entries(pipeline: Pipeline, action: str) -> list[Any]:
    sync = pipeline.store.get_sync(pipeline.last_run().sync_id)
    return [e for e in pipeline.store.write_entries(sync) if e.action == action]


def test_a_changed_address_moves_the_person_where_encharge_allows_it(pipeline: Pipeline) -> None:
    encharge = pipeline.boxes.encharge
    assert pipeline.run().success
    contact, old = created_contact(pipeline)
    person = encharge.find(email=old)
    encharge.people[person["id"]]["unsubscribed"] = True  # they said no; moving them must not change that
    count = len(encharge.people)

    change_address(contact, NEW)
    assert pipeline.run().success
    record = pipeline.last_run()
    assert len(encharge.people) == count and encharge.find(email=NEW)["id"] == person["id"]  # same person
    moved = encharge.people[person["id"]]
    assert TAG in moved["tags"] and moved["unsubscribed"] is True
    assert record.contacts_created == 0 and record.contacts_removed == 0 and record.contacts_updated == 1
    [row] = [c for c in record.details["contacts"] if c.get("contactId") == contact["id"]]
    assert row["action"] == "update" and row["changes"].startswith("email") and row["email"] == NEW
    assert [(e.person_id, e.email, e.contact_id) for e in entries(pipeline, MOVED)] == [
        (person["id"], NEW, contact["id"])
    ]
    assert any("moved to their contact's new address" in note for note in record.details["notes"])

    encharge.clear_log()
    assert pipeline.run().success and pipeline.writes() == 0  # steady


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("mode", ["ignore", "refuse"])
def test_where_encharge_keeps_the_address_a_subscribed_person_is_created_at_the_new_one(
    pipeline: Pipeline, mode: str
) -> None:
    encharge = pipeline.boxes.encharge
    encharge.modes.upsert_id_email = mode
    assert pipeline.run().success
    contact, old = created_contact(pipeline)
    person = encharge.find(email=old)
    assert person["unsubscribed"] is False

    change_address(contact, NEW)
    assert pipeline.run().success or mode == "refuse"  # a refusal is that person's failure, reported as such
    assert encharge.find(email=NEW) is None and TAG in encharge.tags_of(old)  # nothing decided blind
    assert [e.person_id for e in entries(pipeline, MOVE_REFUSED)] == [person["id"]]
    assert any("not moved to their contact's new address" in n for n in pipeline.last_run().details["notes"])

    assert pipeline.run().success  # the new address, subscribed as the person is; the old one follows the rules
    created = encharge.find(email=NEW)
    assert created is not None and created["id"] != person["id"] and created["unsubscribed"] is False
    assert TAG in created["tags"] and TAG not in encharge.tags_of(old)
    record = pipeline.last_run()
    assert record.contacts_created == 1 and record.contacts_removed == 1

    encharge.clear_log()
    assert pipeline.run().success and pipeline.writes() == 0


@pytest.mark.parametrize("mode", ["ignore", "refuse"])
def test_an_unsubscribed_person_is_never_subscribed_again_at_a_new_address(pipeline: Pipeline, mode: str) -> None:
    """Finding 5: the new address became a new person, tagged and subscribed, while the old one, who had
    unsubscribed, lost the tag."""
    encharge = pipeline.boxes.encharge
    encharge.modes.upsert_id_email = mode
    assert pipeline.run().success
    contact, old = created_contact(pipeline)
    person = encharge.find(email=old)
    encharge.people[person["id"]]["unsubscribed"] = True

    change_address(contact, NEW)
    pipeline.run()
    assert pipeline.run().success
    assert encharge.find(email=NEW) is None  # never created: it would be subscribed
    record = pipeline.last_run()
    [row] = [c for c in record.details["contacts"] if c.get("contactId") == contact["id"]]
    assert row["status"] == "skipped" and "they unsubscribed" in row["reason"]
    assert "nobody who unsubscribed is subscribed again" in row["reason"]
    assert encharge.people[person["id"]]["unsubscribed"] is True

    encharge.clear_log()
    assert pipeline.run().success and pipeline.writes() == 0  # said once a run, written never


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_contact_the_sync_never_wrote_for_is_followed_too(pipeline: Pipeline) -> None:
    """Contacts already in step before the first run (no write to record) are tied to their person by that
    run, so a rebrand that changes every contact's address moves them all."""
    encharge = pipeline.boxes.encharge
    assert pipeline.run().success
    email = sorted(pipeline.boxes.dataset.manifest.in_sync)[0]
    contact = next(c for c in pipeline.boxes.dataset.contacts if (first_email(c) or "").strip().lower() == email)
    person = encharge.find(email=email)
    change_address(contact, NEW)
    assert pipeline.run().success
    assert encharge.find(email=NEW)["id"] == person["id"] and TAG in encharge.people[person["id"]]["tags"]
    assert pipeline.last_run().contacts_created == 0 and pipeline.last_run().contacts_removed == 0
