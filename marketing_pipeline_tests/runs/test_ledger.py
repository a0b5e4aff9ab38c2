"""The ledger's rule for a `running` record held by another run: released only when that run is known to
be over; refused while it may be alive, whoever asks (a new run, or an operator's `release`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from marketing_pipeline.errors import MarketingPipelineError, SyncAlreadyRunningError
from marketing_pipeline.runs.ledger import RunSeen, RunStart, SyncRunLedger
from marketing_pipeline.store.database import connect
from marketing_pipeline.store.repository import SyncStore, utcnow
from marketing_pipeline.store.schema import marketing_sync_run
from marketing_pipeline_tests.support import SYNC_KEY

HERE = "run-storage-here"


class Orchestrator:
    """What this orchestrator instance knows: run id -> (status, over)."""

    def __init__(self, runs: dict[str, tuple[str, bool]] | None = None) -> None:
        self.runs = runs or {}
        self.failed: list[str] = []

    def look_up(self, run_id: str) -> RunSeen:
        status, over = self.runs.get(run_id, (None, False))
        return RunSeen(status=status, over=over)

    def mark_failed(self, run_id: str, why: str) -> None:
        self.failed.append(run_id)
        self.runs[run_id] = ("FAILURE", True)

    def instance_id(self) -> str | None:
        return HERE

    def describe(self) -> str:
        return "this Dagster instance (DAGSTER_HOME=/here)"


@pytest.fixture
def sqlite_store(sqlite_url: str) -> SyncStore:
    from marketing_pipeline.store.seed import initialise_store

    initialise_store(sqlite_url)
    return SyncStore(sqlite_url)


def hold(store: SyncStore, dagster_run_id: str, **link: str) -> str:
    sync = store.get_sync(SYNC_KEY)
    worker = {"worker": {"pid": 1, "host": "elsewhere"}}
    return store.start_run(sync, trigger="manual", dagster_run_id=dagster_run_id, details=worker, **link).id


def open_next(store: SyncStore, tracker: Orchestrator) -> None:
    SyncRunLedger(store, tracker).open(store.get_sync(SYNC_KEY), RunStart("next", "manual", False, HERE, "/here"))


@pytest.mark.parametrize(
    ("known", "link", "released"),
    [
        ({"r": ("STARTED", False)}, {}, False),  # alive here
        ({"r": ("SUCCESS", True)}, {}, True),  # over here
        ({}, {"dagster_instance": "elsewhere", "dagster_home": "/srv/dagster"}, False),  # another instance's
        ({}, {}, False),  # an instance its record does not name (recorded before migration 0005)
        ({}, {"dagster_instance": HERE, "dagster_home": "/here"}, True),  # ours, deleted from our history
    ],
)
def test_a_running_record_is_released_only_when_its_run_is_known_to_be_over(
    sqlite_store: SyncStore, known: dict, link: dict, released: bool
) -> None:
    held = hold(sqlite_store, "r", **link)
    if released:
        open_next(sqlite_store, Orchestrator(known))
        assert sqlite_store.get_run(held).status == "failed"
    else:
        with pytest.raises(SyncAlreadyRunningError, match="already running in Dagster run r"):
            open_next(sqlite_store, Orchestrator(known))
        assert sqlite_store.get_run(held).status == "running"


def test_a_record_nobody_here_can_see_is_stale_after_six_hours(sqlite_store: SyncStore) -> None:
    held = hold(sqlite_store, "r", dagster_instance="elsewhere", dagster_home="/srv/dagster")
    with connect(sqlite_store.url) as conn:
        conn.execute(
            update(marketing_sync_run)
            .where(marketing_sync_run.c.id == held)
            .values(startedAt=utcnow() - timedelta(hours=5, minutes=59))
        )
    with pytest.raises(SyncAlreadyRunningError, match=r"DAGSTER_HOME=/srv/dagster.*DAGSTER_HOME=/here"):
        open_next(sqlite_store, Orchestrator())
    with connect(sqlite_store.url) as conn:
        conn.execute(
            update(marketing_sync_run)
            .where(marketing_sync_run.c.id == held)
            .values(startedAt=utcnow() - timedelta(hours=6, minutes=1))
        )
    open_next(sqlite_store, Orchestrator())
    assert sqlite_store.get_run(held).error_message == "abandoned: no result after 6 hours"


def test_release_refuses_while_the_run_is_alive_here_and_says_why_it_released(sqlite_store: SyncStore) -> None:
    alive = hold(sqlite_store, "r")
    ledger = SyncRunLedger(sqlite_store, Orchestrator({"r": ("STARTED", False)}))
    with pytest.raises(SyncAlreadyRunningError, match="Dagster run r is STARTED in this Dagster instance"):
        ledger.release(sqlite_store.get_run(alive), by="`runs release` by ops")
    ledger = SyncRunLedger(sqlite_store, Orchestrator())
    released = ledger.release(sqlite_store.get_run(alive), by="`runs release` by ops")
    assert released.status == "failed"
    assert released.error_message.startswith("released by hand (`runs release` by ops): Dagster run r (launched")
    assert sqlite_store.running_run(released.sync_id) is None
    with pytest.raises(MarketingPipelineError, match="is not running \\(failed\\)"):
        ledger.release(released, by="ops")
