"""Watching for a pause while a run writes: the Encharge client asks before each write batch, and a run
whose sync was paused since it began stops there (what it already wrote stays recorded).

The pause is re-read from the store at most once every `REREAD_SECONDS`, so a first sync's 20,000 tag
calls cost a handful of reads, not 20,000; the answer is shared by the client's write threads, and once
paused the run stays stopped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

REREAD_SECONDS = 1.0


class PauseWatch:
    """A callable for `EnchargeClient.before_write`: None while the sync may go on, else why it stopped.

    `paused` reads whether the sync is paused now; `reason` words the stop."""

    def __init__(
        self,
        paused: Callable[[], bool],
        reason: str,
        *,
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._paused = paused
        self.reason = reason
        self._every = REREAD_SECONDS if every is None else every
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self.stopped = False

    def __call__(self) -> str | None:
        with self._lock:
            if self.stopped:
                return self.reason
            now = self._clock()
            if self._checked_at is None or now - self._checked_at >= self._every:
                self._checked_at = now
                self.stopped = self._paused()
            return self.reason if self.stopped else None
