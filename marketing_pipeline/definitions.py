"""The Dagster code location: every definition in `defs/`, loaded when Dagster asks, not at import.

Loading reads the MarketingSync rows for the schedules and survives a database it cannot reach.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
