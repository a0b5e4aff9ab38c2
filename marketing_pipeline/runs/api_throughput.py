"""How fast a step talked to an API, and what it learned of the API's limit: the figures each step puts in
its metadata and the run keeps in its details, and the learned rate carried from run to run through the
marketing store."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.transport.http import HttpTransport
from marketing_pipeline.transport.rate import LearnedRate


class _Client(Protocol):
    transport: HttpTransport

    def close(self) -> None: ...


ClientT = TypeVar("ClientT", bound=_Client)


@dataclass(frozen=True)
class ApiThroughput:
    """One step's traffic with one API."""

    requests: int
    throttled: int  # answers 429 or 503
    rate_reached: float | None  # the most answers (not throttled) in one second
    rate_learned: float | None  # what the next run starts at

    @classmethod
    def of(cls, transport: HttpTransport) -> ApiThroughput:
        control = transport.rate_control
        return cls(
            requests=transport.stats.total,
            throttled=transport.stats.throttled,
            rate_reached=round(control.peak, 1) if control is not None and control.peak else None,
            rate_learned=round(learned.per_second, 1) if (learned := control and control.learned) else None,
        )

    def metadata(self) -> dict[str, Any]:
        """The step's metadata entries (a rate not known is left out, not shown as 0)."""
        out: dict[str, Any] = {"requests": self.requests, "throttled_responses": self.throttled}
        if self.rate_reached is not None:
            out["rate_reached_per_second"] = self.rate_reached
        if self.rate_learned is not None:
            out["rate_learned_per_second"] = self.rate_learned
        return out


def run_throughput(steps: Mapping[str, tuple[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The run's figures per API, for its details, from each step's metadata: {step: (api, metadata)}.
    Requests and throttles add up; the rate reached is the highest; the learned rate is the last step's."""
    out: dict[str, dict[str, Any]] = {}
    for api, metadata in steps.values():
        figures = out.setdefault(api, {"requests": 0, "throttled": 0, "rateReached": None, "rateLearned": None})
        figures["requests"] += int(metadata.get("requests") or 0)
        figures["throttled"] += int(metadata.get("throttled_responses") or 0)
        reached = metadata.get("rate_reached_per_second")
        if reached is not None:
            figures["rateReached"] = max(figures["rateReached"] or 0.0, float(reached))
        if metadata.get("rate_learned_per_second") is not None:
            figures["rateLearned"] = float(metadata["rate_learned_per_second"])
    for figures in out.values():
        figures["throttledShare"] = round(figures["throttled"] / figures["requests"], 4) if figures["requests"] else 0.0
    return out


@contextmanager
def learning_client(
    store: SyncStore, api: str, get_client: Callable[[LearnedRate | None], ClientT]
) -> Iterator[ClientT]:
    """A client that starts at the rate earlier runs learned for `api`, and leaves what it learned for the
    next (also when the step fails: a run stopped by throttling learned the most)."""
    client = get_client(store.learned_rate(api))
    try:
        yield client
    finally:
        client.close()
        control = client.transport.rate_control
        if control is not None and client.transport.stats.total:
            store.record_learned_rate(api, control.learned)
