"""The names Dagster knows the project's things by, in one place: every process that addresses them (the
code location, the daemon's sensors, the CLI, the webserver's GraphQL) takes them from here."""

import re

# The code location (pyproject.toml's [tool.dg.project] code_location_name: schedule and sensor state is keyed
# by it, so it stays stable) and the repository Dagster makes of a Definitions object.
LOCATION = "marketing_pipeline"
REPOSITORY = "__repository__"


def schedule_name(sync_key: str) -> str:
    """A sync's schedule: one per sync, named after its stable key."""
    return "marketing_sync_" + re.sub(r"[^A-Za-z0-9_]", "_", sync_key)
