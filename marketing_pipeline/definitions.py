"""The Dagster code location: assembles the assets, job, schedules, sensors and resources in `defs/`."""

from __future__ import annotations

import dagster as dg

from marketing_pipeline.defs.assets import (
    cw_companies,
    cw_contacts,
    encharge_audience,
    encharge_people,
    sync_plan,
)
from marketing_pipeline.defs.jobs import marketing_sync_job
from marketing_pipeline.defs.resources import build_resources
from marketing_pipeline.defs.schedules import load_sync_schedules
from marketing_pipeline.defs.sensors import (
    mark_canceled_sync_runs,
    mark_failed_sync_runs,
    marketing_sync_registry,
)

ASSETS = [cw_companies, cw_contacts, encharge_people, sync_plan, encharge_audience]
SENSORS = [marketing_sync_registry, mark_failed_sync_runs, mark_canceled_sync_runs]


def build_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=ASSETS,
        jobs=[marketing_sync_job],
        schedules=load_sync_schedules(),
        sensors=SENSORS,
        resources=build_resources(),
    )


defs = build_definitions()
