"""Whether a deployment's Dagster instance is the repository's: the settings of the repository's dagster.yaml,
compared key by key with a deployment's (the Compose file's own dagster.yaml, or what Dagster's Helm chart
renders from its values), and then what Dagster makes of each, read back through DagsterInstance.

Nothing here knows today's values: whatever the repository's dagster.yaml says is what a deployment must say.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

REPO = Path(__file__).resolve().parents[2]
# Where and how a deployment keeps its state and starts its runs: each deployment decides these itself.
DEPLOYMENT_KEYS = frozenset(
    {"storage", "run_storage", "event_log_storage", "schedule_storage", "run_launcher", "compute_logs", "scheduler"}
)
RUN_MONITORING = (
    "run_monitoring_enabled",
    "run_monitoring_start_timeout_seconds",
    "run_monitoring_cancel_timeout_seconds",
    "run_monitoring_max_runtime_seconds",
    "run_monitoring_max_resume_run_attempts",
    "run_monitoring_poll_interval_seconds",
    "cancellation_thread_poll_interval_seconds",
)
RUN_RETRIES = ("run_retries_enabled", "run_retries_max_retries", "run_retries_retry_on_asset_or_op_failure")
RAW_SETTINGS = ("python_logs", "sensors", "schedules", "backfills", "code_servers", "auto_materialize", "nux")


def repository_instance() -> dict[str, Any]:
    return yaml.safe_load((REPO / "dagster.yaml").read_text(encoding="utf-8")) or {}


def class_module(name: str) -> str:
    """A configurable class's module as Dagster loads it (`dagster.core.x` is read as `dagster._core.x`)."""
    return re.sub(r"^dagster\.([^_])", r"dagster._\1", name)


def _leaf_differences(path: str, expected: Any, actual: Any) -> list[str]:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} instead of {expected!r}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing (the repository's is {value!r})")
            else:
                problems += _leaf_differences(f"{path}.{key}", value, actual[key])
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {actual!r} instead of {expected!r}"]
        return [
            p
            for i, (e, a) in enumerate(zip(expected, actual, strict=True))
            for p in _leaf_differences(f"{path}[{i}]", e, a)
        ]
    if path.endswith(".module") and isinstance(expected, str) and isinstance(actual, str):
        expected, actual = class_module(expected), class_module(actual)
    if expected != actual or type(expected) is not type(actual):
        return [f"{path}: {actual!r} instead of {expected!r}"]
    return []


def effective_settings(config: dict[str, Any]) -> dict[str, Any]:
    """What Dagster does with these instance settings (the deployment's own keys left out), read back from a
    DagsterInstance built on them: defaults filled in, tick retention per instigator, the run queue."""
    # Dagster exports no public name for the kinds of instigator retention is kept per.
    from dagster._core.definitions.run_request import InstigatorType

    settings = {key: value for key, value in config.items() if key not in DEPLOYMENT_KEYS}
    with tempfile.TemporaryDirectory(prefix="mp-instance-") as home:
        (Path(home) / "dagster.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
        with dg.DagsterInstance.from_config(home) as instance:
            coordinator = type(instance.run_coordinator)
            return {
                "run_coordinator": f"{coordinator.__module__}.{coordinator.__qualname__}",
                "concurrency": instance.get_concurrency_config(),
                **{name: getattr(instance, name) for name in (*RUN_MONITORING, *RUN_RETRIES)},
                "free_slots_after_run_end_seconds": instance.run_monitoring_settings.get(
                    "free_slots_after_run_end_seconds"
                ),
                "tick_retention": {kind.value: instance.get_tick_retention_settings(kind) for kind in InstigatorType},
                "telemetry_enabled": instance.telemetry_enabled,
                **{key: instance.get_settings(key) for key in RAW_SETTINGS},
            }


def differences(repository: dict[str, Any], deployed: dict[str, Any], *, exact: bool) -> list[str]:
    """Each way the deployed instance departs from the repository's, as `path: what instead of what`.

    Every setting of the repository's file must be in the deployed one, equal. With `exact`, the deployed
    one may add only its own keys (storage, run launcher, ...); otherwise (a chart writes some settings
    whether asked or not) it may also add settings that change nothing Dagster does."""
    problems: list[str] = []
    for key, value in repository.items():
        if key not in deployed:
            problems.append(f"{key}: missing (the repository's is {value!r})")
        else:
            problems += _leaf_differences(key, value, deployed[key])
    if exact:
        for key in sorted(set(deployed) - set(repository) - DEPLOYMENT_KEYS):
            problems.append(f"{key}: set by the deployment only ({deployed[key]!r})")
        for key in sorted(set(deployed) & set(repository)):
            problems += [
                f"{p} (set by the deployment only)" for p in _extra_leaves(key, repository[key], deployed[key])
            ]
    if problems:
        return problems
    ours, theirs = effective_settings(repository), effective_settings(deployed)
    return [
        f"Dagster's {name}: {theirs[name]!r} instead of {ours[name]!r}" for name in ours if ours[name] != theirs[name]
    ]


def _extra_leaves(path: str, expected: Any, actual: Any) -> list[str]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        extra = [f"{path}.{key}" for key in actual if key not in expected]
        return extra + [
            p for key in expected if key in actual for p in _extra_leaves(f"{path}.{key}", expected[key], actual[key])
        ]
    return []
