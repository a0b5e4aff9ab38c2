"""AdaptiveRate against a simulated token-bucket server, in simulated time (a discrete-event loop over
workers that each send, wait for the answer and send again, as the Encharge client's four readers do)."""

from __future__ import annotations

import heapq
import threading

import pytest

from marketing_pipeline.sandbox.server import TokenBucket
from marketing_pipeline.transport.rate import AdaptiveRate, FixedRate, LearnedRate, rate_control


class Simulation:
    """`workers` callers over one rate control against a token bucket, `latency` seconds a request."""

    def __init__(
        self,
        control_factory,  # (clock, sleep) -> rate control
        *,
        limit: float,
        burst: float | None = None,
        workers: int = 4,
        latency: float = 0.02,
        retry_after: float | None = None,
    ) -> None:
        self.now = 0.0
        self.control = control_factory(lambda: self.now, self._sleep)
        self.bucket = TokenBucket(limit, burst or limit, clock=lambda: self.now)
        self.workers = workers
        self.latency = latency
        self.retry_after = retry_after
        self.sent: list[tuple[float, bool]] = []  # (time, accepted)
        self._slept = 0.0

    def _sleep(self, seconds: float) -> None:
        self._slept += seconds

    def run(self, requests: int) -> float:
        """Send `requests` successful requests (throttled ones are sent again); the time it took."""
        events: list[tuple[float, int, str]] = [(0.0, w, "acquire") for w in range(self.workers)]
        heapq.heapify(events)
        done = 0
        started = 0
        verdicts: dict[int, bool] = {}
        while events:
            at, worker, what = heapq.heappop(events)
            self.now = at
            if what == "acquire":
                if done + self._in_flight(events) >= requests:
                    continue
                self._slept = 0.0
                self.control.acquire()
                heapq.heappush(events, (at + self._slept, worker, "send"))
            elif what == "send":
                accepted = self.bucket.take()
                self.sent.append((at, accepted))
                verdicts[worker] = accepted
                started += 1
                heapq.heappush(events, (at + self.latency, worker, "answer"))
            else:
                if verdicts[worker]:
                    self.control.succeeded()
                    done += 1
                else:
                    self.control.throttled(self.retry_after)
                if done < requests:
                    heapq.heappush(events, (at, worker, "acquire"))
        return self.now

    @staticmethod
    def _in_flight(events: list[tuple[float, int, str]]) -> int:
        return sum(1 for _, _, what in events if what in ("send", "answer"))

    @property
    def throttled(self) -> int:
        return sum(1 for _, ok in self.sent if not ok)


def adaptive(**kwargs):
    return lambda clock, sleep: AdaptiveRate(clock=clock, sleep=sleep, **{"initial": 10, "ceiling": 500, **kwargs})


@pytest.mark.parametrize("limit", [10, 30, 100])
def test_it_converges_near_the_hidden_limit_with_few_throttles(limit: float) -> None:
    sim = Simulation(adaptive(), limit=limit)
    requests = int(limit * 60)
    seconds = sim.run(requests)
    assert sim.throttled / len(sim.sent) < 0.03
    # A minute's worth of requests at the limit, slow start included, within 1.3 x the time at the limit.
    assert seconds < 1.3 * requests / limit
    assert 0.75 * limit <= sim.control.rate <= 1.15 * limit
    assert sim.control.learned is not None and sim.control.learned.limit_seen
    assert 0.7 * limit <= sim.control.learned.per_second <= limit
    assert 0.8 * limit <= sim.control.peak <= 2 * limit  # a full bucket lets a second's worth more through


def test_a_learned_rate_starts_near_the_limit_without_a_storm() -> None:
    first = Simulation(adaptive(), limit=100)
    first.run(3000)
    learned = first.control.learned
    assert learned is not None and learned.limit_seen
    second = Simulation(adaptive(learned=learned), limit=100)
    seconds = second.run(1000)
    assert second.throttled / len(second.sent) < 0.03
    assert seconds < 1.3 * 1000 / 100
    # From the start: the first second already goes at (nearly) the learned pace.
    assert sum(1 for at, _ in second.sent if at < 1.0) >= 0.85 * learned.per_second


def test_a_rate_that_met_no_limit_is_a_start_not_a_ceiling() -> None:
    # A short run climbed to 20 a second and met no limit; a long one starting there keeps multiplying
    # (slow start) rather than creeping up by a few percent a second from a rate nobody ever refused.
    first = Simulation(adaptive(initial=10), limit=100)
    first.run(60)
    learned = first.control.learned
    assert learned is not None and not learned.limit_seen and learned.per_second > 10
    second = Simulation(adaptive(learned=learned), limit=100)
    seconds = second.run(2000)
    assert second.throttled / len(second.sent) < 0.03
    assert seconds < 1.3 * 2000 / 100
    assert second.control.learned is not None and second.control.learned.limit_seen


def test_a_limit_met_once_is_remembered_as_a_limit_even_when_the_next_run_is_not_throttled() -> None:
    sim = Simulation(adaptive(learned=LearnedRate(50, limit_seen=True)), limit=1000)
    sim.run(1000)
    assert sim.control.learned is not None and sim.control.learned.limit_seen
    assert 50 < sim.control.learned.per_second < 75  # crept up (additive), did not multiply


