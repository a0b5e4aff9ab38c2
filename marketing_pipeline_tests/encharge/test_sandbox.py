"""The Encharge sandbox's contract, over HTTP: the worst plausible behaviour where the real API is unclear."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.launch import Sandboxes


def call(boxes: Sandboxes, method: str, path: str, token: str | None = "default", **kwargs: object):  # type: ignore[no-untyped-def]
    headers = {} if token is None else {"X-Encharge-Token": boxes.encharge.token if token == "default" else token}
    return requests.request(method, boxes.encharge.base_url + path, headers=headers, timeout=10, **kwargs)


def test_auth_errors_as_documented(sandboxes: Sandboxes) -> None:
    missing = call(sandboxes, "GET", "people/all", token=None)
    assert missing.status_code == 401
    assert missing.json()["error"]["message"].startswith("User not logged in")
    bad = call(sandboxes, "GET", "people/all", token="abc")
    assert bad.json()["error"]["errorCode"] == 10082 and "traceId" in bad.json()["error"]


def test_limit_is_capped_at_100_and_tags_render_as_one_string(sandboxes: Sandboxes) -> None:
    body = call(sandboxes, "GET", "people/all", params={"limit": 500}).json()
    assert len(body["people"]) == min(100, len(sandboxes.dataset.people))
    tagged = [p for p in body["people"] if p["tags"] and "," in p["tags"]]
    assert tagged and all(isinstance(p["tags"], str) for p in tagged)


def test_tags_in_an_upsert_replace_existing_tags(sandboxes: Sandboxes) -> None:
    email = sandboxes.dataset.people[0]["email"]
    response = call(sandboxes, "POST", "people", json=[{"email": email, "tags": "only-this"}])
    assert response.json()["users"][0]["tags"] == "only-this"
    single = call(sandboxes, "POST", "people", json={"email": "solo@example.com", "firstName": "Solo"})
    assert single.json()["user"]["firstName"] == "Solo"


def test_invalid_email_and_unknown_person(sandboxes: Sandboxes) -> None:
    assert call(sandboxes, "POST", "people", json=[{"email": "bad@"}]).status_code == 400
    assert call(sandboxes, "POST", "tags", json={"tag": "t", "email": "ghost@example.com"}).status_code == 404
    assert call(sandboxes, "GET", "nowhere").text == "Cannot GET /v1/nowhere"


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "encharge.json"
    with EnchargeSandbox([], state_file=state) as server:
        requests.post(
            server.base_url + "people",
            json=[{"email": "kept@example.com"}],
            headers={"X-Encharge-Token": server.token},
            timeout=10,
        )
    assert json.loads(state.read_text())["people"][0]["email"] == "kept@example.com"
    with EnchargeSandbox([], state_file=state) as again:
        assert again.find(email="KEPT@example.com") is not None


def control(boxes: Sandboxes, body: dict | None = None):  # type: ignore[no-untyped-def]
    url = boxes.encharge.root_url + "/_sandbox/modes"
    return requests.post(url, json=body, timeout=10) if body is not None else requests.get(url, timeout=10)


def test_modes_switch_over_http(sandboxes: Sandboxes) -> None:
    first = sandboxes.dataset.people[0]["email"]
    total = len(sandboxes.dataset.people)
    shown = control(
        sandboxes,
        {"omit_fields": ["company"], "short_pages": [0], "archive": [first], "count_archived": False},
    ).json()
    assert shown["omit_fields"] == ["company"] and shown["short_pages"] == [0]
    assert call(sandboxes, "GET", "accounts/info").json()["peopleCount"] == total - 1
    page = call(sandboxes, "GET", "people/all").json()["people"]
    assert len(page) == (total - 1) // 2 and all("company" not in p for p in page)
    assert first not in {p["email"] for p in call(sandboxes, "GET", "people/all").json()["people"]}
    lookup = {"people[0][email]": first}
    assert call(sandboxes, "GET", "people", params=lookup).json()["users"] == []
    assert call(sandboxes, "GET", "people", params={**lookup, "includeArchived": "true"}).json()["users"]
    assert control(sandboxes, {"upsert_tags": "sometimes"}).status_code == 400
    assert control(sandboxes).json()["count_archived"] is False


def test_an_upsert_by_address_does_not_see_an_archived_person(sandboxes: Sandboxes) -> None:
    email = sandboxes.dataset.people[0]["email"]
    sandboxes.encharge.archive(email)
    call(sandboxes, "POST", "people", json=[{"email": email}])
    assert sum(p.get("email") == email for p in sandboxes.encharge.people.values()) == 2  # the worst case


def test_case_variant_duplicates_and_404_lookups(sandboxes: Sandboxes) -> None:
    control(sandboxes, {"case_sensitive_emails": True, "lookup_404": True, "add_people": [{"email": "X@a.com"}]})
    control(sandboxes, {"add_people": [{"email": "x@a.com", "tags": "t"}]})
    assert call(sandboxes, "POST", "tags", json={"tag": "u", "email": "x@a.com"}).status_code == 201
    assert sandboxes.encharge.find(email="X@a.com")["tags"] == []
    assert sandboxes.encharge.find(email="x@a.com")["tags"] == ["t", "u"]
    missing = call(sandboxes, "GET", "people", params={"people[0][email]": "x@a.com", "people[1][email]": "no@a.com"})
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Person not found"


# --- a live account, and the readings of what the OpenAPI leaves open ----------------------------------------


def listed(boxes: Sandboxes, **params: object) -> list[dict]:
    return call(boxes, "GET", "people/all", params={"limit": 100, **params}).json()["people"]


def test_sign_ups_while_the_listing_is_read(sandboxes: Sandboxes) -> None:
    joining = sorted(sandboxes.dataset.manifest.creates)[0]
    shown = control(sandboxes, {"signups_per_page": 4, "signup_emails": [joining]}).json()
    assert shown["signups_per_page"] == 4 and shown["anonymous_every"] == 4
    before = call(sandboxes, "GET", "accounts/info").json()["peopleCount"]
    listed(sandboxes)  # a page served: four sign-ups, the audience member first and one anonymous visitor
    assert call(sandboxes, "GET", "accounts/info").json()["peopleCount"] == before + 4
    newest = listed(sandboxes, offset=before)
    assert newest[0]["email"] == joining and sum("email" not in p for p in newest) == 1
    assert all(p["createdAt"] >= "2026" for p in newest)
    plain = listed(sandboxes, offset=before, ignoreAnonymous="true")
    assert all("email" in p for p in plain)  # honoured: anonymous visitors left out
    control(sandboxes, {"ignore_anonymous": "ignore"})
    assert any("email" not in p for p in listed(sandboxes, offset=before, ignoreAnonymous="true"))


def test_an_order_by_activity_and_what_sort_does(sandboxes: Sandboxes) -> None:
    control(sandboxes, {"listing_order": "activity", "activity_per_page": 1})
    first = listed(sandboxes)
    oldest_created = listed(sandboxes, sort="createdAt", order="asc")
    assert first[0]["id"] != oldest_created[0]["id"]  # the most recently active first, by default
    again = listed(sandboxes)
    assert again[0]["id"] != first[0]["id"]  # someone acted between two page reads: now first
    control(sandboxes, {"sort": "ignore"})
    assert listed(sandboxes, sort="createdAt", order="asc")[0]["id"] != oldest_created[0]["id"]
    control(sandboxes, {"sort": "refuse"})
    refused = call(sandboxes, "GET", "people/all", params={"sort": "createdAt"})
    assert refused.status_code == 400 and "sort" in refused.json()["error"]["message"]
    assert control(sandboxes, {"listing_order": "random"}).status_code == 400


def test_refused_lookups_and_writes(sandboxes: Sandboxes) -> None:
    person = sandboxes.dataset.people[0]
    control(sandboxes, {"lookup_400": [person["email"].upper()], "refuse_writes": {person["email"]: 409}})
    lookup = call(
        sandboxes, "GET", "people", params={"people[0][email]": "ghost@x.com", "people[1][email]": person["email"]}
    )
    assert lookup.status_code == 400 and "Invalid email" in lookup.json()["error"]["message"]
    assert call(sandboxes, "POST", "people", json=[{"email": person["email"], "lastName": "X"}]).status_code == 409
    assert call(sandboxes, "POST", "tags", json={"tag": "t", "id": person["id"]}).status_code == 409
    assert call(sandboxes, "POST", "people", json=[{"id": "no-such-id"}]).status_code == 404
    assert control(sandboxes, {"refuse_writes": {person["email"]: 500}}).status_code == 400


def tags_after(boxes: Sandboxes, email: str, *calls: tuple[str, str]) -> list[str]:
    for method, tag in calls:
        assert call(boxes, method, "tags", json={"tag": tag, "email": email}).status_code in (201, 204)
    person = boxes.encharge.find(email=email)
    assert person is not None
    return sorted(person["tags"])


def test_tag_case_modes_treat_spellings_as_one_tag_or_two(sandboxes: Sandboxes) -> None:
    a, b, c = (p["email"] for p in sandboxes.dataset.people[:3])
    for email in (a, b, c):
        sandboxes.encharge.find(email=email)["tags"] = ["News"]  # type: ignore[index]
    assert tags_after(sandboxes, a, ("POST", "news")) == ["News", "news"]  # sensitive: two tags
    assert tags_after(sandboxes, a, ("DELETE", "NEWS")) == ["News", "news"]
    sandboxes.encharge.modes.configure({"tag_case": "keep_first"})  # one tag, the account's first spelling
    assert tags_after(sandboxes, b, ("DELETE", "news"), ("POST", "news")) == ["News"]
    assert tags_after(sandboxes, b, ("POST", "Events"), ("POST", "EVENTS")) == ["Events", "News"]
    sandboxes.encharge.modes.configure({"tag_case": "lower"})  # one tag, lower-cased
    assert tags_after(sandboxes, c, ("DELETE", "nEwS"), ("POST", "NeWs")) == ["news"]


def test_tags_outside_the_documented_characters_are_refused(sandboxes: Sandboxes) -> None:
    email = sandboxes.dataset.people[0]["email"]
    refused = call(sandboxes, "POST", "tags", json={"tag": "news.letter", "email": email})
    assert refused.status_code == 400 and "letters, numbers, spaces, dashes and underscores" in refused.text
    assert call(sandboxes, "POST", "tags", json={"tag": "Client News_2026-q1", "email": email}).status_code == 201
    with pytest.raises(ValueError, match="tag_case must be one of"):
        sandboxes.encharge.modes.configure({"tag_case": "upper"})
