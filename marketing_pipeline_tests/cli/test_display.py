"""How runs read on the cards."""

from __future__ import annotations

from datetime import datetime

from marketing_pipeline.cli.display import describe_run
from marketing_pipeline.store.models import SyncRun


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