def test_it_never_goes_above_the_ceiling_and_a_learned_rate_is_not_trusted_above_it() -> None:
    sim = Simulation(adaptive(ceiling=40, learned=LearnedRate(90, limit_seen=True)), limit=1000)
    seconds = sim.run(800)
    assert sim.control.rate <= 40 and sim.control.peak <= 41
    assert sim.throttled == 0
    assert seconds >= 800 / 40 - 1
    assert sim.control.learned is None  # it learned nothing new: the memory stays as it was


def test_it_raises_the_rate_only_while_the_rate_holds_callers_back() -> None:
    # One worker with 200 ms latency can send 5 a second at most: the rate never binds, so it stays put.
    sim = Simulation(adaptive(initial=10), limit=1000, workers=1, latency=0.2)
    sim.run(100)
    assert sim.control.rate == 10
    assert sim.control.learned is None


def test_concurrent_throttles_of_one_burst_cut_once() -> None:
    now = [0.0]
    control = AdaptiveRate(initial=100, ceiling=500, clock=lambda: now[0], sleep=lambda s: None)
    for _ in range(8):  # eight on their way together
        control.acquire()
    for _ in range(8):
        control.throttled(None)
    assert control.rate == pytest.approx(85)
    now[0] = 1.5  # a second later, the same burst no more
    control.throttled(None)
    assert control.rate == pytest.approx(85 * 0.85)
    control.acquire()  # sent after that cut, and throttled too: the new rate is still too fast
    control.throttled(None)
    assert control.rate == pytest.approx(85 * 0.85 * 0.85)
    assert control.learned is not None and control.learned.per_second <= 0.9 * 85


def test_a_throttle_after_pushing_hard_cuts_to_what_the_server_accepted() -> None:
    now = [0.0]
    control = AdaptiveRate(initial=50, ceiling=500, clock=lambda: now[0], sleep=lambda s: None)
    for i in range(50):  # 50 sent in the last second, of which only 10 accepted
        now[0] = i / 50
        control.acquire()
        if i % 5 == 0:
            control.succeeded()
    control.throttled(None)
    assert control.rate == pytest.approx(12.5)  # 0.9 x 10 is below the floor of a quarter of 50


def test_retry_after_holds_every_caller() -> None:
    now = [0.0]
    waits: list[float] = []
    control = AdaptiveRate(initial=100, ceiling=500, clock=lambda: now[0], sleep=waits.append)
    control.throttled(2.0)
    now[0] = 0.5
    control.acquire()
    assert waits == [pytest.approx(1.5)]


def test_retry_after_is_honoured_against_a_server_that_sends_it() -> None:
    sim = Simulation(adaptive(initial=50), limit=20, retry_after=1.0)
    sim.run(400)
    holds: list[float] = []
    for at, ok in sim.sent:  # the first throttle of each burst; the hold runs a second from its answer
        if not ok and (not holds or at > holds[-1] + 1.5):
            holds.append(at)
    assert holds
    for when in holds:  # after a throttle nothing goes for a second, but the few already let go (4 workers)
        later = [at for at, _ in sim.sent if when + 0.2 < at < when + 0.95]
        assert not later


def test_the_fixed_rate_keeps_its_pace_and_halves_after_a_throttle() -> None:
    sim = Simulation(lambda clock, sleep: FixedRate(20, clock=clock, sleep=sleep), limit=100)
    seconds = sim.run(200)
    assert seconds == pytest.approx(10, rel=0.05)
    assert sim.control.learned is None


def test_callers_slower_than_the_rate_do_not_raise_it_even_when_they_come_in_clumps() -> None:
    # Four callers, 100 ms each (latency and CPU): at most 40 a second, arriving together, so each waits for
    # its slot at 100 a second; the rate must not climb past what they use.
    sim = Simulation(adaptive(initial=100), limit=1000, workers=4, latency=0.1)
    sim.run(400)
    assert sim.control.rate == 100
    assert sim.control.learned is None


def test_an_unthrottled_climb_is_learned_as_the_rate_reached() -> None:
    sim = Simulation(adaptive(initial=10), limit=1000)
    sim.run(300)
    assert sim.throttled == 0
    learned = sim.control.learned
    assert learned is not None and not learned.limit_seen and learned.per_second == sim.control.rate > 30


def test_it_is_thread_safe() -> None:
    control = AdaptiveRate(initial=2000, ceiling=5000)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(200):
                control.acquire()
                (control.throttled(None) if i % 50 == 0 else control.succeeded())
        except BaseException as exc:  # pragma: no cover - shown by the assert
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert 1 <= control.rate <= 5000


def test_settings_choose_the_control() -> None:
    assert rate_control("adaptive", ceiling=0, initial=10) is None
    assert isinstance(rate_control("fixed", ceiling=20, initial=10), FixedRate)
    control = rate_control("adaptive", ceiling=50, initial=10, learned=LearnedRate(80, limit_seen=True))
    assert isinstance(control, AdaptiveRate) and control.rate == 50
    with pytest.raises(ValueError, match="rate control must be one of"):
        rate_control("fast", ceiling=10, initial=10)
