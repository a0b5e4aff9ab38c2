from __future__ import annotations

import time

import pytest

from marketing_pipeline.errors import ConfigurationError
from marketing_pipeline.transport.http import HttpTransport, RetrySettings, parse_retry_after
from marketing_pipeline.transport.rate import FixedRate
from marketing_pipeline.transport.redact import redact
from marketing_pipeline_tests.support.listener import listening


def test_retry_after_forms() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (parse_retry_after(future) or 0) <= 31


def test_redaction() -> None:
    assert redact("key abcd1234 leaked", ["abcd1234", "", "ab"]) == "key *** leaked"


def test_rate_limiter_spaces_requests_and_slows_after_429() -> None:
    limiter = FixedRate(50)
    started = time.perf_counter()
    for _ in range(11):
        limiter.acquire()
    assert time.perf_counter() - started >= 0.19  # 11 requests at 50/s: never faster than the rate
    limiter.throttled(None)
    started = time.perf_counter()
    for _ in range(6):
        limiter.acquire()
    assert time.perf_counter() - started >= 0.18  # halved to 25 per second


@pytest.mark.parametrize(
    "headers, base_url",
    [
        ({"X-Encharge-Token": "sekrit-token\n"}, None),  # a key pasted with its newline, unchecked
        ({"X-Encharge-Token": "sekrit\r\nInjected: 1"}, None),
        ({"clientId": "sekrit-\u2019-quote"}, None),  # a character HTTP headers cannot carry
        ({}, "http://127.0.0.1:port/v1/"),
    ],
)
def test_a_request_that_cannot_be_sent_is_a_configuration_error_never_retried(
    headers: dict[str, str], base_url: str | None
) -> None:
    slept: list[float] = []
    with listening() as listener:
        transport = HttpTransport(
            service="Encharge",
            base_url=base_url or listener.url,
            headers=headers,
            timeout=2,
            retry=RetrySettings(max_attempts=6),
            sleep=slept.append,
        )
        started = time.perf_counter()
        with pytest.raises(ConfigurationError) as caught:
            transport.request("GET", "people")
        elapsed = time.perf_counter() - started
    assert slept == [] and transport.stats.retries == 0 and elapsed < 1
    assert listener.received == []
    assert "sekrit" not in str(caught.value) and str(caught.value).startswith("Encharge: ")
