"""The schedule-state sensor: at each tick it keeps every sync schedule's toggle (Pause/Resume) and
MarketingSync.enabled in agreement, whichever side changed (`defs/pause_resume.py`), and when the UI's
schedules are behind the rows (a new sync, a changed cron) reloads the code location on the webserver named
by `DAGSTER_WEBSERVER_URL`, so nobody has to press Reload (`defs/schedules.py`)."""

from __future__ import annotations

import json

import dagster as dg

from marketing_pipeline.defs.pause_resume import keep_in_step
from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.defs.schedules import reload_if_behind, schedules_behind
from marketing_pipeline.errors import MarketingPipelineError, one_line
from marketing_pipeline.transport.redact import scrub


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
    assert repository is not None
    agreed: dict[str, list[bool]] = json.loads(context.cursor) if context.cursor else {}
    loaded = {s.name: s for s in repository.schedule_defs}
    notes = keep_in_step(context, store, syncs, loaded, agreed)
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
