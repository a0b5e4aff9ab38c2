"""One schedule per sync, built from its MarketingSync row when the code location loads.

The row is read again at every tick, so disabling a sync takes effect at once (the tick is skipped with
the reason); a changed cron takes effect when the code location is reloaded (the
`marketing_sync_schedule_state` sensor asks the webserver to: `reload_if_behind`). A row whose cron is
invalid gets no schedule and a warning, and never breaks loading the code location.

Every successful load writes the syncs' schedules (keys, names, crons, enabled: no secrets) to
`$DAGSTER_HOME/marketing_sync_schedules.json`; when the marketing database cannot be reached at load, the
schedules are built from that file, each saying so in its description, instead of vanishing from the UI.
"""

import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from marketing_pipeline import settings
from marketing_pipeline.defs.dagster_names import schedule_name
from marketing_pipeline.defs.jobs import marketing_sync_job
from marketing_pipeline.defs.pause_resume import paused_at_tick
from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.defs.sync_step import TRIGGER_TAG
from marketing_pipeline.errors import MarketingPipelineError, one_line
from marketing_pipeline.launch.webserver import DagsterWebserver
from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.repository import open_store
from marketing_pipeline.sync.schedule import cron_problem, validate_timezone
from marketing_pipeline.transport.redact import RedactingFilter, scrub

log = logging.getLogger("marketing_pipeline")
if not any(isinstance(f, RedactingFilter) for f in log.filters):
    log.addFilter(RedactingFilter())  # the code server's warnings are read by everyone who can see its logs


LAST_KNOWN_FILE = "marketing_sync_schedules.json"


@dataclass(frozen=True)
class ScheduledSync:
    """What a sync's schedule is built from (and all the last-known file keeps)."""

    key: str
    name: str
    schedule: str
    enabled: bool

    @classmethod
    def of(cls, sync: Sync) -> "ScheduledSync | None":
        if not sync.key or not sync.schedule:
            return None
        return cls(key=sync.key, name=sync.name, schedule=sync.schedule, enabled=sync.enabled)


def build_sync_schedule(sync: Sync | ScheduledSync, timezone: str, warning: str | None = None) -> dg.ScheduleDefinition:
    key, cron = sync.key, sync.schedule
    assert key and cron
    note = f" WARNING: {warning}" if warning else ""

    @dg.schedule(
        name=schedule_name(key),
        job=marketing_sync_job,
        cron_schedule=cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING if sync.enabled else dg.DefaultScheduleStatus.STOPPED,
        description=f"{sync.name}: runs at '{cron}' ({timezone}). The toggle is the sync's Pause/Resume: it "
        "and MarketingSync.enabled follow each other within a minute. The row is re-read at each tick: a "
        f"paused sync is skipped.{note}",
        tags={TRIGGER_TAG: "schedule"},
    )
    def _schedule(context: dg.ScheduleEvaluationContext, marketing_store: MarketingStoreResource):
        try:
            current = marketing_store.store().get_sync_by_key(key)
        except MarketingPipelineError as exc:
            return dg.SkipReason(scrub(str(exc)))
        if paused_at_tick(context, current):
            return dg.SkipReason(f"sync {current.name!r} is paused (MarketingSync.enabled = false)")
        if current.schedule != cron:
            return dg.SkipReason(
                f"sync {current.name!r} is now scheduled at {current.schedule!r}, not {cron!r}: the change waits "
                "for this code location to reload (the daemon's schedule-state sensor reloads it when "
                f"{settings.DAGSTER_WEBSERVER_URL} is set; else press Reload on the Deployment page), so "
                "reload the code location to apply the new schedule"
            )
        if current.problems:
            return dg.SkipReason("; ".join(current.problems))
        tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "now"
        return dg.RunRequest(partition_key=key, run_key=f"{key}:{tick}", tags={TRIGGER_TAG: "schedule"})

    return _schedule


