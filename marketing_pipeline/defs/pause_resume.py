"""Pause/Resume's Dagster glue, all of it; the rule itself is pure, in `sync/pause.py`.

A sync is paused in two places: MarketingSync.enabled (the NestJS app, `syncs update --enable/--disable`, the
Settings job, which only ever write the row) and its schedule's toggle in the Dagster UI (Dagster's stored
schedule state, read and set through `launch/dagster_internals.py`). Here:
- whether a sync is paused now, by the row and the toggle: at a schedule tick, as a step starts, and between
  write batches (`paused_at_tick`, `sync_is_paused`, `pause_watch`);
- bringing toggle and row into agreement, whichever side changed (`keep_in_step`), which the schedule-state
  sensor (`defs/schedule_state.py`) does at each tick. A schedule started by it records its start time, so
  ticks missed while paused are not run afterwards.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from marketing_pipeline.defs.dagster_names import LOCATION, schedule_name
from marketing_pipeline.errors import MarketingPipelineError, one_line
from marketing_pipeline.launch.dagster_internals import Toggle, schedule_toggle, set_schedule_toggle
from marketing_pipeline.runs.pause_watch import PauseWatch
from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.sync.pause import Agreed, Observed, is_paused, winner


def schedule_started_at(instance: dg.DagsterInstance, sync_key: str | None) -> datetime | None:
    """When the sync's schedule was last started (the UI's Resume), if Dagster keeps it."""
    if not sync_key:
        return None
    try:
        return schedule_toggle(instance, schedule_name(sync_key)).started_at
    except Exception:  # schedule storage unreadable: the row alone decides (a pause then holds)
        return None


def sync_is_paused(instance: dg.DagsterInstance, sync: Sync) -> bool:
    """Whether the sync is paused, by the row as read and the UI toggle (`sync.pause.is_paused`)."""
    return not sync.enabled and is_paused(sync.enabled, sync.updated_at, schedule_started_at(instance, sync.key))


def paused_at_tick(context: dg.ScheduleEvaluationContext, sync: Sync) -> bool:
    """Whether the sync is paused at its schedule's tick: by its row, unless the schedule was started (its UI
    toggle) after the row was last written. That resume is the latest change, and the schedule-state sensor
    is about to write it to the row, so the tick runs."""
    try:
        instance = context.instance
    except Exception:  # no instance (a test context): the row decides
        return not sync.enabled
    return sync_is_paused(instance, sync)


def pause_watch(instance: dg.DagsterInstance, store: SyncStore, sync: Sync) -> PauseWatch:
    """The apply step's hook between write batches: re-reads `enabled` (one small query, at most once a
    second) and stops the writes once the sync is paused."""

    def paused_now() -> bool:
        state = store.enabled_state(sync.id)
        if state is None or state[0]:
            return False
        return is_paused(False, state[1], schedule_started_at(instance, sync.key))

    return PauseWatch(paused_now, reason="the sync was paused during the run")


def observe(sync: Sync, toggle: Toggle, default_running: bool) -> Observed:
    """Both sides as they are now: a toggle never set follows the schedule's default status in code."""
    return Observed(
        enabled=sync.enabled,
        updated_at=sync.updated_at,
        running=default_running if toggle.running is None else toggle.running,
        running_since=toggle.started_at,
        toggled=toggle.running is not None,
    )


def keep_in_step(
    context: dg.SensorEvaluationContext,
    store: SyncStore,
    syncs: list[Sync],
    loaded: dict[str, dg.ScheduleDefinition],
    agreed: dict[str, list[bool]],
) -> list[str]:
    """Bring each sync's toggle and row into agreement (`sync.pause.winner` says which side's value both
    take); `agreed` (the sensor's cursor: what both sides said when they last agreed) is updated in place.
    A note for the log for each change."""
    location = context.code_location_origin
    where = location.location_name if location is not None else LOCATION
    notes: list[str] = []
    for sync in syncs:
        definition = loaded.get(schedule_name(sync.key)) if sync.key else None
        if definition is None or not sync.key:
            continue
        toggle = schedule_toggle(context.instance, definition.name, where)
        observed = observe(sync, toggle, definition.default_status == dg.DefaultScheduleStatus.RUNNING)
        last = agreed.get(sync.key)
        side = winner(Agreed(*last) if last else None, observed)
        value = observed.running if side == "schedule" else observed.enabled
        try:
            if side == "schedule":
                store.update_sync(sync.key, enabled=value)
                notes.append(f"{sync.name}: {'resumed' if value else 'paused'} from the schedule toggle")
            elif side == "row":
                cron = str(definition.cron_schedule)
                set_schedule_toggle(context.instance, definition.name, cron, value, location_origin=location)
                notes.append(f"{sync.name}: schedule {'started' if value else 'stopped'} (MarketingSync.enabled)")
        except MarketingPipelineError as exc:
            notes.append(f"{sync.name}: could not {'resume' if value else 'pause'}: {one_line(str(exc))}")
            continue  # not recorded as agreed: tried again next tick
        agreed[sync.key] = [value, value]
    return notes
