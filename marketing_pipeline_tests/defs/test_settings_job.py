"""The Settings modal as a Dagster job: the CLI's rules, one-line failures, and the run as the record."""

from __future__ import annotations

from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner

from marketing_pipeline.cli import main
from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.defs.settings_job import marketing_sync_settings
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY


def launch(store: SyncStore, instance: dg.DagsterInstance, **settings: Any) -> dg.ExecuteInProcessResult:
    return marketing_sync_settings.execute_in_process(
        run_config={"ops": {"apply_sync_settings": {"config": {"sync": SYNC_KEY, **settings}}}},
        resources={"marketing_store": MarketingStoreResource(database_url=store.url)},
        instance=instance,
        raise_on_error=False,
    )


def failure(result: dg.ExecuteInProcessResult) -> str:
    data = result.failure_data_for_node("apply_sync_settings")
    assert data is not None and data.user_failure_data is not None
    return data.user_failure_data.description or ""


def test_a_settings_run_changes_the_row_and_records_the_change(store: SyncStore, instance: dg.DagsterInstance) -> None:
    result = launch(store, instance, frequency="Weekly", day_of_week="tue", time="07:15", enabled=False)
    assert result.success
    sync = store.get_sync(SYNC_KEY)
    assert (sync.schedule, sync.enabled) == ("15 7 * * 2", False)
    [output] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
    metadata = output.step_output_data.metadata
    assert metadata["schedule"].value == "0 6 * * 1 -> 15 7 * * 2"
    assert metadata["enabled"].value == "True -> False"
    assert launch(store, instance, frequency="Monthly", day_of_month=28, time="23:59").success
    assert store.get_sync(SYNC_KEY).schedule == "59 23 28 * *"
    assert launch(store, instance, frequency="Daily").success
    assert (store.get_sync(SYNC_KEY).schedule, store.get_sync(SYNC_KEY).enabled) == ("0 6 * * *", True)


@pytest.mark.parametrize(
    ("settings", "message", "cli"),
    [
        ({"frequency": "Monthly", "day_of_month": 31}, "day_of_month takes a day from 1 to 28", ["--monthly", "31"]),
        ({"frequency": "Weekly", "day_of_week": "someday"}, "day_of_week 'someday' is not a day", ["--weekly", "x"]),
        ({"frequency": "Weekly"}, "day_of_week is needed for a weekly schedule", None),
        (
            {"frequency": "Daily", "time": "25:00"},
            "time '25:00' is not a time like 06:00",
            ["--daily", "--at", "25:00"],
        ),
        ({"frequency": "Weekly", "day_of_week": "mon", "day_of_month": 3}, "day_of_month is not taken", None),
        ({"frequency": "Daily", "day_of_month": 3}, "is not taken by a daily schedule", None),
    ],
)
def test_a_bad_choice_fails_in_one_line_and_writes_nothing(
    store: SyncStore,
    instance: dg.DagsterInstance,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, Any],
    message: str,
    cli: list[str] | None,
) -> None:
    result = launch(store, instance, **settings)
    assert not result.success
    text = failure(result)
    assert message in text and "\n" not in text
    assert store.get_sync(SYNC_KEY).schedule == "0 6 * * 1"
    if cli:  # the same rule refuses the same choice on the CLI
        monkeypatch.setenv("MARKETING_DATABASE_URL", store.url)
        refused = CliRunner().invoke(main, ["syncs", "update", SYNC_KEY, *cli])
        assert refused.exit_code == 1 and refused.stderr.startswith("error: ")


def test_an_unknown_sync_and_a_bad_frequency(store: SyncStore, instance: dg.DagsterInstance) -> None:
    result = marketing_sync_settings.execute_in_process(
        run_config={"ops": {"apply_sync_settings": {"config": {"sync": "nope", "frequency": "Daily"}}}},
        resources={"marketing_store": MarketingStoreResource(database_url=store.url)},
        instance=instance,
        raise_on_error=False,
    )
    assert failure(result).startswith("no sync 'nope' (known syncs: managed-client-newsletter)")
    with pytest.raises(dg.DagsterInvalidConfigError):
        launch(store, instance, frequency="Hourly")
