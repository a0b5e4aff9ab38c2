"""The Encharge sandbox's unpublished rate limit: a token bucket, and beyond it 429 with an HTML body and
no Retry-After."""

from __future__ import annotations

import time

import pytest
import requests

from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.launch import running_sandboxes
from marketing_pipeline.sandbox.server import TokenBucket


def get(server: EnchargeSandbox) -> requests.Response:
    return requests.get(
        server.base_url + "people/all", headers={"X-Encharge-Token": server.token}, params={"limit": 1}, timeout=5
    )


def test_beyond_the_burst_it_answers_an_html_429_without_retry_after() -> None:
    with EnchargeSandbox([]) as server:
        server.modes.configure({"hidden_limit_per_second": 2, "hidden_limit_burst": 5})
        statuses = [get(server).status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
        refused = get(server)
        assert refused.status_code == 429
        assert "Retry-After" not in refused.headers
        assert refused.headers["Content-Type"].startswith("text/html") and b"Too Many Requests" in refused.content
        assert server.throttled == statuses.count(429) + 1
        time.sleep(0.6)  # a token back after half a second at 2 a second
        assert get(server).status_code == 200


def test_over_http_and_off_again() -> None:
    with EnchargeSandbox([]) as server:
        url = server.root_url + "/_sandbox/modes"
        shown = requests.post(url, json={"hidden_limit_per_second": 1, "hidden_limit_burst": 1}, timeout=5).json()
        assert (shown["hidden_limit_per_second"], shown["hidden_limit_burst"]) == (1, 1)
        assert [get(server).status_code for _ in range(2)] == [200, 429]
        requests.post(url, json={"hidden_limit_per_second": 0}, timeout=5)
        assert {get(server).status_code for _ in range(20)} == {200}
        assert requests.post(url, json={"hidden_limit_per_second": -1}, timeout=5).status_code == 400


def test_the_launcher_sets_it() -> None:
    with running_sandboxes(size=10, hidden_limit_per_second=3) as boxes:
        assert boxes.encharge.modes.as_dict()["hidden_limit_per_second"] == 3
        assert [get(boxes.encharge).status_code for _ in range(5)].count(429) >= 1


def test_a_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    now = [0.0]
    bucket = TokenBucket(10, 3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] = 0.1
    assert [bucket.take() for _ in range(2)] == [True, False]
    now[0] = 10.0
    assert sum(bucket.take() for _ in range(10)) == 3
    with pytest.raises(ValueError):
        TokenBucket(0, 1)
