from __future__ import annotations

import pytest

from marketing_pipeline.sync.audience import company_frame, contact_frame
from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.filters import company_exclusion, contact_exclusion
from marketing_pipeline.sync.records import Company, Contact

SEED = FilterConfig.model_validate(
    {
        "companyTypes": [48],
        "companyExcludeTypes": [35, 5],
        "companyStatuses": [1, 19],
        "contactTypes": [1, 2, 21],
        "contactExcludeTypes": [19],
    }
)


def company(cid: int, types: list[int] | None, status: int | None) -> Company:
    return Company.model_validate(
        {
            "id": cid,
            "name": f"Co {cid}",
            "types": [{"id": t, "name": f"T{t}"} for t in types] if types is not None else None,
            "status": {"id": status, "name": "Active"} if status is not None else None,
        }
    )


def contact(
    cid: int,
    company_id: int | None,
    types: list[int] | None,
    *,
    active: bool = True,
    email: str | None = "x@example.com",
) -> Contact:
    return Contact.model_validate(
        {
            "id": cid,
            "firstName": " Ann ",
            "lastName": "Lee",
            "company": {"id": company_id} if company_id is not None else None,
            "inactiveFlag": not active,
            "types": [{"id": t, "name": f"C{t}"} for t in types] if types is not None else None,
            "communicationItems": [{"type": {"name": "Email"}, "value": email}] if email is not None else None,
        }
    )


@pytest.mark.parametrize(
    "types, status, expected",
    [
        ([48], 1, None),
        ([48, 12], 19, None),
        ([48], 2, "status 2 is not one of [1, 19]"),
        ([48], None, "status None is not one of [1, 19]"),
        ([47], 1, "has none of the types [48]"),
        (None, 1, "has none of the types [48]"),
        ([], 1, "has none of the types [48]"),
        ([48, 35], 1, "has excluded type(s) [35]"),
        ([5, 48, 35], 19, "has excluded type(s) [5, 35]"),
    ],
)
def test_company_filter(types: list[int] | None, status: int | None, expected: str | None) -> None:
    assert company_exclusion(company(1, types, status), SEED) == expected


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"company_id": 1, "types": [1]}, None),
        ({"company_id": 1, "types": [2, 3]}, None),
        ({"company_id": 1, "types": [21]}, None),
        ({"company_id": 1, "types": [1], "active": False}, "inactive"),
        ({"company_id": 2, "types": [1]}, "not at a qualifying company"),
        ({"company_id": None, "types": [1]}, "not at a qualifying company"),
        ({"company_id": 1, "types": [3]}, "has none of the contact types [1, 2, 21]"),
        ({"company_id": 1, "types": None}, "has none of the contact types [1, 2, 21]"),
        ({"company_id": 1, "types": [1, 19]}, "has excluded contact type(s) [19]"),
    ],
)
def test_contact_filter(kwargs: dict, expected: str | None) -> None:
    c = contact(10, kwargs.pop("company_id"), kwargs.pop("types"), **kwargs)
    assert contact_exclusion(c, SEED, {1}) == expected


def test_frames_keep_qualifying_rows_with_reasons_and_email_problems() -> None:
    companies = company_frame([company(2, [48], 1), company(1, [48, 12], 19), company(3, [35, 48], 1)], SEED)
    assert companies["company_id"].tolist() == [1, 2]
    assert companies.loc[0, "reason"] == "T48, status Active"
    contacts = contact_frame(
        [
            contact(12, 1, [1], email="  Ann@Example.com "),
            contact(11, 2, [2], email=None),
            contact(13, 3, [1]),
            contact(12, 1, [1]),  # the same contact twice (e.g. two id chunks): kept once
        ],
        companies,
        SEED,
    )
    assert contacts["contact_id"].tolist() == [11, 12]
    first, second = contacts.to_dict("records")
    assert (first["email"], first["email_problem"]) == (None, "no email address")
    assert (second["email"], second["email_key"], second["first_name"]) == (
        "Ann@Example.com",
        "ann@example.com",
        "Ann",
    )
    assert second["reason"] == "C1 at Co 1 (T48, status Active)"


def test_deleted_companies_never_qualify() -> None:
    alive = company(1, [48], 1)
    assert company_exclusion(alive, SEED) is None
    assert company_exclusion(alive.model_copy(update={"deleted_flag": True}), SEED) == "deleted in ConnectWise"
    raw = {"id": 2, "types": [{"id": 48}], "status": {"id": 1}}
    assert company_exclusion(Company.model_validate({**raw, "deletedFlag": None}), SEED) is None
    assert company_exclusion(Company.model_validate({**raw, "deletedFlag": True}), SEED) == "deleted in ConnectWise"
    assert company_frame([alive.model_copy(update={"deleted_flag": True})], SEED).empty


def test_names_lose_control_characters_and_only_them() -> None:
    from marketing_pipeline.sync.audience import plain_text

    assert plain_text(" Nul\x00Name ") == "NulName"
    assert plain_text("Esc\x1b[31mape") == "Esc[31mape"
    assert plain_text("<b>Zoë</b> O'Brien\u200b") == "<b>Zoë</b> O'Brien\u200b"  # printable text stays verbatim
    assert plain_text(None) == ""
