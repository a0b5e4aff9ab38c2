"""The ConnectWise client against a stricter server, over HTTP: every sandbox mode gives exactly the right
audience or a clear error. Pages of 10 make every query several pages long on the 86-contact dataset."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from marketing_pipeline.errors import ApiAuthError, ApiError
from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
from marketing_pipeline.sandbox.dataset import Dataset, expected_audience, generate
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.sandbox.server import Fault
from marketing_pipeline.store.seed import FIRST_SYNC
from marketing_pipeline.sync.audience import company_frame, contact_frame
from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.records import Company
from marketing_pipeline_tests.support.clients import cw_client

SEED = FilterConfig.model_validate(FIRST_SYNC["filter_config"])


@pytest.fixture
def data() -> Dataset:
    return generate()


@pytest.fixture
def server(data: Dataset) -> Iterator[ConnectWiseSandbox]:
    with ConnectWiseSandbox(data.companies, data.contacts) as cw:
        yield cw


def read(server: ConnectWiseSandbox, data: Dataset, **overrides: Any) -> tuple[set[str], Any]:
    """The audience's emails as the client and the sync's rules make it, and the client."""
    boxes = Sandboxes(dataset=data, connectwise=server, encharge=None)  # type: ignore[arg-type]
    with cw_client(boxes, **{"page_size": 10, **overrides}) as client:
        companies = company_frame(client.companies(SEED), SEED)
        contacts = contact_frame(client.contacts(SEED, companies["company_id"].tolist()), companies, SEED)
    emails = set(contacts.loc[contacts["email_problem"].isna(), "email_key"])
    return emails, client


def query(target: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(target).query))


def contact_targets(server: ConnectWiseSandbox) -> list[str]:
    return [t for t in server.targets if "/company/contacts" in t]


MODES = {
    "childConditions applied": {},
    "childConditions ignored": {"child_conditions": "ignore"},
    "childConditions refused": {"child_conditions": "refuse"},
    "childConditions refused from page 2": {"child_conditions": "refuse", "refuse_from_page": 2},
    "childConditions refused from page 3": {"child_conditions": "refuse", "refuse_from_page": 3},
    "deletedFlag refused": {"unrecognised": ["deletedFlag"]},
    "inactiveFlag refused from page 2": {"unrecognised": ["inactiveFlag"], "refuse_from_page": 2},
    "status/id refused": {"unrecognised": ["status/id"]},
    "company/id refused from page 2": {"unrecognised": ["company/id"], "refuse_from_page": 2},
    "types/id refused by name": {"unrecognised": ["types/id"], "refuse_from_page": 2},
    "fields without arrays": {"fields_without_arrays": True},
    "everything at once": {
        "child_conditions": "refuse",
        "refuse_from_page": 2,
        "unrecognised": ["deletedFlag", "inactiveFlag"],
        "fields_without_arrays": True,
    },
}


@pytest.mark.parametrize("modes", list(MODES.values()), ids=list(MODES))
def test_every_mode_gives_exactly_the_audience(server: ConnectWiseSandbox, data: Dataset, modes: dict) -> None:
    server.set_modes(modes)
    emails, client = read(server, data)
    assert emails == expected_audience(data)
    assert bool(client.notes) == bool(modes)  # whatever the server did not honour is said


def test_a_refusal_from_page_2_reads_on_past_the_last_id_without_it(server: ConnectWiseSandbox, data: Dataset) -> None:
    """Paged by key, a query refused a narrowing mid-read reads on from the last id it kept: with the
    narrowing honoured up to there, nothing before it is missing (and nothing read is lost)."""
    server.set_modes({"child_conditions": "refuse", "refuse_from_page": 2})
    emails, client = read(server, data)
    assert emails == expected_audience(data)
    [companies_note] = [n for n in client.notes if "company/companies" in n]
    assert "page 2" in companies_note and "reading on without it" in companies_note
    companies = [query(t) for t in server.targets if "/company/companies" in t]
    first_page_last_id = 110  # the tenth qualifying company: pages of 10
    keyset = f" and id > {first_page_last_id}"
    assert [(keyset in q["conditions"], "childConditions" in q) for q in companies[:3]] == [
        (False, True),
        (True, True),
        (True, False),
    ]
    # the contacts read never sends childConditions again once the companies read was refused them
    contacts = contact_targets(server)
    assert contacts and all("childConditions" not in t for t in contacts)


def test_one_query_per_type_is_replanned_into_one_query_when_refused(data: Dataset) -> None:
    """Contacts alone (companies given): each type's query is refused on page 2; the read starts again as
    one query without childConditions, and nothing read before is lost."""
    with ConnectWiseSandbox(data.companies, data.contacts) as server:
        companies = company_frame([Company.model_validate(raw) for raw in data.companies], SEED)
        server.set_modes({"child_conditions": "refuse", "refuse_from_page": 2})
        boxes = Sandboxes(dataset=data, connectwise=server, encharge=None)  # type: ignore[arg-type]
        with cw_client(boxes, page_size=10) as client:
            contacts = contact_frame(client.contacts(SEED, companies["company_id"].tolist()), companies, SEED)
        assert sorted(contacts["contact_id"]) == sorted(data.manifest.passing_contact_ids)
        last = contact_targets(server)[-1]
        assert "childConditions" not in last


def test_ignored_child_conditions_are_noticed_and_dropped(server: ConnectWiseSandbox, data: Dataset) -> None:
    server.set_modes({"child_conditions": "ignore"})
    emails, client = read(server, data)
    assert emails == expected_audience(data)
    assert any("ignored childConditions" in n for n in client.notes)
    with_child = [t for t in contact_targets(server) if "childConditions" in t]
    assert len(with_child) <= 1  # the companies read noticed: at most one contacts query per type wasted


def test_fields_left_out_are_asked_again_without_fields_once(server: ConnectWiseSandbox, data: Dataset) -> None:
    server.set_modes({"fields_without_arrays": True})
    emails, client = read(server, data)
    assert emails == expected_audience(data)  # a missing field never empties the audience
    with_fields = [t for t in server.targets if "fields=" in t]
    assert len(with_fields) == 1  # remembered for the rest of the run
    assert [n for n in client.notes if "without `fields`" in n]


def test_deleted_companies_never_qualify(server: ConnectWiseSandbox, data: Dataset) -> None:
    good = sorted({c["company"]["id"] for c in data.contacts if c["id"] in set(data.manifest.passing_contact_ids)})
    server.delete_companies(good[:2])
    expected = expected_audience(data)
    assert len(expected) < 83
    emails, _ = read(server, data)
    assert emails == expected
    assert "deletedFlag%3Dfalse" in server.targets[0]
    # and when the server refuses the condition, the filter in code still keeps them out
    server.clear_log()
    server.set_modes({"unrecognised": ["deletedFlag"]})
    emails, client = read(server, data)
    assert emails == expected
    assert any("`deletedFlag=false`" in n for n in client.notes)


def test_contacts_without_their_company_fail_naming_the_role(server: ConnectWiseSandbox, data: Dataset) -> None:
    server.set_modes({"blank_company": True})
    with pytest.raises(ApiAuthError, match="security role") as caught:
        read(server, data)
    assert "nothing was written" in str(caught.value) and "\n" not in str(caught.value)


def test_a_deciding_field_no_record_carries_fails_clearly(data: Dataset) -> None:
    companies = copy.deepcopy(data.companies)
    for company in companies:
        company.pop("deletedFlag")
    with ConnectWiseSandbox(companies, data.contacts) as server:
        server.set_modes({"unrecognised": ["deletedFlag"]})  # nor can the server tell deleted ones apart
        with pytest.raises(ApiAuthError, match=r"none carries `deletedFlag`.*security role"):
            read(server, data)


def test_contacts_without_any_communication_items_fail_clearly(data: Dataset) -> None:
    contacts = copy.deepcopy(data.contacts)
    for contact in contacts:
        contact.pop("communicationItems")
    with ConnectWiseSandbox(data.companies, contacts) as server, pytest.raises(ApiAuthError) as caught:
        read(server, data)
    assert "none carries `communicationItems`" in str(caught.value)


def test_an_unexplained_400_drops_the_least_trusted_narrowing(server: ConnectWiseSandbox, data: Dataset) -> None:
    server.faults.inject(Fault(status=400, body={"code": "InvalidObject", "message": "bad request"}))
    emails, client = read(server, data)
    assert emails == expected_audience(data)
    assert any("`types/id=48` (childConditions)" in n and "bad request" in n for n in client.notes)


def test_a_persistent_400_fails_once_nothing_is_left_to_drop(server: ConnectWiseSandbox, data: Dataset) -> None:
    server.faults.inject(*[Fault(status=400, body={"message": "nope"})] * 4, path="company/companies")
    with pytest.raises(ApiError, match="HTTP 400 on /company/companies: nope"):
        read(server, data)
    assert server.request_count() == 4  # types, deletedFlag, status dropped in turn, then the bare query


def test_a_proxy_429_without_retry_after_is_retried(server: ConnectWiseSandbox, data: Dataset) -> None:
    server.set_modes({"proxy_429": 3})
    emails, client = read(server, data)
    assert emails == expected_audience(data)
    assert client.transport.stats.throttled == 3


def test_a_proxy_429_beyond_every_retry_says_what_it_is(server: ConnectWiseSandbox, data: Dataset) -> None:
    server.set_modes({"proxy_429": 10})
    with pytest.raises(ApiError) as caught:
        read(server, data)
    message = str(caught.value)
    assert "HTTP 429" in message and "HTML page" in message and "proxy" in message and "after 4 attempts" in message
    assert "<html" not in message


def test_the_codebase_is_discovered_without_credentials(server: ConnectWiseSandbox, data: Dataset) -> None:
    emails, client = read(server, data, base_url=None, site=server.root_url)
    assert emails == expected_audience(data)
    assert client.base_url == server.base_url
    assert server.companyinfo_calls == [("sandbox", False)]  # once, and without the keys


def test_a_moved_codebase_is_rediscovered_once(server: ConnectWiseSandbox, data: Dataset) -> None:
    old = server.base_url
    server.move_codebase("v2025_2")
    emails, client = read(server, data, base_url=old)
    assert emails == expected_audience(data)
    assert client.base_url.endswith("/v2025_2/apis/3.0/")
    [note] = client.notes
    assert "404 at codebase v2025_1/" in note and "v2025_2/" in note and "update CW_BASE_URL" in note
    assert len(server.companyinfo_calls) == 1


def test_a_codebase_that_moves_twice_in_a_run_fails_clearly(server: ConnectWiseSandbox, data: Dataset) -> None:
    boxes = Sandboxes(dataset=data, connectwise=server, encharge=None)  # type: ignore[arg-type]
    with cw_client(boxes, base_url=server.base_url) as client:
        server.move_codebase("v2025_2")
        client.companies(SEED)
        server.move_codebase("v2025_3")
        with pytest.raises(ApiError, match="HTTP 404"):
            client.companies(SEED)
    assert len(server.companyinfo_calls) == 1


def test_an_unknown_company_gets_a_clear_discovery_error(server: ConnectWiseSandbox, data: Dataset) -> None:
    with pytest.raises(ApiError, match=r"codebase of company 'nobody'.*check CW_SITE and CW_COMPANY_ID"):
        read(server, data, base_url=None, site=server.root_url, company_id="nobody")


def test_a_discovered_codebase_that_moves_is_followed_without_blaming_the_settings(
    server: ConnectWiseSandbox, data: Dataset
) -> None:
    boxes = Sandboxes(dataset=data, connectwise=server, encharge=None)  # type: ignore[arg-type]
    with cw_client(boxes, base_url=None, site=server.root_url) as client:
        client.companies(SEED)
        server.move_codebase("v2025_2")
        assert len(client.companies(SEED)) > 0
    [note] = client.notes
    assert "companyinfo now names v2025_2/" in note and "CW_BASE_URL" not in note
    assert len(server.companyinfo_calls) == 2  # discovered, then rediscovered once
