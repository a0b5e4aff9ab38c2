"""The Dagster code location: every definition in `defs/`, loaded when Dagster asks, not at import.

Loading reads the MarketingSync rows for the schedules and survives a database it cannot reach.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path

import dagster as dg

from marketing_pipeline.defs.dagster_names import LOCATION

# pyproject.toml's [tool.dg.project], stated here too: an installed package (the container image) has no
# pyproject.toml beside it, where `dg.load_from_defs_folder` would read them.
DEFS_MODULE = "marketing_pipeline.defs"
CODE_LOCATION_NAME = LOCATION


@dg.definitions
def defs() -> dg.Definitions:
    tree = dg.ComponentTree(
        defs_module=importlib.import_module(DEFS_MODULE),
        project_root=Path(__file__).resolve().parents[1],
        code_location_name=CODE_LOCATION_NAME,
    )
    # What load_from_defs_folder does, quiet as it is about the loaders Dagster marks as in preview.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return tree.build_defs()
