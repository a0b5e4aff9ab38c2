"""Hostile data from both APIs and bad configuration: each gets a clear reason or error, nothing is lost."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import update

from marketing_pipeline.sandbox.dataset import TAG
from marketing_pipeline.store.database import get_engine
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.schema import marketing_sync
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.pipeline import Pipeline, step_failure

SCRIPT = "<script>alert('x')</script>"


def hostile_contacts(template: dict[str, Any], start: int) -> list[tuple[dict[str, Any], str]]:
    """(contact, what must happen to it) pairs, all at a qualifying company with a qualifying type."""

    def contact(offset: int, **fields: Any) -> dict[str, Any]:
        c = copy.deepcopy(template)
        c.update(
            id=start + offset,
            firstName="Hostile",
            lastName=f"Case{offset}",
            inactiveFlag=False,
            types=[{"id": 1, "name": "Approver"}],
        )
        c.update(fields)
        return c

    def emails(*values: Any) -> list[dict[str, Any]]:
        return [{"type": {"id": 1, "name": "Email"}, "value": v} for v in values]

    return [
        (
            contact(1, firstName=SCRIPT, lastName="<b>Bold</b>", communicationItems=emails("html@hostile.example.com")),
            "synced",
        ),
        (
            contact(2, firstName="A" * 300, lastName="B" * 300, communicationItems=emails("long@hostile.example.com")),
            "synced",
        ),
        (contact(3, communicationItems=emails("first+news@hostile.example.com")), "synced"),
        (contact(4, communicationItems=emails("josé@exämple.de")), "synced"),
        (contact(5, communicationItems=emails("  padded@hostile.example.com \t")), "synced"),
        (contact(6, firstName=None, lastName=None, communicationItems=emails("nulls@hostile.example.com")), "synced"),
        (contact(7, communicationItems=emails("not an email")), "invalid email"),
        (contact(8, communicationItems=emails("x@@hostile.example.com")), "invalid email"),
        (contact(9, communicationItems=emails(None)), "no email address"),
        (contact(10, communicationItems=[{"type": None, "value": "typeless@hostile.example.com"}]), "no email address"),
        (contact(11, communicationItems=None), "no email address"),
        ({k: v for k, v in contact(12).items() if k != "communicationItems"}, "no email address"),
        (contact(13, types=None), "filtered out"),
    ]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_hostile_contacts_and_people(pipeline: Pipeline) -> None:
    boxes = pipeline.boxes
    data = boxes.dataset
    template = next(c for c in data.contacts if c["id"] in set(data.manifest.passing_contact_ids))
    cases = hostile_contacts(template, 800000)
    boxes.connectwise.data["contacts"].extend(c for c, _ in cases)
    boxes.connectwise.data["contacts"].append(copy.deepcopy(cases[0][0]))  # the same contact twice
    # Encharge people the sync must leave alone: no email, odd fields, tags as a list.
    with boxes.encharge._lock:
        boxes.encharge._insert({"id": "anon-1", "tags": ["visitor"], "unsubscribed": False})
        boxes.encharge._insert(
            {
                "id": "odd-1",
                "email": "odd@elsewhere.example.com",
                "tags": ["a", "b"],
                "unsubscribed": False,
                "leadScore": 7,
                "customFields": {"x": [1, 2]},
            }
        )
    before = boxes.encharge.snapshot()

    result = pipeline.run()

    assert result.success
    store: SyncStore = pipeline.store
    run = store.last_run(store.get_sync(SYNC_KEY))
    details = {d.get("contactId"): d for d in run.details["contacts"]}
    for contact, expected in cases:
        email = next((i["value"] for i in contact.get("communicationItems") or [] if i.get("type")), None)
        if expected == "synced":
            person = boxes.encharge.find(email=email.strip())
            assert person is not None and TAG in person["tags"], email
        elif expected == "filtered out":
            assert contact["id"] not in details
        else:
            assert details[contact["id"]]["action"] == "skip"
            assert expected in details[contact["id"]]["reason"]
    html = boxes.encharge.find(email="html@hostile.example.com")
    assert (html["firstName"], html["lastName"]) == (SCRIPT, "<b>Bold</b>")  # stored as text, verbatim
    assert boxes.encharge.find(email="long@hostile.example.com")["firstName"] == "A" * 300
    after = boxes.encharge.snapshot()
    assert after["anon-1"] == before["anon-1"]
    assert {k: v for k, v in after["odd@elsewhere.example.com"].items() if k != "updatedAt"} == {
        k: v for k, v in before["odd@elsewhere.example.com"].items() if k != "updatedAt"
    }
    assert run.contacts_total == 86 + 12  # the duplicate contact counted once, the typeless one filtered


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"filterConfig": {"companyTypes": ["48"], "companyStatuses": [1], "contactTypes": [1]}},
            "filterConfig.companyTypes[0]: Input should be a valid integer",
        ),
        ({"filterConfig": {"companyTypes": [48], "contactTypes": [1]}}, "filterConfig.companyStatuses: Field required"),
        ({"filterConfig": ["not", "an", "object"]}, "filterConfig: Input should be a valid dictionary"),
        ({"tagName": "newsletter,vip"}, "contains a comma"),
    ],
)
def test_bad_configuration_fails_clearly_and_writes_nothing(
    pipeline: Pipeline, values: dict[str, Any], message: str
) -> None:
    with get_engine(pipeline.store.url).begin() as conn:
        conn.execute(update(marketing_sync).values(**values))
    result = pipeline.run()
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert message in failure.step_failure_data.error.message
    boxes = pipeline.boxes
    assert boxes.encharge.request_count() == 0 and boxes.connectwise.request_count() == 0


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_control_characters_never_stop_the_record_on_postgresql(pipeline: Pipeline) -> None:
    """PostgreSQL refuses NUL in text and json: an address with one is skipped with the reason, and any
    other text a run met (a name with a NUL) is stored, so the run is recorded as what it was."""
    boxes = pipeline.boxes
    data = boxes.dataset
    template = next(c for c in data.contacts if c["id"] in set(data.manifest.passing_contact_ids))

    def contact(offset: int, email: str, **fields: Any) -> dict[str, Any]:
        c = copy.deepcopy(template)
        items = [{"type": {"id": 1, "name": "Email"}, "value": email}]
        c.update({"id": 900000 + offset, "firstName": "Ctrl", "lastName": f"Case{offset}", "communicationItems": items})
        c.update(fields)
        return c

    cases = [
        contact(1, "nul\x00byte@hostile.example.com"),
        contact(2, "bell\x07@hostile.example.com"),
        contact(3, "zero\u200bwidth@hostile.example.com"),
        contact(4, "named@hostile.example.com", firstName="Nul\x00Name", lastName="Esc\x1b[31mape"),
    ]
    boxes.connectwise.data["contacts"].extend(cases)

    result = pipeline.run()

    assert result.success, step_failure(result)
    run = pipeline.last_run()
    assert run is not None and run.status == "completed"
    details = {d.get("contactId"): d for d in run.details["contacts"]}
    for case in cases[:3]:
        row = details[case["id"]]
        assert row["action"] == "skip" and "control or invisible character" in row["reason"], row
    assert boxes.encharge.find(email="named@hostile.example.com") is not None
