"""`syncs trigger`'s progress on stderr: on a terminal, one live line for the running step (rewritten as its
counts arrive) above which finished steps stay; elsewhere (`--progress` into a file), one line per step."""

from __future__ import annotations

import shutil
import threading
import time
from typing import TextIO

from marketing_pipeline.launch.run_events import StepEnd

STEP_WIDTH = 18
ENDS = {"done": "done", "failed": "FAILED", "retrying": "retrying"}


class TerminalProgress:
    def __init__(self, stream: TextIO, *, live: bool) -> None:
        self.stream = stream
        self.live = live
        self._started: dict[str, float] = {}
        self._latest: dict[str, str] = {}
        self._lock = threading.Lock()
        self._showing_live = False

    def _elapsed(self, step: str) -> str:
        return f"{time.monotonic() - self._started.get(step, time.monotonic()):.1f}s"

    def _write_live(self, text: str) -> None:
        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        self.stream.write("\r\x1b[K" + text[:width])
        self.stream.flush()
        self._showing_live = True

    def _write_line(self, text: str) -> None:
        if self._showing_live:
            self.stream.write("\r\x1b[K")
            self._showing_live = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def step_started(self, step: str) -> None:
        with self._lock:
            self._started[step] = time.monotonic()
            self._latest.pop(step, None)
            if self.live:
                self._write_live(f"{step:<{STEP_WIDTH}} running")

    def step_progress(self, step: str, text: str) -> None:
        with self._lock:
            self._latest[step] = text
            if self.live:
                self._write_live(f"{step:<{STEP_WIDTH}} {self._elapsed(step)}  {text}")

    def step_finished(self, step: str, end: StepEnd) -> None:
        with self._lock:
            detail = self._latest.get(step, "")
            line = f"{step:<{STEP_WIDTH}} {ENDS[end]} in {self._elapsed(step)}" + (f": {detail}" if detail else "")
            self._write_line(line)

    def note(self, text: str) -> None:
        """A line of its own (an alert sent, say)."""
        with self._lock:
            self._write_line(text)
