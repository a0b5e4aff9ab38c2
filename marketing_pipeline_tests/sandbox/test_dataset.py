"""The generated dataset holds every trap the issue asks for, deterministically."""

from __future__ import annotations

from marketing_pipeline.sandbox.dataset import TAG, first_email, generate
from marketing_pipeline.sandbox.person_names import address_spelling


def test_deterministic() -> None:
    assert generate().contacts == generate().contacts


def test_traps_are_present() -> None:
    data = generate()
    passing = {c["id"]: c for c in data.contacts if c["id"] in set(data.manifest.passing_contact_ids)}
    assert len(passing) == 86
    assert sorted(data.manifest.skipped.values()) == ["duplicate_email", "invalid_email", "no_email"]
    emails = [first_email(c) for c in passing.values()]
    assert any(e and e != e.strip() for e in emails)  # surrounding whitespace
    assert any(e and "+" in e for e in emails)
    assert any(
        len([i for i in (c["communicationItems"] or []) if i["type"]["name"] == "Email"]) > 1 for c in passing.values()
    )
    assert any(not c["firstName"].isascii() or not c["lastName"].isascii() for c in passing.values())
    others = [c for c in data.contacts if c["id"] not in passing]
    assert any(c["inactiveFlag"] for c in others)
    assert any(19 in [t["id"] for t in c["types"] or []] for c in others)
    assert any(c["company"] is None for c in others)
    people = data.people
    assert any(p["unsubscribed"] and TAG in p["tags"] for p in people)
    assert any(TAG in p["tags"] and len(p["tags"]) > 1 for p in people)
    assert any(p["email"] != p["email"].lower() for p in people)


def test_scales_up() -> None:
    data = generate(5000, encharge="empty")
    assert len(data.manifest.passing_contact_ids) == 5000
    assert len(data.manifest.creates) == 4997 and data.people == []


def test_addresses_are_spelled_as_people_spell_them_and_names_stay_as_they_are() -> None:
    assert address_spelling("Noah.Müller") == "noah.mueller"
    assert address_spelling("Łukasz.Schröder") == "lukasz.schroeder"
    assert address_spelling("Søren.O'Brien") == "soren.obrien"
    assert address_spelling("Chloé.Fernández") == "chloe.fernandez"
    data = generate()
    for contact in data.contacts:
        email = first_email(contact)
        if not email or "@" not in email or contact["lastName"] in ("Doe",):
            continue
        local = email.strip().split("@")[0].split("+")[0].lower()
        assert local.isascii(), email
        if contact["lastName"] == "Müller":
            assert "mueller" in local and "mller" not in local.replace("mueller", ""), email
    assert any(c["lastName"] == "Müller" for c in data.contacts)  # the name itself is untouched
