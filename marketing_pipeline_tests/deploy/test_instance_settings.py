"""Every deployment runs the repository's Dagster instance: the Compose file's dagster.yaml and the instance
Dagster's Helm chart renders from deploy/helm/values.yaml restate the repository's dagster.yaml setting for
setting (whatever it says today), adding only where state lives and how runs start."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from marketing_pipeline import settings
from marketing_pipeline_tests.support.helm_chart import ChartRefuses, instance_yaml
from marketing_pipeline_tests.support.instance_settings import differences, repository_instance

REPO = Path(__file__).resolve().parents[2]
COMPOSE_INSTANCE = yaml.safe_load((REPO / "deploy" / "compose" / "dagster.yaml").read_text(encoding="utf-8"))
HELM_VALUES = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text(encoding="utf-8"))


def leaves(config: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(config, dict):
        return [leaf for key, value in config.items() for leaf in leaves(value, (*path, key))]
    if isinstance(config, list):
        return [leaf for i, value in enumerate(config) for leaf in leaves(value, (*path, i))]
    return [path]


def changed(config: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    """A copy of `config` with the setting at `path` changed (to a value of another type, so it cannot match)."""
    copied = copy.deepcopy(config)
    target = copied
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = {"changed": True} if not isinstance(target[path[-1]], dict) else "changed"
    return copied


def test_the_compose_instance_restates_the_repository_dagster_yaml() -> None:
    assert differences(repository_instance(), COMPOSE_INSTANCE, exact=True) == []


def test_the_helm_chart_renders_the_repository_dagster_yaml() -> None:
    assert differences(repository_instance(), instance_yaml(HELM_VALUES), exact=False) == []


@pytest.mark.parametrize("deployment", ["compose", "helm"])
def test_a_setting_that_differs_from_the_repository_is_named(deployment: str) -> None:
    """The comparison is not vacuous: each setting of the repository's file, changed in turn in the
    deployment's instance, is reported by its path; a setting the deployment drops is reported missing."""
    repository = repository_instance()
    deployed = COMPOSE_INSTANCE if deployment == "compose" else instance_yaml(HELM_VALUES)
    paths = leaves(repository)
    assert len(paths) >= 10
    for path in paths:
        found = differences(repository, changed(deployed, path), exact=deployment == "compose")
        named = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        assert any(line.startswith(f"{named}: ") for line in found), (named, found)
    for key in repository:
        dropped = {k: v for k, v in deployed.items() if k != key}
        assert f"{key}: missing" in "\n".join(differences(repository, dropped, exact=True))


def test_a_setting_only_the_deployment_makes_is_named() -> None:
    extra = {**COMPOSE_INSTANCE, "run_monitoring": {**COMPOSE_INSTANCE["run_monitoring"], "max_runtime_seconds": 60}}
    assert differences(repository_instance(), extra, exact=True) == [
        "run_monitoring.max_runtime_seconds (set by the deployment only)"
    ]
    # The chart writes some settings whether asked or not: harmless only where Dagster does the same.
    helm = instance_yaml(HELM_VALUES)
    helm["run_monitoring"]["poll_interval_seconds"] = 30
    assert differences(repository_instance(), helm, exact=False) == [
        "Dagster's run_monitoring_poll_interval_seconds: 30 instead of 120"
    ]


def test_the_compose_instance_keeps_runs_in_postgres_and_starts_each_in_a_container() -> None:
    assert COMPOSE_INSTANCE["storage"] == {"postgres": {"postgres_url": {"env": settings.DAGSTER_POSTGRES_URL}}}
    launcher = COMPOSE_INSTANCE["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_docker", "DockerRunLauncher")
    assert launcher["config"]["network"] == {"env": "MARKETING_DOCKER_NETWORK"}
    # Every variable the project reads reaches the run's container (DAGSTER_HOME is the image's own).
    read = set(settings.VARIABLES)
    assert set(launcher["config"]["env_vars"]) == read - {settings.DAGSTER_HOME}
    assert all("=" not in name for name in launcher["config"]["env_vars"])  # forwarded, never written here


def test_the_helm_values_keep_the_queue_limits_where_the_chart_accepts_them() -> None:
    assert HELM_VALUES["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"] == {}
    both = copy.deepcopy(HELM_VALUES)
    both["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"] = {"maxConcurrentRuns": 4}
    with pytest.raises(ChartRefuses, match="maxConcurrentRuns"):
        instance_yaml(both)


def test_the_helm_instance_keeps_runs_in_the_external_postgres_with_a_job_per_run() -> None:
    instance = instance_yaml(HELM_VALUES)
    storage = instance["run_storage"]["config"]["postgres_db"]
    assert storage["password"] == {"env": "DAGSTER_PG_PASSWORD"}  # from the Secret, never in the values
    assert storage["hostname"] == HELM_VALUES["postgresql"]["postgresqlHost"]
    assert instance["event_log_storage"]["config"] == instance["schedule_storage"]["config"] == {"postgres_db": storage}
    launcher = instance["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    assert launcher["config"]["env_secrets"] == ["marketing-pipeline-env"]
    assert launcher["config"]["postgres_password_secret"] == "marketing-pipeline-postgresql"
    assert "postgresqlPassword" not in HELM_VALUES["postgresql"]
