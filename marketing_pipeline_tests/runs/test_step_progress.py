"""A step's progress: counts of real work, reported at most once a second and once at the end."""

from __future__ import annotations

from marketing_pipeline.runs.step_progress import PROGRESS_PREFIX, StepProgress, progress_text


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_counts_are_reported_at_most_once_a_second_then_at_the_end() -> None:
    reports: list[str] = []
    clock = Clock()
    progress = StepProgress(reports.append, clock=clock)
    progress.add("pages read")
    progress.add("contacts read", 1000)
    assert reports == []  # not a second yet
    clock.now += 1.0
    progress.add("pages read")
    progress.add("contacts read", 1000)
    assert reports == [f"{PROGRESS_PREFIX}pages read: 2, contacts read: 1,000"]
    clock.now += 0.5
    progress.add("contacts read", 500)
    assert len(reports) == 1
    progress.done("2,500 contacts")
    assert reports[-1] == f"{PROGRESS_PREFIX}2,500 contacts"
    assert [progress_text(r) for r in reports] == ["pages read: 2, contacts read: 1,000", "2,500 contacts"]
    assert progress_text("an ordinary log line") is None


def test_responses_count_the_items_each_accepted_request_carried() -> None:
    reports: list[str] = []
    progress = StepProgress(reports.append, every=0)
    observe = progress.responses({"POST /people": "people upserted", "DELETE /tags": "tags removed"})
    observe("POST /people", 200, 100)
    observe("POST /people", 400, 50)  # a batch Encharge refused: not written
    observe("DELETE /tags", 404, 1)
    observe("DELETE /tags", 200, 1)
    observe("GET /people/all", 200, 1)  # not one this step counts
    assert reports[-1] == f"{PROGRESS_PREFIX}people upserted: 100, tags removed: 1"
