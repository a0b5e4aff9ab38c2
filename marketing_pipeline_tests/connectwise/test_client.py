"""The ConnectWise client against the ConnectWise sandbox, over real HTTP."""

from __future__ import annotations

import pytest

from marketing_pipeline.connectwise import conditions as cond
from marketing_pipeline.errors import ApiAuthError, ApiError
from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
from marketing_pipeline.sandbox.dataset import generate
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.sandbox.server import Fault
from marketing_pipeline.store.seed import FIRST_SYNC
from marketing_pipeline.sync.audience import company_frame, contact_frame
from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.records import Company
from marketing_pipeline_tests.support.clients import cw_client

SEED = FilterConfig.model_validate(FIRST_SYNC["filter_config"])


def company_ids(data) -> list[int]:  # type: ignore[no-untyped-def]
    return company_frame([Company.model_validate(c) for c in data.companies], SEED)["company_id"].tolist()


def audience(client) -> list[int]:  # type: ignore[no-untyped-def]
    companies = company_frame(client.companies(SEED), SEED)
    contacts = client.contacts(SEED, companies["company_id"].tolist())
    return contact_frame(contacts, companies, SEED)["contact_id"].tolist()


def test_the_seed_filter_yields_the_86_in_one_request_per_type(sandboxes: Sandboxes) -> None:
    with cw_client(sandboxes) as client:
        ids = audience(client)
        assert ids == sorted(sandboxes.dataset.manifest.passing_contact_ids)
        assert len(ids) == 86
        # one company type; three contact types, one query each (childConditions documents one comparison);
        # and after each read, one query for what changed while it ran (nothing here)
        assert dict(client.transport.stats.counts) == {"GET /company/companies": 2, "GET /company/contacts": 4}
        assert client.notes == [] and client.changed_during_read == {"companies": 0, "contacts": 0}


def test_requests_carry_auth_client_id_and_server_side_filters(sandboxes: Sandboxes) -> None:
    with cw_client(sandboxes) as client:
        audience(client)
    reads = [t for t in sandboxes.connectwise.targets if "lastUpdated" not in t]
    rechecks = [t for t in sandboxes.connectwise.targets if "lastUpdated" in t]
    companies, *contacts = reads
    assert "conditions=status%2Fid+in+%281%2C19%29+and+deletedFlag%3Dfalse" in companies
    assert "orderBy=id+asc" in companies and "page=1&" in companies
    assert len(rechecks) == 2 and all("lastUpdated+%3E%3D+%5B" in t and "orderBy=id+asc" in t for t in rechecks)
    assert "childConditions=types%2Fid%3D48&" in companies
    assert "pageSize=1000" in companies and "fields=" in companies and "deletedFlag" in companies
    assert sorted(t.split("childConditions=")[1].split("&")[0] for t in contacts) == [
        "types%2Fid%3D1",
        "types%2Fid%3D2",
        "types%2Fid%3D21",
    ]
    for target in contacts:
        assert "inactiveFlag%3Dfalse" in target and "company%2Fid+in+%28" in target
        assert "+or+" not in target.lower()  # only documented forms: no `(a or b)` in childConditions


