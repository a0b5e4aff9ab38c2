"""The small reads `marketing-pipeline check` makes, against the ConnectWise sandbox: the setup lists behind
a filter's ids (paged, contact types named by `description`), `/system/info`, one raw page, and the
sandbox's switch for a security role that hides fields."""

from __future__ import annotations

import pytest

from marketing_pipeline.errors import ApiAuthError, ApiError
from marketing_pipeline.sandbox.cw_modes import ModeError
from marketing_pipeline.sandbox.dataset import COMPANY_TYPES, CONTACT_TYPES, STATUSES
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline_tests.support.clients import cw_client


def test_setup_lists_hold_the_names_behind_every_id_of_the_dataset(sandboxes: Sandboxes) -> None:
    with cw_client(sandboxes, page_size=2) as client:  # several pages each
        types = client.setup_list("company/companies/types")
        statuses = client.setup_list("company/companies/statuses")
        contact_types = client.setup_list("company/contacts/types")
        assert client.transport.stats.counts["GET /company/companies/types"] == 5  # 9 types, 2 a page
    assert {t["id"]: t["name"] for t in types}.items() >= COMPANY_TYPES.items()
    assert {s["id"]: s["name"] for s in statuses} == STATUSES
    assert [s["id"] for s in statuses if s["inactiveFlag"]] == [2]
    assert {t["id"]: t["description"] for t in contact_types}.items() >= CONTACT_TYPES.items()
    assert all("name" not in t for t in contact_types)  # ConnectWise's ContactType has a description


def test_system_info_and_one_raw_page(sandboxes: Sandboxes) -> None:
    with cw_client(sandboxes) as client:
        assert client.system_info()["version"].startswith("v2025.1")
        page = client.first_page("company/contacts", 7)
    assert len(page) == 7 and [c["id"] for c in page] == sorted(c["id"] for c in page)
    assert "communicationItems" in page[0]  # no `fields`: what the role shows


def test_a_rejected_client_id_is_named(sandboxes: Sandboxes) -> None:
    with (
        cw_client(sandboxes, client_id="11111111-2222-4333-8444-555555555555") as client,
        pytest.raises(ApiAuthError, match=r"refused the clientId \(HTTP 401 on /system/info: A valid clientId"),
    ):
        client.system_info()
    with cw_client(sandboxes, private_key="wrong") as client, pytest.raises(ApiAuthError, match="CW_PRIVATE_KEY"):
        client.system_info()


def test_a_role_that_hides_fields(sandboxes: Sandboxes) -> None:
    sandboxes.connectwise.set_modes({"hidden_fields": {"companies": ["types", "status"]}})
    with cw_client(sandboxes) as client:
        company = client.first_page("company/companies", 1)[0]
        contact = client.first_page("company/contacts", 1)[0]
    assert "types" not in company and "status" not in company and "deletedFlag" in company
    assert "types" in contact
    for bad in ({"people": ["types"]}, {"contacts": "types"}, ["types"]):
        with pytest.raises(ModeError, match="hidden_fields"):
            sandboxes.connectwise.set_modes({"hidden_fields": bad})


def test_a_list_that_never_ends_is_not_a_setup_list(sandboxes: Sandboxes) -> None:
    with cw_client(sandboxes, page_size=1) as client, pytest.raises(ApiError, match="more than 3 pages"):
        client.setup_list("company/companies/types", max_pages=3)
