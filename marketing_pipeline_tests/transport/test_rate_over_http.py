"""The transport tells its rate control about every answer, over real HTTP: throttles (429 and 503, with or
without Retry-After, JSON or HTML) slow it down, anything else lets it speed up."""

from __future__ import annotations

from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.server import Fault
from marketing_pipeline.transport.http import RetrySettings
from marketing_pipeline.transport.rate import AdaptiveRate
from marketing_pipeline_tests.support.clients import FAST_RETRY


class Recorder:
    """A rate control that lets everything go and remembers what it was told."""

    def __init__(self) -> None:
        self.acquired = 0
        self.succeeded_count = 0
        self.throttles: list[float | None] = []

    def acquire(self) -> None:
        self.acquired += 1

    def succeeded(self) -> None:
        self.succeeded_count += 1

    def throttled(self, retry_after: float | None) -> None:
        self.throttles.append(retry_after)

    rate = peak = 1.0
    learned = None


def people(n: int) -> list[dict]:
    return [{"id": f"id-{i}", "email": f"p{i}@example.com", "tags": []} for i in range(n)]


def test_html_429s_without_retry_after_and_503s_with_it_are_throttles() -> None:
    recorder = Recorder()
    with EnchargeSandbox(people(250)) as server:
        server.faults.inject(Fault(status=503, retry_after="0"), path="/people/all")
        server.faults.inject(Fault(status=429, retry_after=None, body="<html>slow down</html>"), path="/people/all")
        with EnchargeClient(
            base_url=server.base_url, api_key=server.token, retry=FAST_RETRY, rate_control=recorder
        ) as client:
            assert len(client.all_people()) == 250
            stats = client.transport.stats
        assert sorted(recorder.throttles, key=lambda wait: wait is None) == [0.0, None]  # pages go concurrently
        assert stats.throttled == 2
        assert recorder.acquired == stats.total == server.request_count()
        assert recorder.succeeded_count == stats.total - 2


def test_against_the_hidden_limit_the_client_settles_under_it() -> None:
    with EnchargeSandbox(people(3000)) as server:
        server.modes.configure({"hidden_limit_per_second": 40, "hidden_limit_burst": 5})
        control = AdaptiveRate(initial=80, ceiling=500)  # starts too fast on purpose
        retry = RetrySettings(max_attempts=8, base_delay=0.05, max_delay=0.5)
        with EnchargeClient(
            base_url=server.base_url, api_key=server.token, retry=retry, rate_control=control
        ) as client:
            for _ in range(3):
                assert len(client.all_people()) == 3000
            stats = client.transport.stats
        assert stats.throttled == server.throttled > 0
        assert server.throttled / stats.total < 0.1  # one early burst, then it keeps under the limit
        # Under the limit, and not collapsed: on a loaded machine the client itself may be slower than the
        # limit, and a cut follows what the server accepted, so the floor asserted is a quarter of the limit.
        assert 10 <= control.rate <= 48
        assert control.learned is not None and control.learned.limit_seen and control.learned.per_second <= 45
