"""The pure rules of issue 22's findings 3 and 6: which tag names a sync may use and when two spellings are
the same tag (`sync.tags`), and which sync owns the fields of a person several syncs hold (`sync.owners`)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from marketing_pipeline.sync.owners import Shared, SyncRank, field_owner, shared_addresses, shared_note
from marketing_pipeline.sync.tags import MAX_TAG_LENGTH, TAG_RULE, same_tag, spellings_of, tag_key, tag_problem


@pytest.mark.parametrize(
    "tag", ["news", "News", "managed-client-newsletter", "Client_News 2026", "a", "x" * MAX_TAG_LENGTH, "Q4 - 2026"]
)
def test_tags_within_encharges_documented_characters_are_valid(tag: str) -> None:
    assert tag_problem(tag) is None


@pytest.mark.parametrize(
    ("tag", "problem"),
    [
        ("", "is empty"),
        (None, "is empty"),
        ("news,events", "contains a comma"),
        (" news", "has a space at one end"),
        ("news ", "has a space at one end"),
        ("news\t", "has a space at one end"),
        ("client  news", "has two spaces in a row"),
        ("x" * (MAX_TAG_LENGTH + 1), f"is {MAX_TAG_LENGTH + 1} characters long"),
        ("news.letter", "contains '.'"),
        ("Kunden-für-News", "contains 'ü'"),
        ("news/letter&more", "contains '&', '/'"),
        ("news\nletter", "contains '\\n'"),
        ("K\u212a", "contains"),  # the Kelvin sign lower-cases to an ASCII k: still refused
    ],
)
def test_a_tag_encharge_would_refuse_or_rewrite_has_a_problem(tag: object, problem: str) -> None:
    found = tag_problem(tag)
    assert found is not None and problem in found


def test_the_rule_names_the_characters() -> None:
    assert "letters A-Z and a-z, digits 0-9, dashes (-), underscores (_) and single spaces" in TAG_RULE


def test_two_spellings_in_any_case_are_the_same_tag() -> None:
    assert same_tag("News", "news") and same_tag("NEWS", " news ")
    assert not same_tag("news", "newsletter") and not same_tag("", "") and not same_tag(None, None)
    assert tag_key(" News ") == "news"
    assert spellings_of("news", ["News", "events", "news", "NEWS", "newsletter"]) == ("NEWS", "News", "news")
    assert spellings_of("news", ["events"]) == ()


T0 = datetime(2026, 1, 1)


def rank(label: str, days: int, sync_id: str | None = None) -> SyncRank:
    return SyncRank(created_at=T0 + timedelta(days=days), sync_id=sync_id or f"id-{label}", label=label)


def test_the_sync_created_first_owns_the_fields_whatever_the_order_asked() -> None:
    a, b, c = rank("a", 0), rank("b", 1), rank("c", 2)
    assert field_owner([c, b, a]) == a == field_owner([a, c]) == field_owner([b, a])
    assert field_owner([c, b]) == b
    # Created at the same instant: the lower id, so every sync's run agrees.
    same_a, same_b = rank("x", 0, "id-1"), rank("y", 0, "id-2")
    assert field_owner([same_b, same_a]) == same_a


def test_each_side_of_a_shared_address_agrees_on_the_owner() -> None:
    a, b = rank("first", 0), rank("second", 5)
    from_a = shared_addresses(a, ["p@x.com", "q@x.com"], {"p@x.com": [b]})
    from_b = shared_addresses(b, ["p@x.com", "r@x.com"], {"p@x.com": [a]})
    assert set(from_a) == set(from_b) == {"p@x.com"}
    assert from_a["p@x.com"] == Shared(owner=a, holders=(a, b), mine=True)
    assert from_b["p@x.com"] == Shared(owner=a, holders=(a, b), mine=False)
    assert from_b["p@x.com"].as_detail("p@x.com") == {
        "email": "p@x.com",
        "fieldsOwnedBy": "first",
        "syncs": ["first", "second"],
        "thisSyncOwns": False,
    }


def test_a_sync_is_never_its_own_other_holder_and_no_holder_means_not_shared() -> None:
    a = rank("a", 0)
    assert shared_addresses(a, ["p@x.com"], {"p@x.com": [a]}) == {}
    assert shared_addresses(a, ["p@x.com"], {}) == {}


def test_the_note_says_who_owns_what() -> None:
    a, b, c = rank("first", 0), rank("second", 1), rank("third", 2)
    shared = shared_addresses(b, ["p", "q", "r"], {"p": [a], "q": [c], "r": [a, c]})
    note = shared_note(shared)
    assert note is not None and note.startswith("3 people are in another sync's audience too")
    assert "1 owned by this sync" in note and "2 owned by 'first'" in note
    assert shared_note({}) is None
