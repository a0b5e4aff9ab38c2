"""The rules over the write record (issue 22): whom a sync tagged, which person each contact was synced to,
whose tag it is, and a contact followed across an address change. Pure functions over plain data."""

from __future__ import annotations

from marketing_pipeline.sync.ownership import Ownership, adopted_how, ownership_brake
from marketing_pipeline.sync.plan import build_plan
from marketing_pipeline.sync.write_record import (
    CREATED,
    LINKED,
    MOVE_REFUSED,
    MOVED,
    TAG_ADDED,
    TAG_REMOVED,
    ContactPerson,
    TaggedBySync,
    WriteEntry,
    people_of_contacts,
    tagged_by_sync,
)
from marketing_pipeline_tests.sync.test_plan import TAG, actions, contacts, people


def test_whom_the_sync_tagged_is_whose_last_write_of_the_tag_is_an_addition() -> None:
    entries = [
        WriteEntry(TAG_ADDED, "a", "a@x.com", 1, TAG),
        WriteEntry(TAG_ADDED, "b", "b@x.com", 2, TAG),
        WriteEntry(TAG_REMOVED, "b", "b@x.com", None, TAG),  # taken since
        WriteEntry(TAG_ADDED, "c", "c@x.com", 3, "other-tag"),  # another tag
        WriteEntry(CREATED, "d", "d@x.com", 4),  # created, never tagged (the tag call failed)
        WriteEntry(TAG_ADDED, "e", "e@x.com", 5, f" {TAG.upper()} "),  # the same tag, as tags compare
    ]
    assert tagged_by_sync(entries, TAG) == TaggedBySync(ids=frozenset({"a", "e"}))


def test_a_tag_added_by_address_counts_for_that_address_until_a_later_write_there_says_otherwise() -> None:
    """A person whose creation Encharge answered without an id is tagged by address: the record has no id."""
    entries = [
        WriteEntry(TAG_ADDED, None, "New@x.com", 1, TAG),
        WriteEntry(TAG_ADDED, None, "gone@x.com", 2, TAG),
        WriteEntry(TAG_REMOVED, "p7", "GONE@x.com", None, TAG),  # untagged since, by id once it was read
        WriteEntry(TAG_ADDED, None, "other@x.com", 3, "other-tag"),
    ]
    tagged = tagged_by_sync(entries, TAG)
    assert tagged == TaggedBySync(ids=frozenset(), addresses=frozenset({"new@x.com"}))
    assert tagged.covers("p1", " NEW@x.com") and not tagged.covers("p7", "gone@x.com")
    assert not tagged.covers(None, None) and not tagged.covers("p3", "other@x.com")
    # A write by id to an address the sync never tagged by address leaves the addresses alone.
    assert tagged_by_sync([WriteEntry(TAG_REMOVED, "p1", "a@x.com", None, TAG)], TAG).addresses == frozenset()


def test_each_contact_is_followed_to_the_person_its_latest_entry_names() -> None:
    entries = [
        WriteEntry(CREATED, "p1", "old@x.com", 7),
        WriteEntry(MOVE_REFUSED, "p1", "new@x.com", 7),
        WriteEntry(LINKED, "p2", "b@x.com", 8),
        WriteEntry(TAG_REMOVED, "p3", "gone@x.com", None, TAG),  # no contact: not followed
        WriteEntry(MOVE_REFUSED, "p9", "x@x.com", 8),  # about another person: ignored
    ]
    assert people_of_contacts(entries) == {
        7: ContactPerson(7, "p1", "old@x.com", move_refused_to="new@x.com"),
        8: ContactPerson(8, "p2", "b@x.com"),
    }
    later = people_of_contacts([*entries, WriteEntry(MOVED, "p1", "newer@x.com", 7)])
    assert later[7] == ContactPerson(7, "p1", "newer@x.com")


def test_the_brake_names_the_people_it_never_tagged_and_says_how_to_decide() -> None:
    losing = [{"email": f"p{i}@x.com", "personId": f"p{i}"} for i in range(7)]
    reason = ownership_brake(Ownership(owned=False, not_tagged_by_sync=9, would_lose=losing), TAG)
    assert reason is not None and "from 7 people this sync never tagged" in reason
    assert reason.index("--approve HASH") < reason.index("p0@x.com") and reason.endswith("and 2 more")
    assert ownership_brake(Ownership(), TAG) is None  # owned
    assert ownership_brake(Ownership(owned=False, not_tagged_by_sync=3), TAG) is None  # nobody loses it


