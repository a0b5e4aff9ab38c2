"""The rule that brings the schedule toggle and MarketingSync.enabled back into agreement."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from marketing_pipeline.sync.pause import Agreed, Observed, enabled_after, winner

T = datetime(2026, 11, 24, 9, 0)
LATER = T + timedelta(minutes=1)


def seen(enabled: bool, running: bool, *, since: datetime | None = None, toggled: bool = True) -> Observed:
    return Observed(enabled=enabled, updated_at=T, running=running, running_since=since, toggled=toggled)


@pytest.mark.parametrize(
    ("last", "now", "expected"),
    [
        (Agreed(True, True), seen(True, True), "none"),
        (Agreed(True, True), seen(True, False), "schedule"),  # paused with the UI toggle
        (Agreed(False, False), seen(False, True, since=LATER), "schedule"),  # resumed with the UI toggle
        (Agreed(True, True), seen(False, True), "row"),  # paused by the CLI or the NestJS app
        (Agreed(False, False), seen(True, False), "row"),  # resumed by the CLI or the NestJS app
        # both changed (a previous reconciliation could not be written): the later change wins
        (Agreed(False, True), seen(True, False), "row"),
        (Agreed(True, False), seen(False, True, since=LATER), "schedule"),
        (Agreed(True, False), seen(False, True, since=T - timedelta(minutes=1)), "row"),
        # first sight: a schedule at its default follows the row; a toggled one was set on purpose
        (None, seen(True, False, toggled=False), "row"),
        (None, seen(True, False), "schedule"),
        (None, seen(False, True, since=LATER), "schedule"),
        (None, seen(False, True, since=T - timedelta(minutes=1)), "row"),
    ],
)
def test_the_side_that_changed_last_wins(last: Agreed | None, now: Observed, expected: str) -> None:
    assert winner(last, now) == expected
    assert enabled_after(last, now) == (now.running if expected == "schedule" else now.enabled)


def test_a_sync_is_paused_by_its_row_unless_the_ui_resumed_it_since() -> None:
    from marketing_pipeline.sync.pause import is_paused

    assert not is_paused(True, T, None)
    assert not is_paused(True, T, T - timedelta(days=1))
    assert is_paused(False, T, None)
    assert is_paused(False, T, T - timedelta(minutes=1))  # started before the pause: the pause is the news
    assert not is_paused(False, T, LATER)  # started (UI Resume) after the row was paused: resumed
