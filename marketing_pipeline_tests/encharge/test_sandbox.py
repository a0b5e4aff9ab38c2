"""The Encharge sandbox's contract, over HTTP: the worst plausible behaviour where the real API is unclear."""

from __future__ import annotations

import json
from pathlib import Path

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
