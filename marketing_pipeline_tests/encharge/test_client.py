"""The Encharge client against the Encharge sandbox, over real HTTP."""

from __future__ import annotations

import itertools
from urllib.parse import parse_qsl, urlsplit

import pytest

from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.errors import ApiAuthError, ApiError, UntrustworthyReadError
from marketing_pipeline.runs.encharge_read import read_everyone
from marketing_pipeline.sandbox import encharge_api
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.sandbox.server import Fault
from marketing_pipeline.sync.listing_quality import assess
from marketing_pipeline_tests.support.clients import FAST_RETRY

TAG = "managed-client-newsletter"


def people(n: int, tags: list[str] | None = None) -> list[dict]:
    return [
        {
            "id": f"id-{i:05d}",
            "email": f"person{i}@example.com",
            "firstName": f"P{i}",
            "tags": tags or [],
            "createdAt": f"2026-01-15T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
        }
        for i in range(n)
    ]


def client_for(server: EnchargeSandbox, **overrides: object) -> EnchargeClient:
    kwargs: dict = {"base_url": server.base_url, "api_key": server.token, "retry": FAST_RETRY}
    kwargs.update(overrides)
    return EnchargeClient(**kwargs)


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 250, 400])
def test_reads_everyone_past_the_100_limit(count: int) -> None:
    with EnchargeSandbox(people(count)) as server, client_for(server, read_concurrency=3) as client:
        everyone = client.all_people()
        assert [p["id"] for p in everyone] == [f"id-{i:05d}" for i in range(count)]
        pages_needed = count // 100 + 1  # the last page must be short (or empty) to show it is the last
        assert server.request_count("GET", "/people/all") == pages_needed
        assert server.request_count("GET", "/accounts/info") == 2  # peopleCount before and after
        listed = [dict(parse_qsl(urlsplit(t).query)) for t in server.targets if "/people/all" in t]
        assert all((q["sort"], q["order"], q["ignoreAnonymous"]) == ("createdAt", "asc", "true") for q in listed)


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


def test_tagging_an_unknown_person_fails_alone_and_untagging_one_is_gone_not_removed(sandboxes: Sandboxes) -> None:
    with client_for(sandboxes.encharge) as client:
        added = client.add_tag(TAG, {1: {"email": "ghost@example.com"}})
        assert added.succeeded == [] and "HTTP 404" in added.failed[0][1] and "Person not found" in added.failed[0][1]
        removed = client.remove_tag(TAG, {1: {"email": "ghost@example.com"}})
        # Encharge's own "person not found": nobody to untag, which is not a removal of ours nor an error.
        assert removed.succeeded == [] and removed.failed == [] and "Person not found" in removed.gone[0][1]


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_an_html_404_on_a_tag_call_is_that_persons_error_not_a_confirmation(sandboxes: Sandboxes, method: str) -> None:
    person = next(iter(sandboxes.encharge.people.values()))
    sandboxes.encharge.modes.tags_html_404 = [method]  # a gateway, or a retired route, answers instead
    with client_for(sandboxes.encharge) as client:
        call = client.add_tag if method == "POST" else client.remove_tag
        outcome = call(TAG, {1: {"id": person["id"], "email": person["email"]}})
    assert outcome.succeeded == [] and outcome.gone == []
    assert "HTTP 404" in outcome.failed[0][1] and "no JSON error naming one" in outcome.failed[0][1]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_failure_no_retry_fixes_stops_the_phase_and_keeps_what_was_done(
    sandboxes: Sandboxes, concurrency: int
) -> None:
    people = [p for p in sandboxes.encharge.people.values() if TAG in p["tags"]][:12]
    sandboxes.encharge.modes.fail_write_calls = [["DELETE /tags", 5, 401]]  # the key rotated at the fifth removal
    heard: list[int] = []
    with client_for(sandboxes.encharge) as client:
        client.write_concurrency = concurrency
        outcome = client.remove_tag(TAG, {i: {"id": p["id"]} for i, p in enumerate(people)}, heard.append)
    assert isinstance(outcome.error, ApiAuthError) and "401" in (outcome.stopped or "")
    removed = [p for p in people if TAG not in sandboxes.encharge.people[p["id"]]["tags"]]
    # What Encharge confirmed is in the outcome, and was heard batch by batch; nothing was sent after the error
    # was known but what was already in flight (how many that is depends on how the threads were scheduled).
    assert sorted(key for key, _ in outcome.succeeded) == sorted(people.index(p) for p in removed)
    assert len(removed) + len(outcome.not_sent) == 12 and len(heard) == 12  # the failed call: not sent
    if concurrency == 1:
        assert len(removed) == 4 and len(outcome.not_sent) == 8
    else:
        assert len(removed) >= 4 and outcome.not_sent


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
        assert [u["email"] for u in client.lookup([email.upper(), "ghost@example.com"]).found] == [email]
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


