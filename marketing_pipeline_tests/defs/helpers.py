"""Running the sync job in tests, in process, against the sandboxes."""

from __future__ import annotations

from typing import Any

import dagster as dg

from marketing_pipeline.defs.assets import SYNC_ASSETS as ASSETS
from marketing_pipeline_tests.conftest import SYNC_KEY


def run_sync(
    pipeline: dict[str, Any], *, key: str = SYNC_KEY, tags: dict[str, str] | None = None, **config: Any
) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {"encharge_audience": {"config": config}}} if config else None
    return dg.materialize(
        ASSETS,
        partition_key=key,
        instance=pipeline["instance"],
        resources=pipeline["resources"],
        run_config=run_config,
        tags=tags,
        raise_on_error=False,
    )


def audience_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    [materialization] = result.asset_materializations_for_node("encharge_audience")
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
