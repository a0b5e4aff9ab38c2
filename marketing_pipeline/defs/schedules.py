"""One schedule per sync, built from its MarketingSync row when the code location loads.

The row is read again at every tick, so disabling a sync takes effect at once (the tick is skipped with
the reason); a changed cron takes effect when the code location is reloaded. A row whose cron is invalid
gets no schedule and a warning, and never breaks loading the code location.
"""

import logging
import re

import dagster as dg

from marketing_pipeline import settings
from marketing_pipeline.defs.jobs import marketing_sync_job
from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.defs.sync_step import TRIGGER_TAG
from marketing_pipeline.errors import MarketingPipelineError, one_line
from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.repository import open_store
from marketing_pipeline.sync.schedule import cron_problem, validate_timezone
from marketing_pipeline.transport.redact import RedactingFilter, scrub

log = logging.getLogger("marketing_pipeline")
if not any(isinstance(f, RedactingFilter) for f in log.filters):
    log.addFilter(RedactingFilter())  # the code server's warnings are read by everyone who can see its logs


def schedule_name(sync_key: str) -> str:
    return "marketing_sync_" + re.sub(r"[^A-Za-z0-9_]", "_", sync_key)


def build_sync_schedule(sync: Sync, timezone: str) -> dg.ScheduleDefinition:
    key, cron = sync.key, sync.schedule
    assert key and cron

    @dg.schedule(
        name=schedule_name(key),
        job=marketing_sync_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING if sync.enabled else dg.DefaultScheduleStatus.STOPPED,
        description=f"{sync.name}: runs at '{cron}' ({timezone}). The MarketingSync row is re-read at each "
        "tick: a disabled sync is skipped.",
        tags={TRIGGER_TAG: "schedule"},
    )
    def _schedule(context: dg.ScheduleEvaluationContext, marketing_store: MarketingStoreResource):
        try:
            current = marketing_store.store().get_sync_by_key(key)
        except MarketingPipelineError as exc:
            return dg.SkipReason(scrub(str(exc)))
        if not current.enabled:
            return dg.SkipReason(f"sync {current.name!r} is disabled (MarketingSync.enabled = false)")
        if current.schedule != cron:
            return dg.SkipReason(
                f"sync {current.name!r} is now scheduled at {current.schedule!r}, not {cron!r}: reload the "
                "code location to apply the new schedule"
            )
        if current.problems:
            return dg.SkipReason("; ".join(current.problems))
        tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "now"
        return dg.RunRequest(partition_key=key, run_key=f"{key}:{tick}", tags={TRIGGER_TAG: "schedule"})

    return _schedule


def sync_schedules(syncs: list[Sync], timezone: str) -> tuple[list[dg.ScheduleDefinition], list[str]]:
    """Schedules for the syncs that can have one, and a warning for each that cannot."""
    schedules: list[dg.ScheduleDefinition] = []
    warnings: list[str] = []
    for sync in syncs:
        if not sync.key or not sync.schedule:
            continue
        problem = cron_problem(sync.schedule)
        if problem:
            warnings.append(f"sync {sync.name!r} has no schedule: {problem}")
            continue
        try:
            schedules.append(build_sync_schedule(sync, timezone))
        except Exception as exc:  # one row Dagster refuses must not cost every other sync its schedule
            warnings.append(f"sync {sync.name!r} has no schedule: {one_line(str(exc))}")
    return schedules, warnings


def load_sync_schedules() -> list[dg.ScheduleDefinition]:
    """Never raises: a missing or unreachable store means no schedules yet, with a warning."""
    timezone = settings.schedule_timezone()
    try:
        validate_timezone(timezone)
        syncs = open_store().list_syncs()
    except Exception as exc:  # loading the code location must survive any store trouble
        log.warning("marketing-pipeline: no sync schedules loaded: %s", scrub(one_line(str(exc))))
        return []
    schedules, warnings = sync_schedules(syncs, timezone)
    for warning in warnings:
        log.warning("marketing-pipeline: %s", scrub(warning))
    return schedules


@dg.definitions
def schedules_from_the_store() -> dg.Definitions:
    return dg.Definitions(schedules=load_sync_schedules())
