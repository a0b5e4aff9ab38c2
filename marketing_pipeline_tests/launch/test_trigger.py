"""`syncs trigger` as a library call: the run's progress arrives as the work happens."""

from __future__ import annotations

import itertools
import threading

import pytest

from marketing_pipeline.launch.trigger import trigger_sync
from marketing_pipeline.runs import step_progress as progress_module
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.pipeline import Pipeline


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()

    def step_started(self, step: str) -> None:
        with self.lock:
            self.events.append(("start", step, ""))

    def step_progress(self, step: str, text: str) -> None:
        with self.lock:
            self.events.append(("progress", step, text))

    def step_finished(self, step: str, end: str) -> None:
        with self.lock:
            self.events.append((end, step, ""))

    def texts(self, step: str) -> list[str]:
        return [text for kind, name, text in self.events if kind == "progress" and name == step]


@pytest.fixture
def recorder(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    monkeypatch.setenv("MARKETING_DATABASE_URL", pipeline.store.url)
    for name, value in pipeline.boxes.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(progress_module, "REPORT_EVERY_SECONDS", 0)  # every count, not one a second
    return Recorder()


def counts(text: str) -> dict[str, int]:
    """{"pages read": 2, "contacts read": 87} from "pages read: 2, contacts read: 87"."""
    return {label: int(n.replace(",", "")) for label, n in (part.split(": ") for part in text.split(", "))}


def grows(reports: list[dict[str, int]]) -> bool:
    """Each report counts at least what the one before it did (a count never goes back)."""
    return all(before.get(k, 0) <= after.get(k, 0) for before, after in itertools.pairwise(reports) for k in before)


def test_progress_counts_the_real_work_as_it_happens(pipeline: Pipeline, recorder: Recorder) -> None:
    result = trigger_sync(pipeline.store, SYNC_KEY, instance=pipeline.instance, progress=recorder)
    assert result.success
    boxes = pipeline.boxes

    for step in ("cw_companies", "cw_contacts", "encharge_people", "sync_plan", "encharge_audience"):
        kinds = [kind for kind, name, _ in recorder.events if name == step]
        assert kinds[0] == "start" and kinds[-1] == "done" and set(kinds[1:-1]) <= {"progress"}, step
    assert recorder.texts("encharge_people") == [
        "pages read: 1",
        "82 people in Encharge, 68 with the tag 'managed-client-newsletter'",
    ]
    # Every page of contacts is counted as it arrives (one query per contact type, read concurrently).
    contacts = [counts(text) for text in recorder.texts("cw_contacts")[:-1]]
    assert grows(contacts)
    assert contacts[-1]["pages read"] == boxes.connectwise.request_count("GET", "company/contacts")
    assert contacts[-1]["contacts read"] >= 86
    # One report per accepted write request: each batch of people, each tag call.
    writes = [counts(text) for text in recorder.texts("encharge_audience")[:-1]]
    assert grows(writes)
    tag_posts = boxes.encharge.request_count("POST", "/tags")
    tag_deletes = boxes.encharge.request_count("DELETE", "/tags")
    assert writes[-1] == {"people upserted": 17, "tags added": tag_posts, "tags removed": tag_deletes}
    assert (tag_posts, tag_deletes) == (12 + 6, 3)  # each new person, then the 6 existing ones lacking it
    assert len(writes) == boxes.encharge.request_count("POST", "/people") + tag_posts + tag_deletes
    assert recorder.texts("encharge_audience")[-1] == "83 synced, 12 new, 3 removed"


def test_a_dry_run_reports_what_it_would_do(pipeline: Pipeline, recorder: Recorder) -> None:
    result = trigger_sync(pipeline.store, SYNC_KEY, instance=pipeline.instance, progress=recorder, dry_run=True)
    assert result.success
    assert recorder.texts("encharge_audience") == ["Dry run: would create 12, update 5, tag 6, untag 3; 3 skipped"]
    run = pipeline.instance.get_run_by_id(result.dagster_run_id)
    assert run is not None and run.tags["marketing/dry_run"] == "true"