# --- reads of an account that changes, or goes wrong -----------------------------------------------------


def test_a_short_page_in_the_middle_is_read_on_from_where_it_stopped() -> None:
    with EnchargeSandbox(people(250)) as server, client_for(server) as client:
        server.modes.short_pages.append(100)
        quality = assess(client.read_listing())
        assert quality.people_read == 250 and quality.short_pages == 1 and quality.not_covered == 0
        # The three pages and the rest of the short one; and one look past the end when that rest (a full
        # page) comes back before the last page does, which is timing (5 of 80 reads here).
        assert server.request_count("GET", "/people/all") in (4, 5)


def test_an_empty_first_page_is_asked_for_again() -> None:
    with EnchargeSandbox(people(150)) as server, client_for(server) as client:
        server.modes.empty_pages.append(0)
        quality = assess(client.read_listing())
        assert quality.people_read == 150 and quality.not_covered == 0


def test_a_server_that_caps_limit_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(encharge_api, "MAX_LIMIT", 40)
    with EnchargeSandbox(people(250)) as server, client_for(server) as client:
        quality = assess(client.read_listing())
        assert quality.people_read == 250
        assert server.request_count("GET", "/people/all") <= 3 * (250 // 100 + 1) + 2


def test_archived_people_counted_but_not_listed_are_what_the_read_may_have_missed() -> None:
    with EnchargeSandbox(people(250)) as server, client_for(server) as client:
        for i in range(0, 250, 50):
            server.archive(f"person{i}@example.com")
        quality = read_everyone(client).quality
        assert (quality.people_read, quality.count_before, quality.unlisted) == (245, 250, 5)
        assert "up to 5 people may not have been seen" in (quality.note() or "")
        assert server.request_count("GET", "/people/all") == 4  # one read past the short last page
        server.modes.count_archived = False
        assert read_everyone(client).quality.note() is None


def test_a_deletion_while_paging_costs_only_the_person_who_slipped_by() -> None:
    with EnchargeSandbox(people(250)) as server, client_for(server, read_concurrency=1) as client:
        server.modes.delete_after_page = [0, "person5@example.com"]
        quality = assess(client.read_listing())
        read = {p["id"] for p in quality.people}
        assert "id-00100" not in read and len(read) == 249  # person100 moved up onto the page already read
        assert (quality.count_before, quality.count_after, quality.moved) == (250, 249, 0)


def test_sign_ups_while_reading_never_stop_the_read() -> None:
    with EnchargeSandbox(people(330)) as server, client_for(server) as client:
        server.modes.configure({"signups_per_page": 3})  # every fourth an anonymous visitor
        quality = read_everyone(client).quality
        assert {f"id-{i:05d}" for i in range(330)} <= {p["id"] for p in quality.people}  # everyone there before
        assert quality.count_after > quality.count_before and quality.anonymous == 0  # ignoreAnonymous honoured


def test_sign_ups_ignoring_ignore_anonymous_are_listed_and_counted() -> None:
    with EnchargeSandbox(people(150)) as server, client_for(server) as client:
        server.modes.configure({"signups_per_page": 4, "ignore_anonymous": "ignore"})
        client.read_listing()  # a first read: anonymous visitors signed up during it
        quality = read_everyone(client).quality
        assert quality.anonymous > 0 and quality.people_read >= 150


@pytest.mark.parametrize("sort", ["ignore", "refuse"])
def test_an_order_by_activity_that_ignores_or_refuses_sort_is_read_and_said(sort: str) -> None:
    with EnchargeSandbox(people(330)) as server, client_for(server, read_concurrency=1) as client:
        server.modes.configure({"listing_order": "activity", "activity_per_page": 1, "sort": sort})
        quality = read_everyone(client).quality
        assert 320 <= quality.people_read <= 330  # a few who acted during the read may have been missed
        if sort == "refuse":
            assert quality.dropped == ["Encharge refused sort=createdAt, order=asc (HTTP 400); read without it"]
            assert "sort" not in server.targets[-2]  # the read again, without it
        else:
            assert quality.order_as_asked is False and "not list them in the order asked for" in (quality.note() or "")


def test_the_same_page_over_and_over_fails_the_read() -> None:
    with EnchargeSandbox(people(500)) as server, client_for(server) as client:
        page = {"people": [server.render(p, read=True) for p in list(server.people.values())[:100]]}
        server.faults.inject(*[Fault(status=200, body=page)] * 20, path="/people/all")
        with pytest.raises(UntrustworthyReadError) as caught:
            read_everyone(client)
        message = str(caught.value)
        assert message.startswith("Encharge's list of people is broken, so nothing was written: full pages at")
        assert "the same people over and over" in message and "\n" not in message
        assert server.request_count("GET", "/people/all") <= 6


def test_nobody_listed_where_people_are_counted_fails_after_a_plain_read() -> None:
    with EnchargeSandbox(people(250)) as server, client_for(server) as client:
        server.faults.inject(*[Fault(status=200, body={"people": []})] * 10, path="/people/all")
        with pytest.raises(UntrustworthyReadError) as caught:
            read_everyone(client)
        assert "Encharge listed nobody (GET /people/all, with and without sort and ignoreAnonymous)" in str(
            caught.value
        )
        assert "peopleCount is 250, so nothing was written" in str(caught.value)
        plain = [t for t in server.targets if "/people/all" in t][-1]
        assert "sort" not in plain and "ignoreAnonymous" not in plain


def test_an_account_of_anonymous_visitors_reads_as_them_not_as_broken() -> None:
    with EnchargeSandbox([{"id": f"v{i}", "tags": []} for i in range(3)]) as server, client_for(server) as client:
        quality = read_everyone(client).quality  # ignoreAnonymous leaves nobody: read again without it
        assert (quality.people_read, quality.anonymous) == (3, 3)
        assert "read again without them" in (quality.note() or "")


def lookup_params(server: EnchargeSandbox) -> list[dict[str, str]]:
    return [dict(parse_qsl(urlsplit(t).query)) for t in server.targets if urlsplit(t).path == "/v1/people"]


def test_lookups_are_batched_include_archived_and_keep_the_url_short() -> None:
    with EnchargeSandbox(people(60)) as server, client_for(server, lookup_batch_size=20) as client:
        server.archive("person7@example.com")
        asked = [f"PERSON{i}@example.com" for i in range(50)] + [f"ghost{i}@example.com" for i in range(5)]
        found = client.lookup(asked).found
        assert sorted(p["email"] for p in found) == sorted(f"person{i}@example.com" for i in range(50))
        params = lookup_params(server)
        assert len(params) == 3 and all(p["includeArchived"] == "true" for p in params)
        assert max(len(t) for t in server.targets) < 2000
    long_addresses = [f"{'x' * 200}{i}@example.com" for i in range(20)]
    with EnchargeSandbox([]) as server, client_for(server) as client:
        assert client.lookup(long_addresses).found == []
        assert max(len(t) for t in server.targets) <= 2000 - len("http://127.0.0.1:65535")
        assert server.request_count("GET", "/v1/people") > 1


def test_a_404_lookup_is_split_until_it_is_about_one_address() -> None:
    with EnchargeSandbox(people(4)) as server, client_for(server, lookup_batch_size=8) as client:
        server.modes.lookup_404 = True
        found = client.lookup(["person0@example.com", "ghost@example.com", "person3@example.com"])
        assert sorted(p["email"] for p in found.found) == ["person0@example.com", "person3@example.com"]
        assert found.refused == {}
        assert client.lookup(["ghost@example.com"]).found == []


def test_a_lookup_refused_for_one_address_is_split_until_that_address_is_alone() -> None:
    with EnchargeSandbox(people(8)) as server, client_for(server, lookup_batch_size=8) as client:
        server.modes.lookup_400 = ["person5@example.com"]
        lookup = client.lookup([f"person{i}@example.com" for i in range(8)])
        assert sorted(p["email"] for p in lookup.found) == [f"person{i}@example.com" for i in range(8) if i != 5]
        assert list(lookup.refused) == ["person5@example.com"]
        assert (
            "HTTP 400" in lookup.refused["person5@example.com"]
            and "Invalid email" in lookup.refused["person5@example.com"]
        )
        assert server.request_count("GET", "/v1/people") == 7  # 8, then 4+4, then 2+2 of the odd half, then 1+1


def test_a_lookup_route_that_is_not_there_is_an_error_not_nobody(sandboxes: Sandboxes) -> None:
    # Express's HTML 404 ("Cannot GET") means a wrong base URL, not "nobody has these addresses".
    wrong = client_for(sandboxes.encharge, base_url=sandboxes.encharge.root_url + "/v2/")
    with wrong, pytest.raises(ApiError, match="GET /people is not there"):
        wrong.lookup(["a@example.com"])
    sandboxes.encharge.faults.inject(Fault(status=404), path="/v1/people$")  # a JSON envelope: nobody found
    with client_for(sandboxes.encharge) as client:
        assert client.lookup([sandboxes.dataset.people[0]["email"]]).found == []


def test_tags_are_never_sent_in_an_upsert(sandboxes: Sandboxes) -> None:
    with client_for(sandboxes.encharge) as client, pytest.raises(ValueError, match="never sent in POST /people"):
        client.upsert_people({1: {"email": "a@example.com", "tags": TAG}})
    assert sandboxes.encharge.request_count("POST") == 0


def test_tags_go_by_id_so_each_case_variant_duplicate_is_reached() -> None:
    with EnchargeSandbox([]) as server, client_for(server) as client:
        server.modes.case_sensitive_emails = True
        one = server.add_person({"email": "ann@example.com", "tags": [TAG, "vip"]})
        two = server.add_person({"email": "ANN@example.com", "tags": [TAG]})
        removed = client.remove_tag(TAG, {"a": {"id": one["id"], "email": "ann@example.com"}, "b": {"id": two["id"]}})
        assert sorted(k for k, _ in removed.succeeded) == ["a", "b"]
        assert server.people[one["id"]]["tags"] == ["vip"] and server.people[two["id"]]["tags"] == []


# --- one odd person never stops the others -----------------------------------------------------------------


@pytest.mark.parametrize("status", [409, 422, 400, 413])
def test_an_unexpected_4xx_on_one_write_fails_that_person_alone(status: int) -> None:
    with EnchargeSandbox(people(6)) as server, client_for(server, batch_size=100) as client:
        server.modes.refuse_writes = {"person2@example.com": status}
        updated = client.upsert_people(
            {i: {"id": f"id-{i:05d}", "email": f"person{i}@example.com", "lastName": "X"} for i in range(6)}
        )
        assert sorted(k for k, _ in updated.succeeded) == [0, 1, 3, 4, 5]
        [(key, reason)] = updated.failed
        assert key == 2 and f"HTTP {status}" in reason and "cannot be changed" in reason
        tagged = client.add_tag(TAG, {i: {"id": f"id-{i:05d}"} for i in range(6)})
        assert [k for k, _ in tagged.failed] == [2] and len(tagged.succeeded) == 5
        removed = client.remove_tag(TAG, {i: {"id": f"id-{i:05d}"} for i in range(6)})
        assert [k for k, _ in removed.failed] == [2] and len(removed.succeeded) == 5


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_stops_the_writes_for_everyone(status: int) -> None:
    with EnchargeSandbox(people(3)) as server, client_for(server) as client:
        server.modes.refuse_writes = {"person1@example.com": status}
        outcome = client.add_tag(TAG, {i: {"id": f"id-{i:05d}"} for i in range(3)})
        # Not one person's failure: the writes stop, and the error is kept for the caller to raise.
        assert isinstance(outcome.error, ApiAuthError) and outcome.failed == [] and 1 in outcome.not_sent


def test_a_person_deleted_since_the_read_is_gone_not_failed() -> None:
    with EnchargeSandbox(people(3)) as server, client_for(server) as client:
        server.delete("person1@example.com")
        updated = client.upsert_people({i: {"id": f"id-{i:05d}", "email": f"person{i}@example.com"} for i in range(3)})
        assert sorted(k for k, _ in updated.succeeded) == [0, 2] and updated.failed == []
        assert [k for k, _ in updated.gone] == [1] and "HTTP 404" in updated.gone[0][1]
        tagged = client.add_tag(TAG, {i: {"id": f"id-{i:05d}"} for i in range(3)})
        assert [k for k, _ in tagged.gone] == [1] and tagged.failed == []
        assert server.find(email="person1@example.com") is None  # and nobody was created in their place


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_stop_before_a_write_batch_sends_nothing_more_and_says_what_was_not_sent(
    sandboxes: Sandboxes, concurrency: int
) -> None:
    """`before_write` is asked before each batch (each upsert request, each tag call); once it gives a
    reason, no batch starts, and every key not sent comes back as `not_sent` with that reason."""
    asked = itertools.count(1)

    def stop_after_three() -> str | None:
        return "paused" if next(asked) > 3 else None

    records = {i: {"email": f"new{i}@example.com"} for i in range(10)}
    with client_for(sandboxes.encharge, batch_size=2, write_concurrency=concurrency) as client:
        client.before_write = stop_after_three
        upserted = client.upsert_people(records)
        tagged = client.add_tag(TAG, {i: {"email": f"new{i}@example.com"} for i in range(10)})
    assert sandboxes.encharge.request_count("POST", "/v1/people") == 3
    assert len(upserted.succeeded) == 6 and upserted.failed == [] and upserted.stopped == "paused"
    assert sorted(upserted.not_sent + [key for key, _ in upserted.succeeded]) == list(range(10))
    assert sandboxes.encharge.request_count("POST", "/v1/tags") == 0
    assert sorted(tagged.not_sent) == list(range(10)) and tagged.stopped == "paused"
    for i in range(6, 10):
        assert not sandboxes.encharge.find(email=f"new{i}@example.com")
