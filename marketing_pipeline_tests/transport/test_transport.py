from __future__ import annotations

import time

from marketing_pipeline.transport.http import parse_retry_after
from marketing_pipeline.transport.rate import RateLimiter
from marketing_pipeline.transport.redact import redact


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
    limiter = RateLimiter(50)
    started = time.perf_counter()
    for _ in range(11):
        limiter.acquire()
    assert time.perf_counter() - started >= 0.19  # 11 requests at 50/s: never faster than the rate
    limiter.throttled(None)
    started = time.perf_counter()
    for _ in range(6):
        limiter.acquire()
    assert time.perf_counter() - started >= 0.18  # halved to 25 per second
