"""The Encharge client against the Encharge sandbox, over real HTTP."""

from __future__ import annotations

import pytest

from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.errors import ApiAuthError, ApiError
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.sandbox.server import Fault
from marketing_pipeline_tests.support.clients import FAST_RETRY

TAG = "managed-client-newsletter"


def people(n: int, tags: list[str] | None = None) -> list[dict]:
    return [
        {"id": f"id-{i:05d}", "email": f"person{i}@example.com", "firstName": f"P{i}", "tags": tags or []}
        for i in range(n)
    ]


def client_for(server: EnchargeSandbox, **overrides: object) -> EnchargeClient:
    kwargs: dict = {"base_url": server.base_url, "api_key": server.token, "retry": FAST_RETRY, "requests_per_second": 0}
    kwargs.update(overrides)
    return EnchargeClient(**kwargs)


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 250, 400])
def test_reads_everyone_past_the_100_limit(count: int) -> None:
    with EnchargeSandbox(people(count)) as server, client_for(server, read_concurrency=3) as client:
        everyone = client.all_people()
        assert [p["id"] for p in everyone] == [f"id-{i:05d}" for i in range(count)]
        pages_needed = count // 100 + 1  # the last page must be short (or empty) to show it is the last
        assert server.request_count("GET", "/people/all") == pages_needed
        assert server.request_count("GET", "/accounts/info") == 1


@pytest.mark.parametrize(
    "estimate",
    [
        Fault(status=200, body={"peopleCount": 5}),
        Fault(status=200, body={"peopleCount": 900}),
        Fault(status=403),
        Fault(status=200, body={"status": "active"}),
    ],
)
def test_a_wrong_or_missing_people_count_costs_requests_never_people(estimate: Fault) -> None:
    with EnchargeSandbox(people(250)) as server, client_for(server) as client:
        server.faults.inject(estimate, path="/accounts/info")
        assert len(client.all_people()) == 250
        assert server.request_count("GET", "/people/all") <= 10


def test_upserts_go_in_batches(sandboxes: Sandboxes) -> None:
    records = {i: {"email": f"new{i}@example.com", "firstName": f"N{i}"} for i in range(250)}
    with client_for(sandboxes.encharge, batch_size=100) as client:
        outcome = client.upsert_people(records)
    assert sorted(key for key, _ in outcome.succeeded) == list(range(250)) and outcome.failed == []
    assert sandboxes.encharge.request_count("POST", "/v1/people") == 3
    assert all(user and user["id"] for _, user in outcome.succeeded)


def test_a_bad_record_is_isolated_and_its_neighbours_written(sandboxes: Sandboxes) -> None:
    emails = [f"ok{i}@example.com" for i in range(7)]
    emails.insert(5, "not-an-email@")
    records = {f"row-{i}": {"email": email} for i, email in enumerate(emails)}
    with client_for(sandboxes.encharge, batch_size=100) as client:
        outcome = client.upsert_people(records)
    assert [key for key, _ in outcome.failed] == ["row-5"]
    assert "Invalid email" in outcome.failed[0][1]
    assert len(outcome.succeeded) == 7
    assert all(sandboxes.encharge.find(email=f"ok{i}@example.com") for i in range(7))
    # 1 refused batch of 8, then halves 4+4, then 2+2 of the bad half, then 1+1: log2 extra requests
    assert sandboxes.encharge.request_count("POST", "/v1/people") == 7


def test_tags_are_added_and_removed_and_other_tags_survive(sandboxes: Sandboxes) -> None:
    with EnchargeSandbox(people(2, tags=["vip", "webinar"])) as server, client_for(server) as client:
        added = client.add_tag(TAG, {"a": {"email": "person0@example.com"}, "b": {"id": "id-00001"}})
        assert sorted(key for key, _ in added.succeeded) == ["a", "b"]
        assert server.tags_of("person0@example.com") == {"vip", "webinar", TAG}
        removed = client.remove_tag(TAG, {"a": {"email": "PERSON0@example.com"}})
        assert removed.succeeded == [("a", None)]
        assert server.tags_of("person0@example.com") == {"vip", "webinar"}
        assert server.tags_of("person1@example.com") == {"vip", "webinar", TAG}