def sync_schedules(
    syncs: list[Sync] | list[ScheduledSync], timezone: str, warning: str | None = None
) -> tuple[list[dg.ScheduleDefinition], list[str]]:
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
            schedules.append(build_sync_schedule(sync, timezone, warning))
        except Exception as exc:  # one row Dagster refuses must not cost every other sync its schedule
            warnings.append(f"sync {sync.name!r} has no schedule: {one_line(str(exc))}")
    return schedules, warnings


def last_known_path() -> Path:
    return settings.dagster_home() / LAST_KNOWN_FILE


def remember(syncs: list[Sync]) -> None:
    known = [asdict(s) for s in (ScheduledSync.of(sync) for sync in syncs) if s is not None]
    saved = {"savedAt": datetime.now(timezone.utc).isoformat(timespec="seconds"), "syncs": known}
    path = last_known_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Every process that loads the code location (each step's, too) writes it: a draft of its own each,
        # then an atomic replace, so a reader never sees half a file and writers never collide.
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(saved, indent=1))
        temporary.replace(path)
    except OSError as exc:
        log.warning("marketing-pipeline: could not keep the last known syncs in %s: %s", path, exc)


def last_known() -> tuple[list[ScheduledSync], str] | None:
    """The syncs of the last successful load and when they were saved, or None without a usable file."""
    try:
        saved = json.loads(last_known_path().read_text())
        return [ScheduledSync(**item) for item in saved["syncs"]], str(saved["savedAt"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_sync_schedules() -> list[dg.ScheduleDefinition]:
    """Never raises: an unreachable store means the last known schedules (or none yet), with a warning."""
    timezone = settings.schedule_timezone()
    try:
        validate_timezone(timezone)
        syncs = open_store().list_syncs()
    except Exception as exc:  # loading the code location must survive any store trouble
        reason = scrub(one_line(str(exc)))
        fallback = last_known()
        if fallback is None:
            log.warning("marketing-pipeline: no sync schedules loaded: %s", reason)
            return []
        known, saved_at = fallback
        warning = (
            f"the marketing database could not be read when the code location loaded ({reason}); this schedule "
            f"is the last known one (saved {saved_at}). Reload the code location once the database is back"
        )
        log.warning("marketing-pipeline: %s", warning)
        schedules, _ = sync_schedules(known, timezone, warning)
        return schedules
    remember(syncs)
    schedules, warnings = sync_schedules(syncs, timezone)
    for warning in warnings:
        log.warning("marketing-pipeline: %s", scrub(warning))
    return schedules


def schedules_behind(loaded: dict[str, str], syncs: list[Sync]) -> list[str]:
    """What the loaded schedules (name -> cron) do not yet show of the rows: new, changed or removed."""
    wanted = {
        schedule_name(sync.key): sync.schedule
        for sync in syncs
        if sync.key and sync.schedule and not cron_problem(sync.schedule)
    }
    behind = [
        f"{name} is now '{cron}'" if name in loaded else f"{name} is new ('{cron}')"
        for name, cron in sorted(wanted.items())
        if loaded.get(name) != cron
    ]
    behind += [f"{name} no longer has a sync" for name in sorted(set(loaded) - set(wanted))]
    return behind


def reload_if_behind(behind_here: list[str], syncs: list[Sync]) -> str | None:
    """Reload the code location on the webserver when what it shows differs from the rows. A note for the
    log, or None when there is nothing to say."""
    url = settings.value(settings.DAGSTER_WEBSERVER_URL)
    if not url:
        if not behind_here:
            return None
        return (
            "schedule change waiting for a code location reload: " + "; ".join(behind_here) + ". "
            f"Set {settings.DAGSTER_WEBSERVER_URL} for the daemon so it reloads the webserver itself, or press "
            "Reload on the Deployment page"
        )
    webserver = DagsterWebserver(url, timeout=30)
    behind = schedules_behind(webserver.schedule_crons(), syncs)
    if not behind:
        return None
    webserver.reload()
    return "reloaded the code location on the webserver: " + "; ".join(behind)


@dg.definitions
def schedules_from_the_store() -> dg.Definitions:
    return dg.Definitions(schedules=load_sync_schedules())
