"""Client-side rate control for APIs whose limit is unpublished (Encharge) or only roughly documented
(ConnectWise, about 1,000 requests a minute).

`AdaptiveRate` learns the server's limit the way TCP learns a link's: it starts conservative (or near the
rate learned by an earlier run), multiplies its rate while the server accepts and the rate is what holds the
callers back (slow start), cuts it on a throttle (429/503) and then creeps up additively (AIMD), so it
settles just under the server's real limit. `FixedRate` is the old fixed pace, kept for comparison.

Written by hand because no library does it: rate limiters (pyrate-limiter, limits, urllib3's and tenacity's
retries) enforce or back off from a limit they are given; none learns an unknown one from 429/503 answers
and remembers it across runs. The retries around each request are tenacity's (transport/http.py).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# How long one rate "round" lasts: increases are decided per second of traffic, and a burst of throttles
# within one second (concurrent requests that all met the same empty bucket) counts as one.
ROUND_SECONDS = 1.0
ADDITIVE_ROUND_REQUESTS = 100
# A round is pace-bound when at least this share of the rate was used.
PACE_BOUND_USE = 0.8
# What is remembered for the next run, as a share of the rate at the last throttle: it may start there at
# once, so a little under where the server last said no.
LEARNED_SHARE = 0.85


@dataclass(frozen=True)
class LearnedRate:
    """What one run leaves the next. `limit_seen`: the server throttled near this rate, so the next run starts
    there and creeps up (AIMD); otherwise it is only the fastest rate tried, and the next run keeps
    multiplying from it (slow start) until the server says no."""

    per_second: float
    limit_seen: bool


class RateControl(Protocol):
    """What the HTTP transport needs from a rate controller; thread-safe."""

    def acquire(self) -> None:
        """Wait until one more request may be sent."""

    def succeeded(self) -> None:
        """The server answered a request without throttling it."""

    def throttled(self, retry_after: float | None) -> None:
        """The server throttled a request (429 or 503), perhaps saying how long to hold off."""

    @property
    def rate(self) -> float:
        """Requests a second allowed now."""

    @property
    def peak(self) -> float:
        """The highest rate reached: the most answers the server gave (unthrottled) in one second."""

    @property
    def learned(self) -> LearnedRate | None:
        """A rate safe to start the next run at, or None when nothing was learned."""


class _Pacer:
    """Spaces requests `1/rate` apart and holds everyone back until a Retry-After passes."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free = 0.0
        self._hold_until = 0.0

    def _slot(self, now: float, rate: float) -> float:
        """Called under the lock: the time the next request may go, booking it."""
        start = max(now, self._next_free, self._hold_until)
        self._next_free = start + 1.0 / rate
        return start

    def _wait(self, start: float, now: float) -> None:
        if start > now:
            self._sleep(start - now)


