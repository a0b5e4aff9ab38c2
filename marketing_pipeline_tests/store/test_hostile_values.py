"""What a store must survive: run details and messages PostgreSQL would refuse, lookups with characters no
name has, updates that must write all or nothing, rows whose cron the NestJS app wrote, and database URLs
that cannot work (each one plain line, never a password). On SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from marketing_pipeline.errors import InvalidSyncConfigError, StoreUnavailableError, UnknownRunError, UnknownSyncError
from marketing_pipeline.store.database import get_engine, safe_url
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.schema import marketing_sync
from marketing_pipeline.sync.domain import SyncCounts

KEY = "managed-client-newsletter"
HOSTILE = "nul\x00 lone\ud800 surrogate"


def test_run_details_and_messages_are_always_storable(store: SyncStore) -> None:
    sync = store.get_sync(KEY)
    run = store.start_run(sync, trigger="manual", dagster_run_id="d-hostile", details={"note": HOSTILE})
    details = {
        "contacts": [{"email": "a\x00b@example.com", "reason": HOSTILE, HOSTILE: 1, "score": float("nan")}],
        "summary": "x\x00y",
    }
    done = store.finish_run(
        run.id,
        status="completed",
        counts=SyncCounts(
            contacts_total=1,
            contacts_created=0,
            contacts_updated=0,
            contacts_removed=0,
            contacts_skipped=1,
            contacts_failed=0,
        ),
        details=details,
        error_message="dagster._core.definitions.events.Failure: first line\x00\n[SQL: UPDATE ...]",
    )
    row = done.details["contacts"][0]
    assert row["email"] == "a\ufffdb@example.com" and row["reason"] == "nul\ufffd lone\ufffd surrogate"
    assert row["score"] is None and done.details["summary"] == "x\ufffdy"
    assert done.error_message == "first line\ufffd"  # one plain line: no class name, no SQL


def test_run_records_never_keep_a_secret(store: SyncStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCHARGE_REST_API_KEY", "sekrit-token-value")
    sync = store.get_sync(KEY)
    run = store.start_run(sync, trigger="manual", dagster_run_id="d-secret")
    done = store.finish_run(
        run.id,
        status="failed",
        details={"contacts": [{"error": "header 'sekrit-token-value\\n' refused"}]},
        error_message="cannot use postgresql://u:db-sekrit@h/db: sekrit-token-value",
    )
    assert "sekrit" not in str(done.details) + str(done.error_message)
    assert store.fail_running_run("d-secret", "sekrit-token-value") is not None
    assert "sekrit" not in str(store.get_run("d-secret").error_message)


@pytest.mark.parametrize("ref", ["a\x00b", "x\ud800", "line\nbreak", "tab\there"])
def test_lookups_with_characters_no_name_has_find_nothing(store: SyncStore, ref: str) -> None:
    with pytest.raises(UnknownSyncError, match="no sync"):
        store.get_sync(ref)
    with pytest.raises(UnknownSyncError, match="no sync"):
        store.get_sync_by_key(ref)
    with pytest.raises(UnknownSyncError, match="no sync"):
        store.update_sync(ref, enabled=False)
    with pytest.raises(UnknownRunError, match="no run"):
        store.get_run(ref)


@pytest.mark.parametrize("cron", ["0 6 31 2 *", "0 6 1W * *", "0 6 31 4 *", "0 6 29 2 *"])
def test_an_update_is_all_or_nothing(store: SyncStore, cron: str) -> None:
    with pytest.raises(InvalidSyncConfigError, match="schedule: "):
        store.update_sync(KEY, schedule=cron, enabled=False)
    sync = store.get_sync(KEY)
    assert (sync.schedule, sync.enabled) == ("0 6 * * 1", True)


def _write_raw_schedule(store: SyncStore, cron: str, enabled: bool) -> None:
    """As the NestJS app may: no validation."""
    with get_engine(store.url).begin() as conn:
        first = marketing_sync.c.id == store.get_sync(KEY).id
        conn.execute(update(marketing_sync).where(first).values(schedule=cron, enabled=enabled))


@pytest.mark.parametrize("cron", ["0 6 31 2 *", "0 6 1W * *", "every day"])
def test_a_row_with_a_bad_cron_is_reported_not_fatal(store: SyncStore, cron: str) -> None:
    _write_raw_schedule(store, cron, enabled=False)
    [sync] = store.list_syncs()
    assert any("schedule:" in problem for problem in sync.problems)
    # Enabling it alone would leave it enabled and never running: refused, nothing written.
    with pytest.raises(InvalidSyncConfigError, match=r"cannot be enabled: schedule: .*give a new schedule"):
        store.update_sync(KEY, enabled=True)
    assert store.get_sync(KEY).enabled is False
    fixed = store.update_sync(KEY, schedule="0 6 * * 1", enabled=True)
    assert (fixed.schedule, fixed.enabled, fixed.problems) == ("0 6 * * 1", True, [])


@pytest.mark.parametrize(
    "url, message",
    [
        (
            "postgres://u:sekrit@127.0.0.1/db",
            "starts with postgres://, which SQLAlchemy does not accept: write postgresql://",
        ),
        ("postgresql://u:sekrit@127.0.0.1:abc/db", "has a port that is not a number from 1 to 65535"),
        ("postgresql://u:sekrit@127.0.0.1:99999/db", "has a port that is not a number from 1 to 65535"),
        ("not a url sekrit", "is not a database URL"),
        ("postgresql://u:sekrit@127.0.0.1/db\n?x=1", "contains a control character"),
        ("mysql+nodriver://u:sekrit@h/db", "no database driver"),
    ],
)
def test_database_urls_that_cannot_work(url: str, message: str) -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        get_engine(url)
    assert message in str(caught.value) and "sekrit" not in str(caught.value)


def test_a_password_given_as_a_url_parameter_is_never_shown(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none?password=sekrit-param&connect_timeout=1"
    assert safe_url(url) == "postgresql://nobody@127.0.0.1:1/none?password=***&connect_timeout=1"
    with pytest.raises(StoreUnavailableError) as caught:
        SyncStore(url).list_syncs()
    assert "sekrit" not in str(caught.value) and "password=***" in str(caught.value)
