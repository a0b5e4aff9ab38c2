"""The Dagster instance folder the CLI uses: `$DAGSTER_HOME`, made ready for the demo when it is new."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from marketing_pipeline import settings

# The repository's dagster.yaml is the one instance configuration (production: PostgreSQL storage).
REPOSITORY_INSTANCE_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"


def demo_instance_config(repository_yaml: Path = REPOSITORY_INSTANCE_YAML) -> dict[str, Any]:
    """The repository's instance configuration with Dagster's default storage (SQLite in the folder)
    instead of PostgreSQL: the same queue, concurrency limits, monitoring and retention."""
    if not repository_yaml.exists():
        return {"telemetry": {"enabled": False}}
    config = yaml.safe_load(repository_yaml.read_text(encoding="utf-8")) or {}
    config.pop("storage", None)
    return config


def ensure_dagster_home() -> Path:
    """`$DAGSTER_HOME` (set to the default if unset), created with a demo dagster.yaml if it has none."""
    home = settings.dagster_home().resolve()
    os.environ[settings.DAGSTER_HOME] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        header = (
            "# Written by `marketing-pipeline`: the repository's dagster.yaml with Dagster's embedded SQLite\n"
            "# storage in this folder instead of PostgreSQL.\n"
        )
        config.write_text(header + yaml.safe_dump(demo_instance_config(), sort_keys=False), encoding="utf-8")
    return home
