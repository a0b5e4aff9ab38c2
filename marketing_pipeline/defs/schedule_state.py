"""The UI's schedule toggle is the sync's Pause/Resume button: this sensor keeps each sync schedule's state
(Dagster's instigator state, what the UI toggle shows and sets through startSchedule / stopRunningSchedule)
and MarketingSync.enabled in agreement, whichever side changed (the rule is `sync/pause.py`).

It also notices a schedule the code location has not caught up with (a new sync, a changed cron) and, when
`DAGSTER_WEBSERVER_URL` names the webserver, reloads the code location there, so nobody has to press Reload.

State is written the way Dagster's own scheduler writes it (`Scheduler.start_schedule` / `stop_schedule`):
starting a schedule records the start time, so ticks missed while paused are not run afterwards, and ticks
already run are never run again (each tick's run_key is also unique per sync and tick time).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import dagster as dg
from dagster._core.definitions.selector import InstigatorSelector
from dagster._core.remote_origin import RemoteInstigatorOrigin, RemoteRepositoryOrigin
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    ScheduleInstigatorData,
)

from marketing_pipeline import settings
from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.defs.schedules import schedule_name
from marketing_pipeline.errors import MarketingPipelineError, one_line
from marketing_pipeline.launch.webserver import LOCATION, REPOSITORY, DagsterWebserver
from marketing_pipeline.store.models import Sync
from marketing_pipeline.sync.pause import Agreed, Observed, winner
from marketing_pipeline.sync.schedule import cron_problem
from marketing_pipeline.transport.redact import scrub


def selector_id(name: str, location: str = LOCATION, repository: str = REPOSITORY) -> str:
    return InstigatorSelector(location_name=location, repository_name=repository, name=name).get_id()


def stored_state(instance: dg.DagsterInstance, name: str, location: str = LOCATION) -> InstigatorState | None:
    # SQL schedule storage finds a state by its selector id (names only), so no origin is needed to read it.
    state = instance.get_instigator_state("", selector_id(name, location))
    return state if state is not None and state.instigator_type == InstigatorType.SCHEDULE else None


def is_running(state: InstigatorState | None, default_running: bool) -> bool:
    if state is None or state.status == InstigatorStatus.DECLARED_IN_CODE:
        return default_running
    return state.status == InstigatorStatus.RUNNING


def running_since(state: InstigatorState | None) -> datetime | None:
    """When the UI (or this sensor) last started the schedule, in naive UTC like MarketingSync.updatedAt."""
    data = state.instigator_data if state is not None and state.status == InstigatorStatus.RUNNING else None
    start = getattr(data, "start_timestamp", None)
    return datetime.fromtimestamp(start, timezone.utc).replace(tzinfo=None) if start else None


def set_running(
    instance: dg.DagsterInstance,
    origin: RemoteInstigatorOrigin,
    state: InstigatorState | None,
    cron: str,
    running: bool,
) -> None:
    """Start or stop the schedule exactly as the UI's startSchedule / stopRunningSchedule do."""
    status = InstigatorStatus.RUNNING if running else InstigatorStatus.STOPPED
    data = ScheduleInstigatorData(cron, datetime.now(timezone.utc).timestamp() if running else None)
    if state is None:
        instance.add_instigator_state(InstigatorState(origin, InstigatorType.SCHEDULE, status, data))
    else:
        instance.update_instigator_state(state.with_status(status).with_data(data))


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


@dg.sensor(
    name="marketing_sync_schedule_state",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps each sync schedule's toggle (Pause/Resume) and MarketingSync.enabled in agreement, "
    "whichever side changed last; reloads the code location on the webserver (DAGSTER_WEBSERVER_URL) when a "
    "schedule changed in the table.",
)
def marketing_sync_schedule_state(context: dg.SensorEvaluationContext, marketing_store: MarketingStoreResource):
    store = marketing_store.store()
    try:
        syncs = store.list_syncs()
    except MarketingPipelineError as exc:
        return dg.SkipReason(scrub(str(exc)))
    repository = context.repository_def
    location = context.code_location_origin
    assert repository is not None and location is not None
    agreed: dict[str, list[bool]] = json.loads(context.cursor) if context.cursor else {}
    loaded = {s.name: s for s in repository.schedule_defs}
    notes: list[str] = []
    for sync in syncs:
        name = schedule_name(sync.key) if sync.key else None
        definition = loaded.get(name) if name else None
        if definition is None or not sync.key:
            continue
        state = stored_state(context.instance, definition.name, location.location_name)
        default_running = definition.default_status == dg.DefaultScheduleStatus.RUNNING
        observed = Observed(
            enabled=sync.enabled,
            updated_at=sync.updated_at,
            running=is_running(state, default_running),
            running_since=running_since(state),
            toggled=state is not None and state.status != InstigatorStatus.DECLARED_IN_CODE,
        )
        last = agreed.get(sync.key)
        side = winner(Agreed(*last) if last else None, observed)
        value = observed.running if side == "schedule" else observed.enabled
        try:
            if side == "schedule":
                store.update_sync(sync.key, enabled=value)
                notes.append(f"{sync.name}: {'resumed' if value else 'paused'} from the schedule toggle")
            elif side == "row":
                origin = RemoteInstigatorOrigin(RemoteRepositoryOrigin(location, repository.name), definition.name)
                set_running(context.instance, origin, state, definition.cron_schedule, value)  # type: ignore[arg-type]
                notes.append(f"{sync.name}: schedule {'started' if value else 'stopped'} (MarketingSync.enabled)")
        except MarketingPipelineError as exc:
            notes.append(f"{sync.name}: could not {'resume' if value else 'pause'}: {one_line(str(exc))}")
            continue  # not recorded as agreed: tried again next tick
        agreed[sync.key] = [value, value]
    behind_here = schedules_behind({n: str(d.cron_schedule) for n, d in loaded.items()}, syncs)
    try:
        reload_note = reload_if_behind(behind_here, syncs)
    except MarketingPipelineError as exc:
        reload_note = f"could not reload the code location on the webserver: {one_line(str(exc))}"
    if reload_note:
        notes.append(reload_note)
    for note in notes:
        context.log.info(scrub(note))
    return dg.SensorResult(
        cursor=json.dumps(agreed, sort_keys=True),
        skip_reason=scrub("; ".join(notes)) if notes else "every schedule agrees with its MarketingSync row",
    )
