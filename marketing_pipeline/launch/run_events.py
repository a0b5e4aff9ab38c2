"""Watching a run we execute in this process: Dagster's events for it, as they are stored, turned into "step
started", "step progress" (the counts the assets report) and "step finished" for whatever shows them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol

import dagster as dg

from marketing_pipeline.runs.step_progress import progress_text

StepEnd = Literal["done", "failed", "retrying"]

ENDS: dict[dg.DagsterEventType, StepEnd] = {
    dg.DagsterEventType.STEP_SUCCESS: "done",
    dg.DagsterEventType.STEP_FAILURE: "failed",
    dg.DagsterEventType.STEP_UP_FOR_RETRY: "retrying",
}


class ProgressView(Protocol):
    def step_started(self, step: str) -> None: ...

    def step_progress(self, step: str, text: str) -> None: ...

    def step_finished(self, step: str, end: StepEnd) -> None: ...


def run_listener(view: ProgressView) -> Callable[[dg.EventLogEntry], None]:
    """A listener for `DagsterInstance.add_event_listener`; it is called in the thread that logged the event."""

    def on_event(entry: dg.EventLogEntry) -> None:
        step = entry.step_key
        if not step:
            return
        try:
            event = entry.dagster_event
            if event is None:
                text = progress_text(entry.user_message)
                if text is not None:
                    view.step_progress(step, text)
            elif event.event_type == dg.DagsterEventType.STEP_START:
                view.step_started(step)
            elif event.event_type in ENDS:
                view.step_finished(step, ENDS[event.event_type])
        except Exception:  # showing progress must never disturb the run
            return

    return on_event
