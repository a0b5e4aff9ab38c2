"""How runs read on the cards."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from marketing_pipeline.cli.display import card, describe_run, runs_table, when
from marketing_pipeline.store.database import dispose_engine, get_engine
from marketing_pipeline.store.models import SyncRun
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.schema import marketing_sync_run
from marketing_pipeline.store.seed import initialise_store


def test_describe_run_for_the_card() -> None:
    run = SyncRun(
        id="r",
        sync_id="s",
        status="failed",
        triggered_by="manual",
        started_at=datetime(2026, 1, 1),
        completed_at=None,
        contacts_total=0,
        contacts_created=0,
        contacts_updated=0,
        contacts_removed=0,
        contacts_skipped=0,
        contacts_failed=0,
        error_message="Encharge rejected the API key",
        details=None,
        dagster_run_id=None,
        dry_run=False,
    )
    assert describe_run(run) == "Failed: Encharge rejected the API key"
    assert describe_run(run.model_copy(update={"status": "completed", "contacts_total": 3})) == (
        "3 synced, 0 new, 0 removed"
    )


def test_every_time_on_a_card_is_in_the_schedules_zone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MARKETING_SCHEDULE_TIMEZONE", raising=False)
    store = SyncStore(f"sqlite:///{tmp_path / 'm.db'}")
    initialise_store(store.url)
    sync = store.get_sync("managed-client-newsletter")
    run = store.start_run(sync, trigger="manual")
    # A run at 05:30 UTC on a summer Monday is 06:30 in London, the zone the schedule is read in.
    with get_engine(store.url).begin() as conn:
        conn.execute(update(marketing_sync_run).values(startedAt=datetime(2026, 6, 1, 5, 30)))
    store.finish_run(run.id, status="completed")
    text = card(store, store.get_sync(sync.id))
    assert "Last run: 2026-06-01 06:30 BST" in text
    next_run = text.split("Next run: ")[1]
    assert next_run.endswith(("BST", "GMT")) and "06:00" in next_run  # Mondays at 06:00 London time
    assert when(datetime(2026, 1, 5, 6, 0)) == "2026-01-05 06:00 GMT"
    monkeypatch.setenv("MARKETING_SCHEDULE_TIMEZONE", "America/New_York")
    text = card(store, store.get_sync(sync.id))
    assert "Last run: 2026-06-01 01:30 EDT" in text and "Schedule: 0 6 * * 1 (America/New_York)" in text
    assert "06:00 E" in text.split("Next run: ")[1]
    assert "2026-06-01 01:30 EDT" in runs_table(store.list_runs(sync))
    dispose_engine(store.url)


def test_tables_are_left_aligned_columns_two_spaces_apart_under_dashed_headers() -> None:
    from marketing_pipeline.cli.display import table

    assert table(("A", "Bee"), [(1, None), ("long value", "007")]) == (
        "A           Bee\n----------  ---\n1\nlong value  007"
    )