class FixedRate(_Pacer):
    """At most `rate` requests a second, halved for `cooldown` seconds after each throttle, never raised:
    the behaviour before the rate was learned, kept to compare against."""

    def __init__(
        self,
        rate: float,
        *,
        cooldown: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError("a fixed rate must be above 0")
        super().__init__(clock, sleep)
        self.cooldown = cooldown
        self._rate = float(rate)
        self._slow_until = 0.0

    def _current(self, now: float) -> float:
        return self._rate / 2 if now < self._slow_until else self._rate

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            start = self._slot(now, self._current(now))
        self._wait(start, now)

    def succeeded(self) -> None:
        return

    def throttled(self, retry_after: float | None) -> None:
        with self._lock:
            now = self._clock()
            self._slow_until = now + self.cooldown
            if retry_after:
                self._hold_until = max(self._hold_until, now + retry_after)

    @property
    def rate(self) -> float:
        return self._current(self._clock())

    @property
    def peak(self) -> float:
        return self._rate

    @property
    def learned(self) -> LearnedRate | None:
        return None


class AdaptiveRate(_Pacer):
    """AIMD over a pacer, thread-safe.

    - Slow start: from `initial` (conservative), times `growth` per second of traffic in which callers
      waited on the pacer and used most of the rate (the rate, not the callers, was the bound).
    - After a throttle, or from a limit an earlier run met: plus `additive` times the rate at the last
      throttle per such second (or per 100 requests, when fewer go in a second).
    - On a throttle (429/503): times `cut` once per burst (throttles of requests already on their way at
      the last cut, within a second of it, are the same burst), or down to 90% of what the server
      accepted in the last second when that is lower (a limit far below the rate would otherwise take many
      cuts, each with its own burst of throttles); never under `floor`, nor under a quarter of the rate
      before the cut. A Retry-After holds every caller until it passes.
    - Never above `ceiling`.
    """

    def __init__(
        self,
        *,
        initial: float,
        ceiling: float,
        floor: float = 1.0,
        learned: LearnedRate | None = None,
        growth: float = 1.5,
        additive: float = 0.03,
        cut: float = 0.85,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0 < floor <= ceiling:
            raise ValueError("the rate's floor must be above 0 and at most its ceiling")
        super().__init__(clock, sleep)
        self.ceiling = float(ceiling)
        self.floor = float(floor)
        self.growth = growth
        self.additive = additive
        self.cut = cut
        # A remembered rate is a rate the server accepted: start there (never above the ceiling). Near a limit
        # it met, creep up (slow start would overshoot the limit at once); a rate that met no limit is only
        # as far as an earlier run needed to go, so keep multiplying from it.
        remembered = learned is not None and learned.per_second > 0
        start = learned.per_second if remembered and learned is not None else initial
        near_limit = remembered and learned is not None and learned.limit_seen
        self._rate = min(self.ceiling, max(self.floor, float(start)))
        self._start = self._rate
        self._peak = 0.0
        self._slow_start = not near_limit
        # The rate at the last throttle (or, when remembered near a limit, the rate the earlier run learned).
        self._throttle_point: float | None = self._rate if near_limit else None
        self._round_start: float | None = None
        self._waited = 0
        self._sent = 0
        self._throttled_in_round = 0
        self._last_cut = float("-inf")
        self._first_sent: float | None = None
        # Requests let go but not answered yet, and at the last cut: throttles of requests that were already
        # on their way when the rate was cut belong to the burst that caused the cut.
        self._outstanding = 0
        self._outstanding_at_cut = 0
        self._answered_since_cut = 0
        self._accepted: deque[float] = deque()  # times of responses not throttled, the last second's
        self._sent_times: deque[float] = deque()  # times requests were let go, the last second's
        self._throttled_this_run = False

    # --- the protocol ----------------------------------------------------------------------------

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            self._end_round(now)
            start = self._slot(now, self._rate)
            self._sent += 1
            self._outstanding += 1
            if self._first_sent is None:
                self._first_sent = start
            self._sent_times.append(start)
            if len(self._sent_times) > 4 * self._rate + 16:
                self._forget(now)
            if start > now:
                self._waited += 1
        self._wait(start, now)

    def succeeded(self) -> None:
        with self._lock:
            now = self._clock()
            self._answered()
            self._accepted.append(now)
            self._forget(now)
            self._peak = max(self._peak, len(self._accepted) / ROUND_SECONDS)

    def throttled(self, retry_after: float | None) -> None:
        with self._lock:
            now = self._clock()
            self._answered()
            self._throttled_in_round += 1
            if retry_after:
                self._hold_until = max(self._hold_until, now + retry_after)
                self._next_free = max(self._next_free, self._hold_until)
            sent_before_cut = self._answered_since_cut <= self._outstanding_at_cut
            if sent_before_cut and now - self._last_cut < ROUND_SECONDS:
                return  # the same burst: it was cut for already
            self._forget(now)
            before = self._rate
            # Per second over the last second, or over the time since the first request when shorter.
            span = min(ROUND_SECONDS, max(0.25, now - (self._first_sent if self._first_sent is not None else now)))
            accepted = len(self._accepted) / span
            offered = len(self._sent_times) / span
            target = before * self.cut
            if offered >= before / 2:
                # The callers were really sending at about the rate, so what got through is the server's
                # pace; after a quiet spell a lone throttle says nothing of it.
                target = min(target, 0.9 * accepted)
            self._rate = max(self.floor, before / 4, min(before, target))
            self._throttle_point = before
            self._throttled_this_run = True
            self._slow_start = False
            self._last_cut = now
            self._outstanding_at_cut = self._outstanding
            self._answered_since_cut = 0
            # Requests already booked at the old pace are spread out at the new one from now.
            self._next_free = max(self._next_free, now + 1.0 / self._rate)
            self._round_start = now
            self._waited = self._sent = self._throttled_in_round = 0

    @property
    def rate(self) -> float:
        with self._lock:
            return self._rate

    @property
    def peak(self) -> float:
        with self._lock:
            return self._peak

    @property
    def learned(self) -> LearnedRate | None:
        """What the next run may start at: a little under this run's last throttle point (and no more than
        the rate now); when never throttled, the rate reached if it grew (no limit seen); else None (nothing
        learned: a step of a few requests must not overwrite what a longer one learned)."""
        with self._lock:
            if self._throttled_this_run and self._throttle_point is not None:
                rate = max(self.floor, min(self._rate, LEARNED_SHARE * self._throttle_point))
                return LearnedRate(rate, limit_seen=True)
            if self._rate > self._start:
                return LearnedRate(self._rate, limit_seen=self._throttle_point is not None)
            return None

    # --- rounds ----------------------------------------------------------------------------------

    def _answered(self) -> None:
        self._outstanding = max(0, self._outstanding - 1)
        self._answered_since_cut += 1

    def _forget(self, now: float) -> None:
        for times in (self._accepted, self._sent_times):
            while times and now - times[0] > ROUND_SECONDS:
                times.popleft()

    def _end_round(self, now: float) -> None:
        """Under the lock: close a second-long round, raising the rate when it was the callers' bound."""
        if self._round_start is None:
            self._round_start = now
            return
        if now - self._round_start < ROUND_SECONDS:
            return
        # Pace-bound: most requests of the round waited for their slot, and the round used most of the
        # rate (callers had more to send than it let through). Requests arriving in clumps wait for their
        # slots even when the callers, slowed by latency or CPU, use a fraction of the rate: raising it then
        # would learn a rate never tried. A round where callers were slower says nothing about the server.
        used = self._sent / ((now - self._round_start) * self._rate)
        pace_bound = self._sent >= 2 and self._waited * 2 >= self._sent and used >= PACE_BOUND_USE
        if pace_bound and not self._throttled_in_round:
            if self._slow_start:
                self._rate = min(self.ceiling, self._rate * self.growth)
            else:
                # +additive of the throttle point per second, or per ADDITIVE_ROUND_REQUESTS requests when
                # fewer went out in the second: each climb back to the limit then costs the same share of
                # throttles whatever the limit (at 10 a second, one second's climb would be 1 in 30).
                share = min(1.0, self._sent / ADDITIVE_ROUND_REQUESTS)
                step = self.additive * (self._throttle_point or self._rate) * share
                self._rate = min(self.ceiling, self._rate + step)
        self._round_start = now
        self._waited = self._sent = self._throttled_in_round = 0


RATE_CONTROLS = ("adaptive", "fixed")


def rate_control(
    kind: str, *, ceiling: float, initial: float, learned: LearnedRate | None = None
) -> RateControl | None:
    """The rate control a client's settings ask for: None when `ceiling` is 0 (no client-side limit)."""
    if kind not in RATE_CONTROLS:
        raise ValueError(f"rate control must be one of {RATE_CONTROLS}, not {kind!r}")
    if ceiling <= 0:
        return None
    if kind == "fixed":
        return FixedRate(ceiling)
    return AdaptiveRate(initial=min(initial, ceiling), ceiling=ceiling, floor=min(1.0, ceiling), learned=learned)
