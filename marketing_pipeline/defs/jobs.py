"""The sync job: every asset of the marketing_sync group, for one sync partition per run."""

from __future__ import annotations

import dagster as dg

from marketing_pipeline.defs.asset_common import GROUP
from marketing_pipeline.defs.sync_step import SYNC_RUN_TAGS

marketing_sync_job = dg.define_asset_job(
    "marketing_sync_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Run one sync end to end: read ConnectWise and Encharge, compute the plan, apply it.",
    # A crashed run's retry runs every step again (see sync_step.RETRY_STRATEGY_TAG).
    tags=SYNC_RUN_TAGS,
)
