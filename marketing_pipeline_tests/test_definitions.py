"""The code location: it loads (also with the marketing database unreachable), `dg` accepts it, and every
asset is what it was designed to be (a snapshot of the asset graph, to be changed on purpose only)."""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from marketing_pipeline.definitions import defs

REPO = Path(__file__).resolve().parents[1]
DG = Path(sys.executable).with_name("dg")

# key: (upstream keys, kinds, checks)
ASSET_GRAPH = {
    "cw_companies": ((), ("connectwise", "pandas"), ()),
    "cw_contacts": (("cw_companies",), ("connectwise", "pandas"), ()),
    "encharge_people": ((), ("encharge", "pandas"), ()),
    "sync_plan": (("cw_contacts", "encharge_people"), ("encharge", "pandas"), ("source_not_collapsed",)),
    "encharge_audience": (("sync_plan",), ("encharge",), ("no_failed_contacts",)),
}
SENSORS = {
    "marketing_sync_registry",
    "marketing_sync_schedule_state",
    "mark_failed_sync_runs",
    "mark_canceled_sync_runs",
    "marketing_sync_alerts_on_success",
    "marketing_sync_alerts_on_failure",
}


# Each test holds an instance: loading the defs folder resolves Dagster's current instance.
def test_every_asset_spec_is_as_designed(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, instance: dg.DagsterInstance
) -> None:
    monkeypatch.setenv("MARKETING_DATABASE_URL", sqlite_url)
    repository = defs().get_repository_def()
    graph = repository.asset_graph
    found = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name == "marketing_sync"
        assert node.partitions_def == dg.DynamicPartitionsDefinition(name="marketing_sync")
        assert node.description, key
        found[key.to_user_string()] = (
            tuple(sorted(k.to_user_string() for k in node.parent_keys)),
            tuple(sorted(node.kinds)),
            tuple(sorted(c.name for c in node.check_keys)),
        )
    assert found == ASSET_GRAPH
    assert {job.name for job in repository.get_all_jobs()} >= {"marketing_sync_job"}
    assert {sensor.name for sensor in repository.sensor_defs} == SENSORS
    assert set(defs().resources or {}) == {"connectwise", "encharge", "marketing_store", "marketing_alerts"}


def test_the_code_location_loads_with_the_store_unreachable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, instance: dg.DagsterInstance
) -> None:
    monkeypatch.setenv("MARKETING_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/marketing")
    with caplog.at_level(logging.WARNING, logger="marketing_pipeline"):
        repository = defs().get_repository_def()
    assert repository.schedule_defs == []
    assert {sensor.name for sensor in repository.sensor_defs} == SENSORS
    assert "no sync schedules loaded: cannot use the marketing database" in caplog.text


def test_importing_the_code_location_reads_no_store() -> None:
    # In a fresh interpreter, so that nothing is imported yet: reading the syncs at import would raise.
    code = (
        "from marketing_pipeline.store.repository import SyncStore\n"
        "def refuse(*_, **__): raise AssertionError('the store was read at import')\n"
        "SyncStore.list_syncs = refuse\n"
        "import marketing_pipeline.definitions as d\n"
        "print(type(d.defs).__name__)\n"
        "d.defs()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.stdout.splitlines()[:1] == ["LazyDefinitions"], result.stderr
    # Loading (not importing) does read it, and survives what it finds: here, the refusal.
    assert result.returncode == 0, result.stderr
    assert "no sync schedules loaded: the store was read at import" in result.stderr


def test_dg_check_defs_accepts_the_project(tmp_path: Path) -> None:
    env = {"PATH": str(DG.parent), "HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    result = subprocess.run([str(DG), "check", "defs"], cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_the_code_location_never_imports_the_sandbox(tmp_path: Path, sqlite_url: str) -> None:
    """The production code location (every definition loaded, as a code server does) imports nothing from
    marketing_pipeline.sandbox: the fake APIs are for the demo and the tests only."""
    script = (
        "import sys\n"
        "from marketing_pipeline.definitions import defs\n"
        "repository = defs().get_repository_def()\n"
        "repository.load_all_definitions()\n"
        "assert repository.has_job('marketing_sync_job')\n"
        "print(sorted(name for name in sys.modules if name.startswith('marketing_pipeline.')))\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "MARKETING_DATABASE_URL": sqlite_url}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert "marketing_pipeline.defs.assets" in loaded  # the definitions were really loaded
    assert [name for name in loaded if name.startswith("marketing_pipeline.sandbox")] == []