def test_a_run_takes_ownership_only_on_a_decision_or_when_every_carrier_is_its_own() -> None:
    losing = Ownership(owned=False, not_tagged_by_sync=2, would_lose=[{"email": "a@x.com", "personId": "a"}])
    assert adopted_how(losing, approved_hash="abc", forced=False) == "approved plan abc"
    assert adopted_how(losing, approved_hash=None, forced=True) == "a forced run"
    assert adopted_how(losing, approved_hash=None, forced=False) is None
    staying = Ownership(owned=False, not_tagged_by_sync=2)  # hand-tagged members who stay: still to decide
    assert adopted_how(staying, approved_hash="abc", forced=True) is None
    assert adopted_how(Ownership(owned=False), approved_hash=None, forced=False) is not None
    assert adopted_how(Ownership(), approved_hash="abc", forced=True) is None  # owned already


def test_a_plan_untags_only_whom_the_sync_tagged_until_it_owns_the_tag() -> None:
    everyone = people(
        {"email": "stay@x.com", "tags": TAG},
        {"email": "ours@x.com", "tags": TAG},  # p1: the sync tagged them
        {"email": "hand@x.com", "tags": TAG},  # p2: tagged by hand
    )
    audience = contacts((1, "stay@x.com", "S", "T", "Co"))
    plan = build_plan(audience, everyone, TAG, tagged_by_sync=TaggedBySync(ids=frozenset({"p1"})))
    assert {r["person_id"] for r in actions(plan, "remove_tag")} == {"p1", "p2"}  # the plan itself is unchanged
    assert plan.ownership.would_lose == [{"email": "hand@x.com", "personId": "p2"}]
    assert plan.ownership.not_tagged_by_sync == 2  # p0 stays: no decision needed for them
    assert build_plan(audience, everyone, TAG).ownership.owned  # None: the sync owns its tag
    by_address = TaggedBySync(ids=frozenset({"p1"}), addresses=frozenset({"hand@x.com"}))
    assert build_plan(audience, everyone, TAG, tagged_by_sync=by_address).ownership.would_lose == []


def test_a_contact_whose_address_changed_moves_its_person_instead_of_creating_one() -> None:
    everyone = people({"email": "old@x.com", "tags": TAG, "firstName": "A", "unsubscribed": True})
    memory = {1: ContactPerson(1, "p0", "old@x.com")}
    plan = build_plan(contacts((1, "new@x.com", "A", "B", "Co")), everyone, TAG, contact_people=memory)
    [update] = actions(plan, "update")
    assert (update["person_id"], update["email"], update["changes"]) == ("p0", "new@x.com", "email,lastName,company")
    assert actions(plan, "create") == [] and actions(plan, "remove_tag") == [] and actions(plan, "add_tag") == []
    # Without the memory (main before issue 22): a new person, and the old one, unsubscribed, untagged.
    before = build_plan(contacts((1, "new@x.com", "A", "B", "Co")), everyone, TAG)
    assert len(actions(before, "create")) == 1 and len(actions(before, "remove_tag")) == 1


def test_a_move_encharge_kept_from_happening_creates_only_a_subscribed_person() -> None:
    audience = contacts((1, "new@x.com", "A", "B", "Co"))
    refused = {1: ContactPerson(1, "p0", "old@x.com", move_refused_to="new@x.com")}
    for unsubscribed, creates in ((False, 1), (True, 0), (None, 0)):
        state = {} if unsubscribed is None else {"unsubscribed": unsubscribed}
        everyone = people({"email": "old@x.com", "tags": TAG, **state})
        plan = build_plan(audience, everyone, TAG, contact_people=refused)
        assert len(actions(plan, "create")) == creates and actions(plan, "update") == []
        assert len(actions(plan, "remove_tag")) == 1  # the old address left the audience: the ordinary rule
        if not creates:
            [skip] = actions(plan, "skip")
            assert "nobody who unsubscribed is subscribed again" in skip["reason"]


def test_a_person_is_not_followed_without_evidence() -> None:
    memory = {1: ContactPerson(1, "p0", "old@x.com")}
    audience = contacts((1, "new@x.com", "A", "B", "Co"), (2, "old@x.com", "O", "L", "Co"))
    everyone = people({"email": "old@x.com", "tags": TAG})
    # The old address is still another contact's: that contact keeps the person.
    plan = build_plan(audience, everyone, TAG, contact_people=memory)
    assert [c["email"] for c in actions(plan, "create")] == ["new@x.com"]
    assert [u["contact_id"] for u in actions(plan, "update")] == [2]  # its own fields, no move
    # The person is not in the read: not followed (a create rests on the lookup, as ever).
    plan = build_plan(contacts((1, "new@x.com", "A", "B", "Co")), people(), TAG, contact_people=memory)
    assert len(actions(plan, "create")) == 1


def test_contacts_matched_without_a_write_are_linked_once() -> None:
    everyone = people({"email": "a@x.com", "tags": TAG, "firstName": "A", "lastName": "B", "company": "Co"})
    audience = contacts((1, "a@x.com", "A", "B", "Co"))
    assert build_plan(audience, everyone, TAG).links == [(1, "p0", "a@x.com")]
    assert build_plan(audience, everyone, TAG, contact_people={1: ContactPerson(1, "p0", "a@x.com")}).links == []
