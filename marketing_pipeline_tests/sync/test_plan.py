"""The diff, rule by rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from marketing_pipeline.sync.audience import CONTACT_COLUMNS
from marketing_pipeline.sync.emails import email_key, normalise_email
from marketing_pipeline.sync.owners import SyncRank, shared_addresses
from marketing_pipeline.sync.people import duplicate_people, people_frame, split_tags, with_found
from marketing_pipeline.sync.plan import build_plan, unverified_creates_skipped
from marketing_pipeline.sync.written_fields import WrittenFields, written_frame

TAG = "newsletter"


def contacts(*rows: tuple[int, str | None, str, str, str]) -> pd.DataFrame:
    records = []
    for cid, raw, first, last, company in rows:
        email, problem = normalise_email(raw)
        records.append(
            {
                "contact_id": cid,
                "first_name": first,
                "last_name": last,
                "company": company,
                "company_id": 1,
                "email": email,
                "email_key": email_key(email) if email else None,
                "email_problem": problem,
                "reason": f"reason {cid}",
            }
        )
    return pd.DataFrame(records, columns=CONTACT_COLUMNS)


def people(*rows: dict[str, Any]) -> pd.DataFrame:
    return people_frame([{"id": f"p{i}", **row} for i, row in enumerate(rows)])


def actions(plan: Any, action: str) -> list[dict[str, Any]]:
    return plan.of(action).to_dict("records")


def test_new_contact_is_created_with_the_tag_data() -> None:
    plan = build_plan(contacts((1, "ann@x.com", "Ann", "Lee", "Co")), people(), TAG)
    [create] = actions(plan, "create")
    assert (create["email"], create["first_name"], create["last_name"], create["company"]) == (
        "ann@x.com",
        "Ann",
        "Lee",
        "Co",
    )
    assert plan.counts.writes == 1 and plan.counts.tagged_before == 0


def test_matching_is_case_insensitive_and_in_sync_people_need_nothing() -> None:
    plan = build_plan(
        contacts((1, "Ann@X.com", "Ann", "Lee", "Co")),
        people(
            {
                "email": "ANN@x.COM",
                "firstName": "Ann",
                "lastName": "Lee",
                "company": "Co",
                "tags": f"{TAG},other",
            }
        ),
        TAG,
    )
    assert plan.counts.writes == 0
    assert plan.counts.unchanged == 1


def test_only_differing_fields_are_updated_and_the_encharge_address_is_used() -> None:
    plan = build_plan(
        contacts((1, "ann@x.com", "Ann", "Lee-Smith", "New Co")),
        people({"email": "ANN@x.com", "firstName": "Ann", "lastName": "Lee", "company": "Old Co", "tags": TAG}),
        TAG,
    )
    [update] = actions(plan, "update")
    assert update["email"] == "ANN@x.com" and update["person_id"] == "p0"
    assert update["changes"] == "lastName,company"
    assert (update["first_name"], update["last_name"], update["company"]) == (None, "Lee-Smith", "New Co")
    assert actions(plan, "add_tag") == []


def test_empty_connectwise_values_never_blank_encharge_fields() -> None:
    plan = build_plan(
        contacts((1, "ann@x.com", "", "", "Co")),
        people({"email": "ann@x.com", "firstName": "Ann", "lastName": "Lee", "company": "Co", "tags": TAG}),
        TAG,
    )
    assert plan.counts.writes == 0


def test_a_case_change_in_a_name_is_an_update() -> None:
    plan = build_plan(
        contacts((1, "ann@x.com", "Ann", "McLee", "Co")),
        people({"email": "ann@x.com", "firstName": "Ann", "lastName": "Mclee", "company": "Co", "tags": TAG}),
        TAG,
    )
    assert [a["changes"] for a in actions(plan, "update")] == ["lastName"]


def test_existing_person_without_the_tag_gets_it() -> None:
    plan = build_plan(
        contacts((1, "ann@x.com", "Ann", "Lee", "Co")),
        people({"email": "ann@x.com", "firstName": "Ann", "lastName": "Lee", "company": "Co", "tags": "webinar"}),
        TAG,
    )
    [add] = actions(plan, "add_tag")
    assert (add["email"], add["person_id"]) == ("ann@x.com", "p0")
    assert plan.counts.update == 0


def test_tagged_people_outside_the_audience_lose_only_the_tag() -> None:
    plan = build_plan(
        contacts((1, "ann@x.com", "Ann", "Lee", "Co")),
        people(
            {"email": "gone@x.com", "tags": f"{TAG}, vip"},
            {"email": "reader@x.com", "tags": "vip"},
            {"email": None, "tags": TAG},
            {"email": "untagged@x.com", "tags": None},
        ),
        TAG,
    )
    removals = actions(plan, "remove_tag")
    assert [(r["email"], r["person_id"]) for r in removals] == [("gone@x.com", "p0"), (None, "p2")]
    assert plan.counts.tagged_before == 2
    assert plan.counts.create == 1


def test_tag_matching_is_exact_per_tag_not_substring() -> None:
    plan = build_plan(contacts(), people({"email": "a@x.com", "tags": f"{TAG}-archive,old-{TAG}"}), TAG)
    assert plan.counts.tagged_before == 0 and plan.counts.writes == 0


def test_contacts_without_usable_email_and_duplicates_are_skipped_with_reasons() -> None:
    plan = build_plan(
        contacts(
            (5, "Sam@x.com", "Sam", "Lee", "Co"),
            (3, "sam@X.com", "Samuel", "Lee", "Co"),
            (4, None, "No", "Mail", "Co"),
            (6, "bad@@x", "Bad", "Mail", "Co"),
        ),
        people(),
        TAG,
    )
    skipped = {s["contact_id"]: s["reason"] for s in actions(plan, "skip")}
    assert skipped == {
        5: "duplicate email: same address as contact 3",
        4: "no email address",
        6: "invalid email 'bad@@x': email must contain exactly one @",
    }
    [create] = actions(plan, "create")
    assert (create["contact_id"], create["first_name"]) == (3, "Samuel")  # lowest contact id wins
    assert plan.counts.audience == 1


def test_duplicate_people_in_encharge_prefer_the_tagged_one_and_are_never_untagged() -> None:
    plan = build_plan(
        contacts((1, "ann@x.com", "Ann", "Lee", "Co")),
        people(
            {"email": "ann@x.com", "firstName": "Ann", "lastName": "Lee", "company": "Co", "tags": None},
            {"email": "ANN@x.com", "firstName": "Ann", "lastName": "Lee", "company": "Co", "tags": TAG},
        ),
        TAG,
    )
    assert plan.counts.writes == 0


def test_empty_inputs() -> None:
    plan = build_plan(contacts(), people(), TAG)
    assert plan.actions.empty and plan.counts.writes == 0 and plan.counts.contacts_total == 0


def test_fingerprint_is_stable_and_sensitive() -> None:
    c = contacts((1, "ann@x.com", "Ann", "Lee", "Co"), (2, "bob@x.com", "Bob", "Ray", "Co"))
    p = people({"email": "old@x.com", "tags": TAG})
    assert build_plan(c, p, TAG).fingerprint == build_plan(c.iloc[::-1], p, TAG).fingerprint
    assert build_plan(c, p, TAG).fingerprint != build_plan(c.iloc[:1], p, TAG).fingerprint


@pytest.mark.parametrize(
    "raw, expected",
    [
        (None, frozenset()),
        ("", frozenset()),
        ("a, b,,c ", frozenset({"a", "b", "c"})),
        (["a", " b"], frozenset({"a", "b"})),
    ],
)
def test_split_tags(raw: Any, expected: frozenset) -> None:
    assert split_tags(raw) == expected


def test_people_without_an_id_are_ignored_and_other_fields_tolerated() -> None:
    frame = people_frame([{"email": "a@x.com"}, {"id": 7, "email": " B@x.com ", "leadScore": 3, "tags": ["t"]}])
    assert frame.to_dict("records") == [
        {
            "person_id": "7",
            "email": "B@x.com",
            "email_key": "b@x.com",
            "first_name": None,  # silent: not in the read ("" before issue 11)
            "last_name": None,
            "company": None,
            "tags": "t",
            "subscribed": None,  # the read does not say
        }
    ]


# --- Encharge silent about a synced field: compare with what the sync last wrote ----------------------


def test_a_silent_field_without_memory_is_written_once() -> None:
    silent = people({"email": "ann@x.com", "firstName": "Ann", "lastName": "Lee", "tags": TAG})  # no company
    plan = build_plan(contacts((1, "ann@x.com", "Ann", "Lee", "Co")), silent, TAG)
    [update] = actions(plan, "update")
    assert update["changes"] == "company" and update["company"] == "Co"


def test_a_silent_field_that_the_sync_wrote_is_steady() -> None:
    silent = people({"email": "ann@x.com", "firstName": "Ann", "lastName": "Lee", "tags": TAG})
    memory = written_frame([WrittenFields("ann@x.com", "p0", company="Co")])
    plan = build_plan(contacts((1, "ANN@x.com", "Ann", "Lee", "Co")), silent, TAG, memory)
    assert plan.counts.writes == 0 and plan.counts.unchanged == 1


def test_a_renamed_company_reaches_encharge_although_encharge_is_silent() -> None:
    silent = people({"email": "ann@x.com", "firstName": "Ann", "lastName": "Lee", "tags": TAG})
    memory = written_frame([WrittenFields("ann@x.com", "p0", company="Co")])
    plan = build_plan(contacts((1, "ann@x.com", "Ann", "Lee", "Co Renamed")), silent, TAG, memory)
    [update] = actions(plan, "update")
    assert (update["changes"], update["company"]) == ("company", "Co Renamed")


def test_null_and_empty_values_are_silence_too() -> None:
    for value in (None, "", "  "):
        person = people({"email": "ann@x.com", "firstName": "Ann", "lastName": "Lee", "company": value, "tags": TAG})
        memory = written_frame([WrittenFields("ann@x.com", company="Co")])
        assert build_plan(contacts((1, "ann@x.com", "Ann", "Lee", "Co")), person, TAG, memory).counts.writes == 0


def test_what_encharge_returns_wins_over_memory() -> None:
    # A marketer changed the company in Encharge after the sync wrote it: ConnectWise's value is written again.
    person = people({"email": "ann@x.com", "firstName": "Ann", "lastName": "Lee", "company": "Edited", "tags": TAG})
    memory = written_frame([WrittenFields("ann@x.com", company="Co")])
    [update] = actions(build_plan(contacts((1, "ann@x.com", "Ann", "Lee", "Co")), person, TAG, memory), "update")
    assert update["changes"] == "company"


# --- case-variant duplicates and people found by lookup --------------------------------------------


def test_case_variant_duplicates_all_lose_the_tag_by_id_and_are_listed() -> None:
    plan = build_plan(
        contacts((1, "bob@x.com", "Bob", "Ray", "Co")),
        people(
            {"email": "ann@x.com", "tags": f"{TAG},vip"},
            {"email": "ANN@x.com", "tags": TAG},
            {"email": "Ann@X.com", "tags": "vip"},
        ),
        TAG,
    )
    assert sorted(r["person_id"] for r in actions(plan, "remove_tag")) == ["p0", "p1"]
    assert plan.duplicates == [
        {"email": "ann@x.com", "personIds": ["p0", "p1", "p2"], "emails": ["ann@x.com", "ANN@x.com", "Ann@X.com"]}
    ]
    assert duplicate_people(people({"email": "a@x.com"}, {"email": "b@x.com"})) == []


def test_people_found_by_lookup_are_handled_as_existing() -> None:
    listed = people({"email": "reader@x.com", "tags": "blog"})
    found = people_frame([{"id": "hidden", "email": "Ann@x.com", "firstName": "Ann", "tags": "customer"}])
    audience = contacts((1, "ann@x.com", "Ann", "Lee", "Co"))
    assert build_plan(audience, listed, TAG).counts.create == 1
    plan = build_plan(audience, with_found(listed, found, {"ann@x.com"}), TAG)
    assert plan.counts.create == 0
    assert [(a["person_id"], a["changes"]) for a in actions(plan, "update")] == [("hidden", "lastName,company")]
    assert [a["person_id"] for a in actions(plan, "add_tag")] == ["hidden"]


def test_with_found_keeps_only_the_addresses_asked_for() -> None:
    listed = people({"email": "reader@x.com"})
    found = people_frame(
        [{"id": "p0", "email": "reader@x.com"}, {"id": "x", "email": "other@x.com"}, {"id": "y", "email": "a@x.com"}]
    )
    assert list(with_found(listed, found, {"a@x.com", "reader@x.com"})["person_id"]) == ["p0", "y"]


def test_a_person_who_changed_address_while_the_account_was_read_keeps_the_tag() -> None:
    # The listing saw p0 at the old address, with the tag; the contact's new address is not in it, so it is
    # looked up, and the lookup (fresher) finds p0 there: p0 is matched, and nothing is taken from them.
    listed = people({"email": "old@x.com", "tags": TAG, "firstName": "Ann", "lastName": "Lee", "company": "Co"})
    found = people_frame(
        [{"id": "p0", "email": "new@x.com", "tags": TAG, "firstName": "Ann", "lastName": "Lee", "company": "Co"}]
    )
    audience = contacts((1, "new@x.com", "Ann", "Lee", "Co"))
    stale = build_plan(audience, listed, TAG)
    assert (stale.counts.create, stale.counts.remove_tag) == (1, 1)  # what the listing alone would say
    plan = build_plan(audience, with_found(listed, found, {"new@x.com"}), TAG)
    assert plan.counts.writes == 0 and plan.counts.unchanged == 1


def test_a_create_whose_lookup_was_refused_becomes_a_skip_with_the_reason() -> None:
    plan = build_plan(
        contacts((1, "ann@x.com", "Ann", "Lee", "Co"), (2, "bob@x.com", "Bob", "Ray", "Co")), people(), TAG
    )
    skipped = unverified_creates_skipped(plan, {"ANN@x.com": "Encharge answered HTTP 400 on GET /people: bad"})
    assert [a["email"] for a in actions(skipped, "create")] == ["bob@x.com"]
    [skip] = actions(skipped, "skip")
    assert (skip["contact_id"], skip["email"]) == (1, "ann@x.com")
    assert skip["reason"].startswith("Encharge refused to look this address up (Encharge answered HTTP 400")
    assert (skipped.counts.create, skipped.counts.skip, skipped.counts.contacts_total) == (1, 1, 2)
    assert skipped.fingerprint != plan.fingerprint
    assert unverified_creates_skipped(plan, {}) is plan


# --- one rule for tag names (issue 22, finding 3) ------------------------------------------------------

ANN = {"email": "ann@x.com", "firstName": "Ann", "lastName": "Lee", "company": "Co"}
BOB = {"email": "bob@x.com", "firstName": "Bob", "lastName": "Hay", "company": "Co"}


def members() -> pd.DataFrame:
    return contacts((1, "ann@x.com", "Ann", "Lee", "Co"))


def test_a_member_carrying_another_spelling_is_moved_removal_first_and_counted_by_the_brake() -> None:
    plan = build_plan(members(), people({**ANN, "tags": "Newsletter,other"}), TAG)
    [move] = actions(plan, "remove_tag")
    [add] = actions(plan, "add_tag")
    assert (move["person_id"], move["tag"]) == ("p0", "Newsletter") and add["tag"] == TAG
    assert "now spelled 'newsletter': 'Newsletter' is taken off" in move["reason"]
    assert plan.counts.tagged_before == 1 and plan.counts.remove_tag == 1 and plan.counts.unchanged == 0


def test_a_member_carrying_both_spellings_loses_only_the_other_one() -> None:
    plan = build_plan(members(), people({**ANN, "tags": "NEWSLETTER,Newsletter,newsletter"}), TAG)
    [move] = actions(plan, "remove_tag")
    assert move["tag"] == "NEWSLETTER,Newsletter" and "as well as 'newsletter'" in move["reason"]
    assert actions(plan, "add_tag") == [] and plan.counts.writes == 1


def test_a_leaver_loses_every_spelling_and_other_tags_are_never_touched() -> None:
    plan = build_plan(
        members(), people({**ANN, "tags": TAG}, {**BOB, "tags": "Newsletter,newsletter,newsletters"}), TAG
    )
    [leave] = actions(plan, "remove_tag")
    assert (leave["email"], leave["tag"]) == ("bob@x.com", "Newsletter,newsletter")
    assert plan.counts.tagged_before == 2


def test_a_spelling_encharge_rewrote_after_the_sync_added_its_own_is_taken_as_carried() -> None:
    memory = written_frame([WrittenFields(email_key="ann@x.com", tag=TAG)])
    rewritten = build_plan(members(), people({**ANN, "tags": "Newsletter"}), TAG, memory)
    assert rewritten.counts.writes == 0 and rewritten.counts.unchanged == 1
    # The memory is of another spelling (the tag was renamed since): moved as usual.
    older = written_frame([WrittenFields(email_key="ann@x.com", tag="NEWSLETTER")])
    assert build_plan(members(), people({**ANN, "tags": "Newsletter"}), TAG, older).counts.remove_tag == 1
    # Two other spellings: Encharge keeps spellings apart, so it did not rewrite ours: moved.
    both = build_plan(members(), people({**ANN, "tags": "Newsletter,NEWSLETTER"}), TAG, memory)
    assert both.counts.remove_tag == 1 and both.counts.add_tag == 1


def test_the_tag_column_names_what_each_action_adds_or_removes() -> None:
    plan = build_plan(
        contacts((1, "ann@x.com", "Ann", "Lee", "Co"), (2, "cat@x.com", "Cat", "Ode", "Co")),
        people({**ANN}),
        TAG,
    )
    assert {row["action"]: row["tag"] for row in plan.actions.to_dict("records")} == {"create": TAG, "add_tag": TAG}


# --- one owner of a shared person's fields (issue 22, finding 6) --------------------------------------


def test_a_person_another_sync_owns_is_only_tagged_and_listed_as_shared() -> None:
    first = SyncRank(created_at=datetime(2026, 1, 1), sync_id="s1", label="first")
    me = SyncRank(created_at=datetime(2026, 2, 1), sync_id="s2", label="second")
    shared = shared_addresses(me, ["ann@x.com", "bob@x.com"], {"ann@x.com": [first]})
    audience = contacts((1, "ann@x.com", "Annie", "Lee", "Other Co"), (2, "bob@x.com", "Bob", "Hay", "New Co"))
    plan = build_plan(audience, people({**ANN}, {**BOB, "tags": TAG}), TAG, shared=shared)
    [update] = actions(plan, "update")
    assert update["email"] == "bob@x.com"  # Ann's name and company are the first sync's to write
    assert [row["email"] for row in actions(plan, "add_tag")] == ["ann@x.com"]  # but she gets this sync's tag
    assert plan.shared == [
        {"email": "ann@x.com", "fieldsOwnedBy": "first", "syncs": ["first", "second"], "thisSyncOwns": False}
    ]
    # Seen from the owner: it writes her fields, and lists her as shared too.
    owner_view = shared_addresses(first, ["ann@x.com"], {"ann@x.com": [me]})
    owned = build_plan(contacts((1, "ann@x.com", "Annie", "Lee", "Other Co")), people({**ANN}), TAG, shared=owner_view)
    assert len(actions(owned, "update")) == 1 and owned.shared[0]["thisSyncOwns"] is True
