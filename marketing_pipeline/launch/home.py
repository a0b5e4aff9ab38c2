"""The Dagster instance folder the CLI uses: `$DAGSTER_HOME`, given the repository's instance
configuration when it has none."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from marketing_pipeline import settings

# The repository's dagster.yaml: the one place the instance's settings are written down.
REPOSITORY_INSTANCE_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"
POSTGRES_STORAGE = {"postgres": {"postgres_url": {"env": settings.DAGSTER_POSTGRES_URL}}}


def instance_config(*, postgres: bool, repository_yaml: Path = REPOSITORY_INSTANCE_YAML) -> dict[str, Any]:
    """The repository's instance configuration, with PostgreSQL storage (read from DAGSTER_POSTGRES_URL
    when the instance starts) or Dagster's default SQLite storage in the instance folder."""
    config: dict[str, Any] = {}
    if repository_yaml.exists():
        config = yaml.safe_load(repository_yaml.read_text(encoding="utf-8")) or {}
    config.setdefault("telemetry", {"enabled": False})
    if postgres:
        config = {"storage": POSTGRES_STORAGE, **config}
    return config


def write_instance_config(home: Path, *, postgres: bool) -> Path:
    path = home / "dagster.yaml"
    storage = "PostgreSQL (DAGSTER_POSTGRES_URL)" if postgres else "SQLite in this folder"
    header = f"# Written by `marketing-pipeline init` from the repository's dagster.yaml; storage: {storage}.\n"
    path.write_text(header + yaml.safe_dump(instance_config(postgres=postgres), sort_keys=False), encoding="utf-8")
    return path


def ensure_dagster_home(*, postgres: bool | None = None) -> Path:
    """`$DAGSTER_HOME` (set to the default if unset), given a dagster.yaml if it has none: PostgreSQL
    storage when DAGSTER_POSTGRES_URL is set (unless `postgres` says otherwise), else SQLite."""
    home = settings.dagster_home().resolve()
    os.environ[settings.DAGSTER_HOME] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        use_postgres = settings.value(settings.DAGSTER_POSTGRES_URL) is not None if postgres is None else postgres
        write_instance_config(home, postgres=use_postgres)
    return home
