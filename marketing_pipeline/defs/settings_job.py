"""The seed's Settings modal in the Dagster UI: `marketing_sync_settings`, a job launched from the Launchpad
with typed config (sync; frequency Daily/Weekly/Monthly; day of week or of month; time HH:MM; enabled).

It checks the choices with the CLI's rule (`sync.schedule.cron_of_choice`) and writes the row through
the same repository call as `syncs update`. The Dagster run is the audit record: its config says who asked
for what, its metadata what the sync was before and after. The schedule-state sensor then brings the
schedule's toggle and cron in the UI into line with the row.
"""

from enum import Enum

import dagster as dg
from pydantic import Field

from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.errors import MarketingPipelineError, one_line
from marketing_pipeline.sync.schedule import DEFAULT_TIME, ChoiceNames, ScheduleChoiceError, cron_of_choice
from marketing_pipeline.transport.redact import scrub


class Frequency(Enum):
    Daily = "daily"
    Weekly = "weekly"
    Monthly = "monthly"


class SyncSettings(dg.Config):
    sync: str = Field(description="The sync: its key, id or name (see the partitions of marketing_sync_job)")
    frequency: Frequency = Field(description="Daily, Weekly or Monthly")
    day_of_week: str | None = Field(default=None, description="Weekly: mon, tue, ... sun")
    day_of_month: int | None = Field(default=None, description="Monthly: a day from 1 to 28")
    time: str = Field(default=DEFAULT_TIME, description="Time of day, HH:MM (in MARKETING_SCHEDULE_TIMEZONE)")
    enabled: bool = Field(default=True, description="Unticked: the sync is paused")


SETTINGS_NAMES = ChoiceNames(frequency="frequency", weekday="day_of_week", month_day="day_of_month", time="time")


def settings_cron(config: SyncSettings) -> str:
    """The cron of the Settings choice (`sync.schedule.cron_of_choice`), an error naming the config field."""
    return cron_of_choice(
        config.frequency.value,  # type: ignore[arg-type]
        weekday=config.day_of_week,
        month_day=config.day_of_month,
        at=config.time,
        names=SETTINGS_NAMES,
    )


@dg.op(
    name="apply_sync_settings",
    description="Validate the Settings choice like the CLI does, and write it to the sync's MarketingSync row.",
)
def apply_sync_settings(
    context: dg.OpExecutionContext, config: SyncSettings, marketing_store: MarketingStoreResource
) -> dg.Output[dict]:
    try:
        cron = settings_cron(config)
        store = marketing_store.store()
        before = store.get_sync(config.sync)
        after = store.update_sync(config.sync, schedule=cron, enabled=config.enabled)
    except ScheduleChoiceError as exc:
        raise dg.Failure(description=scrub(one_line(exc.detail))) from None
    except MarketingPipelineError as exc:
        raise dg.Failure(description=scrub(one_line(str(exc)))) from None
    change = {
        "sync": after.label,
        "schedule": f"{before.schedule} -> {after.schedule}",
        "enabled": f"{before.enabled} -> {after.enabled}",
    }
    context.log.info(f"{after.name}: schedule {change['schedule']}, enabled {change['enabled']}")
    return dg.Output(change, metadata={name: dg.MetadataValue.text(text) for name, text in change.items()})


@dg.job(
    name="marketing_sync_settings",
    description="The Settings modal: set a sync's frequency (Daily/Weekly/Monthly), day, time and enabled "
    "from the Launchpad. Each run is the record of who changed what, and when.",
    tags={"marketing/surface": "settings"},
)
def marketing_sync_settings() -> None:
    apply_sync_settings()