def test_paging_follows_every_page(sandboxes: Sandboxes) -> None:
    data = sandboxes.dataset
    with cw_client(sandboxes, page_size=10) as client:
        ids = audience(client)
        stats = dict(client.transport.stats.counts)
    assert len(ids) == 86
    at = {c["id"] for c in data.companies if c["id"] in set(company_ids(data))}
    per_type = [
        sum(
            1
            for c in data.contacts
            if not c["inactiveFlag"]
            and (c["company"] or {}).get("id") in at
            and t in {x["id"] for x in c["types"] or []}
        )
        for t in SEED.contact_types
    ]
    # Paged by key: a query whose last page is exactly full asks once more (no Link says it was the last);
    # then one query for what changed during the read.
    assert stats["GET /company/contacts"] == sum(n // 10 + 1 for n in per_type) + 1
    assert all("page=1&" in t for t in sandboxes.connectwise.targets)  # never a page number past 1


@pytest.mark.parametrize("mode", ["ignore", "reject"])
def test_a_server_that_ignores_or_refuses_child_conditions_cannot_change_the_audience(mode: str) -> None:
    data = generate()
    with ConnectWiseSandbox(data.companies, data.contacts, child_conditions=mode) as server:
        boxes = Sandboxes(dataset=data, connectwise=server, encharge=None)  # type: ignore[arg-type]
        with cw_client(boxes) as client:
            assert audience(client) == sorted(data.manifest.passing_contact_ids)


def test_long_company_lists_are_split_to_keep_urls_short() -> None:
    data = generate(2000)
    with ConnectWiseSandbox(data.companies, data.contacts) as server:
        boxes = Sandboxes(dataset=data, connectwise=server, encharge=None)  # type: ignore[arg-type]
        with cw_client(boxes, max_url_length=600) as client:
            ids = audience(client)
            contact_requests = client.transport.stats.counts["GET /company/contacts"]
        assert ids == sorted(data.manifest.passing_contact_ids)
        assert contact_requests > 1
        assert max(len(server.root_url) + len(t) for t in server.targets) <= 600


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_errors_are_retried(sandboxes: Sandboxes, status: int) -> None:
    sandboxes.connectwise.faults.inject(Fault(status=status, retry_after="0"), status)
    with cw_client(sandboxes) as client:
        assert len(audience(client)) == 86
        assert client.transport.stats.retries == 2


def test_connection_resets_are_retried(sandboxes: Sandboxes) -> None:
    sandboxes.connectwise.faults.inject(Fault(kind="reset"))
    with cw_client(sandboxes) as client:
        assert len(audience(client)) == 86


def test_other_client_errors_are_not_retried(sandboxes: Sandboxes) -> None:
    sandboxes.connectwise.faults.inject(Fault(status=409, body={"code": "Conflict", "message": "busy"}))
    with cw_client(sandboxes) as client, pytest.raises(ApiError, match=r"HTTP 409 on /company/companies: busy"):
        client.companies(SEED)
    assert sandboxes.connectwise.request_count() == 1


def test_persistent_errors_give_up_with_a_clear_message(sandboxes: Sandboxes) -> None:
    sandboxes.connectwise.faults.inject(*[503] * 10)
    with cw_client(sandboxes) as client, pytest.raises(ApiError, match=r"HTTP 503 .*after 4 attempts"):
        client.companies(SEED)


def test_bad_credentials_name_the_settings_and_never_the_keys(sandboxes: Sandboxes) -> None:
    with cw_client(sandboxes, private_key="wrong-private-key-123") as client, pytest.raises(ApiAuthError) as caught:
        client.companies(SEED)
    message = str(caught.value)
    assert "check CW_COMPANY_ID, CW_PUBLIC_KEY and CW_PRIVATE_KEY" in message
    assert "wrong-private-key-123" not in message and "sandbox-public" not in message
    assert sandboxes.connectwise.request_count() == 1  # a 401 is not retried


def test_a_wrong_client_id_is_refused(sandboxes: Sandboxes) -> None:
    with cw_client(sandboxes, client_id="not-the-client") as client, pytest.raises(ApiAuthError):
        client.companies(SEED)


def test_a_404_that_companyinfo_cannot_explain_points_at_cw_base_url(sandboxes: Sandboxes) -> None:
    sandboxes.connectwise.faults.inject(Fault(status=404, body={"code": "NotFound", "message": "gone"}))
    with cw_client(sandboxes) as client, pytest.raises(ApiError, match="check CW_BASE_URL"):
        client.companies(SEED)
    assert [asked for asked, _ in sandboxes.connectwise.companyinfo_calls] == ["sandbox"]  # rediscovered once


@pytest.mark.parametrize(
    "fault, message",
    [
        (Fault(kind="non_json"), "returned a body that is not JSON"),
        (Fault(status=200, body={"items": []}), "returned dict where a JSON array was expected"),
        (Fault(status=200, body=[{"name": "no id"}]), "malformed company \\(id None\\): id: Field required"),
        (Fault(status=200, body=[{"id": "abc"}]), "malformed company \\(id 'abc'\\)"),
    ],
)
def test_malformed_responses_give_a_clear_error(sandboxes: Sandboxes, fault: Fault, message: str) -> None:
    sandboxes.connectwise.faults.inject(fault)
    with cw_client(sandboxes) as client, pytest.raises(ApiError, match=message):
        client.companies(SEED)


def test_count_endpoint(sandboxes: Sandboxes) -> None:
    with cw_client(sandboxes) as client:
        total = client.count("company/contacts", {"conditions": "inactiveFlag=false"})
    assert total == sum(1 for c in sandboxes.dataset.contacts if not c["inactiveFlag"])


def test_condition_values_are_typed_and_quoted() -> None:
    assert cond.in_list("status/id", [19, 1, 1]) == "status/id in (1,19)"
    assert cond.equals("name", 'Fred "The" \\ Co') == 'name="Fred \\"The\\" \\\\ Co"'
    assert cond.equals("inactiveFlag", False) == "inactiveFlag=false"
    with pytest.raises(ValueError):
        cond.field_name("id) or (1=1")
    with pytest.raises(TypeError):
        cond.literal(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        cond.in_list("id", [])


def test_filter_config_only_accepts_integers() -> None:
    with pytest.raises(ValueError):
        FilterConfig.model_validate({**FIRST_SYNC["filter_config"], "companyTypes": ["48) or (1=1"]})


def test_a_contact_moving_between_chunks_of_companies_mid_read_is_still_read() -> None:
    """Companies split over several queries (a short URL): a contact moves from a company whose query has
    not run yet to one whose query has, so neither query has it; the read of what changed does."""
    data = generate(300)
    with ConnectWiseSandbox(data.companies, data.contacts) as server:
        boxes = Sandboxes(dataset=data, connectwise=server, encharge=None)  # type: ignore[arg-type]
        qualifying = company_ids(data)
        passing = set(data.manifest.passing_contact_ids) - set(data.manifest.skipped)
        # Read by the type-1 query alone, at a company of a late chunk; moved to the first company.
        late = next(
            c
            for c in sorted(data.contacts, key=lambda c: -c["id"])
            if c["id"] in passing and c["company"]["id"] >= qualifying[12] and {t["id"] for t in c["types"]} == {1}
        )
        server.set_modes({"move_while_paging": [[late["id"], qualifying[0]]], "change_after": 1})
        with cw_client(boxes, max_url_length=340, max_concurrency=1) as client:
            companies = company_frame(client.companies(SEED), SEED)
            contacts = contact_frame(client.contacts(SEED, companies["company_id"].tolist()), companies, SEED)
            assert client.transport.stats.counts["GET /company/contacts"] > 4  # several chunks per type
            assert client.changed_during_read == {"companies": 0, "contacts": 1}
        assert late["id"] in set(contacts["contact_id"])
        assert sorted(contacts["contact_id"]) == sorted(data.manifest.passing_contact_ids)


def test_the_read_never_asks_for_forward_only_paging_so_either_server_is_read_alike(sandboxes: Sandboxes) -> None:
    expected = sorted(sandboxes.dataset.manifest.passing_contact_ids)
    for supported in (True, False):
        sandboxes.connectwise.set_modes({"forward_only": supported})
        with cw_client(sandboxes, page_size=10) as client:
            assert audience(client) == expected
            assert "pagination-type" not in {k.lower() for k in client.transport.session.headers}


def test_a_server_that_ignores_order_by_fails_the_read_rather_than_skip(sandboxes: Sandboxes) -> None:
    backwards = sorted(sandboxes.dataset.companies, key=lambda c: -c["id"])[:5]
    sandboxes.connectwise.faults.inject(Fault(status=200, body=backwards), path="company/companies")
    with cw_client(sandboxes) as client, pytest.raises(ApiError, match="did not answer in id order"):
        client.companies(SEED)
