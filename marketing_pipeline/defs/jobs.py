"""The sync job: every asset of the marketing_sync group, for one sync partition per run."""

from __future__ import annotations

import dagster as dg

from marketing_pipeline.defs.assets import GROUP

marketing_sync_job = dg.define_asset_job(
    "marketing_sync_job",
    selection=dg.AssetSelection.groups(GROUP),
    description="Run one sync end to end: read ConnectWise and Encharge, compute the plan, apply it.",
)
