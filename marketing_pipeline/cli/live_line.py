"""`syncs trigger`'s progress on stderr, drawn by rich: on a terminal, one live line for the running step
(rewritten as its counts arrive, cut to the terminal's width) above which finished steps stay; elsewhere
(`--progress` into a file), one line per step. Used as a context manager: the live line (and the hidden
cursor) goes when the block ends, however it ends."""

from __future__ import annotations

import threading
import time
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from marketing_pipeline.launch.run_events import StepEnd

STEP_WIDTH = 18
ENDS = {"done": "done", "failed": "FAILED", "retrying": "retrying"}


class LiveLine:
    def __init__(self, stream: TextIO, *, live: bool) -> None:
        # Plain text as given: no colours, markup, emoji or highlighting, and no wrapping of finished lines.
        self.console = Console(
            file=stream, force_terminal=live, color_system=None, markup=False, highlight=False, emoji=False
        )
        self._live = (
            Live(console=self.console, transient=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False)
            if live
            else None
        )
        self._started: dict[str, float] = {}
        self._latest: dict[str, str] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> LiveLine:
        if self._live:
            self._live.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._live:
            self._live.stop()

    def _elapsed(self, step: str) -> str:
        return f"{time.monotonic() - self._started.get(step, time.monotonic()):.1f}s"

    def _show(self, text: str) -> None:
        if self._live:
            self._live.update(Text(text, no_wrap=True, overflow="ellipsis"), refresh=True)

    def _print(self, text: str) -> None:
        self._show("")  # a finished line replaces the live one, which stays empty until the next step starts
        self.console.print(text, soft_wrap=True)

    def step_started(self, step: str) -> None:
        with self._lock:
            self._started[step] = time.monotonic()
            self._latest.pop(step, None)
            self._show(f"{step:<{STEP_WIDTH}} running")

    def step_progress(self, step: str, text: str) -> None:
        with self._lock:
            self._latest[step] = text
            self._show(f"{step:<{STEP_WIDTH}} {self._elapsed(step)}  {text}")

    def step_finished(self, step: str, end: StepEnd) -> None:
        with self._lock:
            detail = self._latest.get(step, "")
            self._print(
                f"{step:<{STEP_WIDTH}} {ENDS[end]} in {self._elapsed(step)}" + (f": {detail}" if detail else "")
            )

    def note(self, text: str) -> None:
        """A line of its own (an alert sent, say)."""
        with self._lock:
            self._print(text)
