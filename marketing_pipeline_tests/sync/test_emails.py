from __future__ import annotations

import pytest

from marketing_pipeline.sync.emails import email_key, email_problem, first_email, normalise_email
from marketing_pipeline.sync.records import CommunicationItem


def item(type_name: str | None, value: str | None) -> CommunicationItem:
    return CommunicationItem.model_validate(
        {"type": {"id": 1, "name": type_name} if type_name else None, "value": value}
    )


def test_first_email_item_wins_in_order() -> None:
    items = [item("Direct", "0161 496 0000"), item("Email", "first@a.com"), item("Email", "second@a.com")]
    assert first_email(items) == "first@a.com"


def test_email_type_name_matches_any_case_and_ignores_other_types() -> None:
    assert first_email([item("email", "x@a.com")]) == "x@a.com"
    assert first_email([item("Fax", "x@a.com"), item(None, "y@a.com")]) is None
    assert first_email([]) is None


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  Jane.Doe@Example.COM \t", ("Jane.Doe@Example.COM", None)),
        ("first+news@example.co.uk", ("first+news@example.co.uk", None)),
        ("josé@exämple.de", ("josé@exämple.de", None)),
        ("o'brien@example.ie", ("o'brien@example.ie", None)),
    ],
)
def test_plausible_addresses_are_kept_trimmed(raw: str, expected: tuple) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw, reason",
    [
        (None, "no email address"),
        ("   ", "no email address"),
        ("jane.doe@@broken", "exactly one @"),
        ("no-at-sign.example.com", "exactly one @"),
        ("@example.com", "nothing before the @"),
        ("jane@localhost", "needs a dot"),
        ("jane@example..com", "needs a dot and no empty parts"),
        ("jane doe@example.com", "characters an address cannot have"),
        ("jane.@example.com", "characters an address cannot have"),
        ("ja..ne@example.com", "characters an address cannot have"),
        ("jane@exa mple.com", "characters a domain cannot have"),
        ("jane@-example.com", "characters a domain cannot have"),
        ("jane@example.c", "top-level domain"),
        ("jane@10.0.0.1", "top-level domain"),
        ("<script>@example.com", "characters an address cannot have"),
        ("a" * 65 + "@example.com", "longer than 64"),
        ("a@" + "b" * 250 + ".com", "longer than 254"),
    ],
)
def test_implausible_addresses_are_rejected_with_a_reason(raw: str | None, reason: str) -> None:
    email, problem = normalise_email(raw)
    assert email is None
    assert problem is not None and reason in problem


@pytest.mark.parametrize(
    "raw",
    [
        "jane\x00doe@example.com",  # NUL: PostgreSQL cannot even store it
        "jane@example.com\x00",
        "\x00jane@example.com",
        "jane\x07@example.com",
        "jane@exam\x1bple.com",
        "jane\x7f@example.com",
        "jane\x85@example.com",
        "jane\u200b@example.com",  # zero-width space: invisible, and no address has it
        "jane@example.com\u202e",
    ],
)
def test_addresses_with_control_or_invisible_characters_are_skipped_with_a_reason(raw: str) -> None:
    email, problem = normalise_email(raw)
    assert email is None
    assert problem is not None and "control or invisible character" in problem
    assert "\x00" not in problem  # the reason shows the address escaped, so any database stores it


def test_email_problem_accepts_ordinary_addresses() -> None:
    assert email_problem("a.b-c_d@sub.example.org") is None


def test_matching_key_is_case_insensitive() -> None:
    assert email_key(" Sam.Lee@Example.com ") == email_key("SAM.LEE@EXAMPLE.COM") == "sam.lee@example.com"