def test_tagging_an_unknown_person_fails_alone_and_untagging_one_is_fine(sandboxes: Sandboxes) -> None:
    with client_for(sandboxes.encharge) as client:
        added = client.add_tag(TAG, {1: {"email": "ghost@example.com"}})
        assert added.succeeded == [] and "HTTP 404" in added.failed[0][1] and "Person not found" in added.failed[0][1]
        removed = client.remove_tag(TAG, {1: {"email": "ghost@example.com"}})
        assert len(removed.succeeded) == 1 and removed.failed == []


def test_tags_must_be_single_tags(sandboxes: Sandboxes) -> None:
    with client_for(sandboxes.encharge) as client, pytest.raises(ValueError, match="not a single Encharge tag"):
        client.add_tag("a,b", {1: {"email": "x@example.com"}})


@pytest.mark.parametrize(
    "fault",
    [Fault(status=429, retry_after="0"), Fault(status=429), Fault(status=500), Fault(status=503), Fault(kind="reset")],
)
def test_transient_errors_are_retried(sandboxes: Sandboxes, fault: Fault) -> None:
    sandboxes.encharge.faults.inject(fault, fault)
    with client_for(sandboxes.encharge) as client:
        assert len(client.all_people()) == len(sandboxes.dataset.people)
        assert client.transport.stats.retries == 2


def test_retry_after_beyond_the_limit_gives_up_at_once(sandboxes: Sandboxes) -> None:
    sandboxes.encharge.faults.inject(Fault(status=429, retry_after="3600"), path="/people/all")
    with client_for(sandboxes.encharge) as client, pytest.raises(ApiError, match="HTTP 429"):
        client.all_people()


def test_bad_key_names_the_setting_and_never_the_key(sandboxes: Sandboxes) -> None:
    secret = "eyJhbGciOiJIUzI1NiJ9.eyJ3cm9uZyI6dHJ1ZX0.wrong-signature-value"
    with client_for(sandboxes.encharge, api_key=secret) as client, pytest.raises(ApiAuthError) as caught:
        client.all_people()
    assert "check ENCHARGE_REST_API_KEY" in str(caught.value)
    assert secret not in str(caught.value)
    with client_for(sandboxes.encharge, api_key="not-a-jwt") as client, pytest.raises(ApiAuthError) as caught:
        client.account_info()
    assert "Token without payload" in str(caught.value) and "not-a-jwt" not in str(caught.value)


def test_a_missing_key_is_a_clear_error(sandboxes: Sandboxes) -> None:
    with pytest.raises(ApiAuthError, match="set ENCHARGE_REST_API_KEY"):
        client_for(sandboxes.encharge, api_key="")


@pytest.mark.parametrize(
    "fault, message",
    [
        (Fault(kind="non_json"), "not JSON"),
        (Fault(status=200, body={"users": []}), r'did not return \{"people": \[...\]\}'),
        (Fault(kind="truncated"), "failed after 4 attempts|not JSON"),
    ],
)
def test_malformed_responses_give_a_clear_error(sandboxes: Sandboxes, fault: Fault, message: str) -> None:
    sandboxes.encharge.faults.inject(*[fault] * 5, path="/people/all")
    with client_for(sandboxes.encharge) as client, pytest.raises(ApiError, match=message):
        client.all_people()


def test_lookup_and_account_info(sandboxes: Sandboxes) -> None:
    email = sandboxes.dataset.people[0]["email"]
    with client_for(sandboxes.encharge) as client:
        assert [u["email"] for u in client.lookup([email.upper(), "ghost@example.com"])] == [email]
        assert client.account_info()["peopleCount"] == len(sandboxes.dataset.people)


def test_page_size_cannot_exceed_the_server_cap(sandboxes: Sandboxes) -> None:
    with pytest.raises(ValueError, match="page_size"):
        client_for(sandboxes.encharge, page_size=500)


def test_a_single_user_response_is_understood(sandboxes: Sandboxes) -> None:
    user = {"id": "u-1", "email": "solo@example.com", "tags": TAG}
    sandboxes.encharge.faults.inject(Fault(status=200, body={"user": user}), path="/v1/people$")
    with client_for(sandboxes.encharge) as client:
        outcome = client.upsert_people({"solo": {"email": "SOLO@example.com"}})
    assert outcome.succeeded == [("solo", user)]
