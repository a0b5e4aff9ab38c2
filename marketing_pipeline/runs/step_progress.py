"""A step's progress as it happens: counts of real work (pages read, contacts parsed, writes done), reported
as a one-line text at most once a second and once more when the step is done.

The counts come from the work itself: the HTTP transport tells an observer about every response, and the
step adds what only it knows (contacts parsed from a page). Reports go to whatever the step is given; in
Dagster that is the run's log, prefixed so a watcher (`syncs trigger`) can tell them from other lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

PROGRESS_PREFIX = "progress: "
REPORT_EVERY_SECONDS = 1.0


def progress_text(message: str) -> str | None:
    """The progress text of a log message, or None when the message is not a progress report."""
    return message[len(PROGRESS_PREFIX) :] if message.startswith(PROGRESS_PREFIX) else None


class StepProgress:
    """Named counts ("pages read: 12, contacts read: 9,400"), in the order they first appear."""

    def __init__(
        self,
        report: Callable[[str], None],
        *,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report = report
        self._every = REPORT_EVERY_SECONDS if every is None else every
        self._clock = clock
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._last = clock()

    def add(self, label: str, count: int = 1) -> None:
        with self._lock:
            self._counts[label] = self._counts.get(label, 0) + count
            if self._clock() - self._last < self._every:
                return
            self._last = self._clock()
            text = self._text()
            self._report(PROGRESS_PREFIX + text)

    def _text(self) -> str:
        return ", ".join(f"{label}: {count:,}" for label, count in self._counts.items())

    def responses(self, labels: Mapping[str, str]) -> Callable[[str, int, int], None]:
        """An HTTP observer: each accepted (2xx) response to an endpoint in `labels` ("GET /people/all": "pages
        read") adds the items its request carried (a batch of people counts each person). What was refused
        shows in the step's result, not here."""

        def observe(endpoint: str, status: int, items: int) -> None:
            label = labels.get(endpoint)
            if label is not None and 200 <= status < 300:
                self.add(label, items)

        return observe

    def done(self, summary: str) -> None:
        """The step's last report: what it did, in its own words."""
        with self._lock:
            self._report(PROGRESS_PREFIX + summary)
