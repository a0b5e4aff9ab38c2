"""Every use of Dagster that its public API does not offer, in one place, each with why.

Nothing else in the project imports `dagster._...`, nor reaches the instance's scheduler, daemon or storage
internals (its run methods that Dagster's own guides use, such as `add_run_tags` and `get_records_for_run`,
are called where they are needed). Each function takes and returns plain values, so a Dagster release that
changes what is behind it changes this module only; `marketing_pipeline_tests/launch/test_dagster_internals.py`
holds every one of them to what it must do, on the lowest and the newest Dagster release the project allows
(`.ci/run`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dagster as dg

# The schedule toggle's stored state: Dagster's public API can only evaluate schedules, not read or set the
# toggle (GraphQL can, but only through a webserver, which the daemon's sensor may not have).
from dagster._core.definitions.selector import InstigatorSelector
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteInstigatorOrigin, RemoteRepositoryOrigin
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    ScheduleInstigatorData,
)

# The run-event consumer's cursor keys and events: the daemon names them nowhere public.
from dagster._daemon.auto_run_reexecution.event_log_consumer import DAGSTER_EVENT_TYPES, _create_cursor_key

from marketing_pipeline.defs.dagster_names import LOCATION, REPOSITORY


@dataclass(frozen=True)
class Toggle:
    """What Dagster stores of a schedule's toggle (the UI's switch): None where it stores nothing."""

    running: bool | None  # None: never toggled, the schedule follows its default status in code
    started_at: datetime | None  # when it was last started (naive UTC, like MarketingSync.updatedAt)


def schedule_toggle(instance: dg.DagsterInstance, name: str, location: str = LOCATION) -> Toggle:
    """The stored toggle of schedule `name`. Read by selector id (names only): SQL schedule storage finds a
    state by it, so no code location needs loading to read it."""
    state = _stored(instance, name, location)
    if state is None or state.status == InstigatorStatus.DECLARED_IN_CODE:
        return Toggle(running=None, started_at=None)
    running = state.status == InstigatorStatus.RUNNING
    start = getattr(state.instigator_data, "start_timestamp", None) if running else None
    started_at = datetime.fromtimestamp(start, timezone.utc).replace(tzinfo=None) if start else None
    return Toggle(running=running, started_at=started_at)


def set_schedule_toggle(
    instance: dg.DagsterInstance, name: str, cron: str, running: bool, location_origin: Any = None
) -> None:
    """Start or stop a schedule as the UI's startSchedule / stopRunningSchedule do (Dagster's Scheduler writes
    the same): starting records the start time, so ticks missed while paused are not run afterwards.
    `location_origin` is a sensor's `context.code_location_origin` (else the location is named only)."""
    location = location_origin or RegisteredCodeLocationOrigin(LOCATION)
    state = _stored(instance, name, location.location_name)
    status = InstigatorStatus.RUNNING if running else InstigatorStatus.STOPPED
    data = ScheduleInstigatorData(cron, datetime.now(timezone.utc).timestamp() if running else None)
    if state is None:
        origin = RemoteInstigatorOrigin(RemoteRepositoryOrigin(location, REPOSITORY), name)
        instance.add_instigator_state(InstigatorState(origin, InstigatorType.SCHEDULE, status, data))
    else:
        instance.update_instigator_state(state.with_status(status).with_data(data))


def _stored(instance: dg.DagsterInstance, name: str, location: str) -> InstigatorState | None:
    selector = InstigatorSelector(location_name=location, repository_name=REPOSITORY, name=name).get_id()
    state = instance.get_instigator_state("", selector)
    return state if state is not None and state.instigator_type == InstigatorType.SCHEDULE else None


def last_ticks(instance: dg.DagsterInstance, names: set[str]) -> dict[str, float]:
    """When each of the named sensors or schedules that is not stopped last ticked (a timestamp, 0 if never):
    the daemon's ticks are recorded only in instigator state, which has no public reader."""
    ticks: dict[str, float] = {}
    for state in instance.all_instigator_state():
        if state.name not in names or state.status == InstigatorStatus.STOPPED:
            continue
        data = state.instigator_data
        ticks[state.name] = max(
            getattr(data, "last_tick_timestamp", None) or 0, getattr(data, "last_tick_start_timestamp", None) or 0
        )
    return ticks


def settle_run_event_cursors(instance: dg.DagsterInstance) -> list[str]:
    """Start the daemon's run-event consumer at the end of the event log, as it would itself, so that its
    first start does not warn "No cursor for event type ..."; only missing cursors are set, with the daemon's
    own keys. The cursors live in daemon cursor storage, which has no public accessor. The keys set."""
    keys = [_create_cursor_key(event_type) for event_type in DAGSTER_EVENT_TYPES]
    present = instance.daemon_cursor_storage.get_cursor_values(set(keys))
    missing = [key for key in keys if key not in present]
    if missing:
        top = str(instance.event_log_storage.get_maximum_record_id() or 0)
        instance.daemon_cursor_storage.set_cursor_values({key: top for key in missing})
    return missing


def run_storage_id(instance: dg.DagsterInstance) -> str | None:
    """The id Dagster keeps for its run storage (table `instance_info`), which tells two instances apart even
    with the same folder name; only the storage knows it. None for a storage that keeps none."""
    read = getattr(instance.run_storage, "get_run_storage_id", None)
    try:
        return str(read()) if callable(read) else None
    except Exception:  # a storage without the table: the instance cannot be told apart, only named
        return None


def listen_to_run(instance: dg.DagsterInstance, run_id: str, listener: Callable[[dg.EventLogEntry], None]) -> None:
    """Call `listener` with each event of a run this process executes, as it is stored: the only way to see
    a run's events as they happen without polling its storage."""
    instance.add_event_listener(run_id, listener)


def daemon_heartbeat_ages(instance: dg.DagsterInstance, now: float) -> tuple[Mapping[str, float], list[str]]:
    """Seconds since each daemon's last heartbeat, and the daemons this instance needs: Dagster shows both
    only in its UI."""
    heartbeats = instance.get_daemon_heartbeats()
    ages = {name: max(0.0, now - beat.timestamp) for name, beat in heartbeats.items()}
    return ages, list(instance.get_required_daemon_types())
