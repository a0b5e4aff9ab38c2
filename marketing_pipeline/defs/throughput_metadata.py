"""The run's traffic with each API, for its MarketingSyncRun details: gathered by the apply step from the
metadata the other steps of the same run recorded (they run in their own processes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from marketing_pipeline.runs.api_throughput import run_throughput

APPLY_STEP = "encharge_audience"
# Each step that talks to an API, and which.
API_OF_STEP = {
    "cw_companies": "connectwise",
    "cw_contacts": "connectwise",
    "encharge_people": "encharge",
    "sync_plan": "encharge",
    APPLY_STEP: "encharge",
}


def throughput_of_run(context: dg.AssetExecutionContext, own: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Requests, throttles and rates per API over the steps of this run (`own`: the calling step's)."""
    steps: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for step, api in API_OF_STEP.items():
        if step in own:
            steps[step] = (api, own[step])
            continue
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(step), asset_partitions=[context.partition_key]), limit=1
        ).records
        if records and records[0].run_id == context.run.run_id and records[0].asset_materialization is not None:
            metadata = records[0].asset_materialization.metadata
            steps[step] = (api, {name: getattr(value, "value", value) for name, value in metadata.items()})
    return run_throughput(steps)
