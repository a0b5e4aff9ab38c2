"""Real `dagster-webserver` and `dagster-daemon` processes on loopback, for the tests that need the UI's
own GraphQL surface or the daemon's schedules and sensors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import requests

from marketing_pipeline.launch.partition_registry import register_sync_partitions
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline_tests.support import adopt_first_sync

REPO = Path(__file__).resolve().parents[2]
WEBSERVER = Path(sys.executable).with_name("dagster-webserver")
DAEMON = Path(sys.executable).with_name("dagster-daemon")
INSTANCE_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""


def dagster_home_with_store(
    tmp_path: Path, store_url: str, prepare: Callable[[SyncStore], object] | None = None
) -> tuple[Path, SyncStore]:
    """An instance folder (DefaultRunCoordinator, so runs start at once) and an initialised marketing store
    whose syncs' partitions are registered; `prepare` may change the rows first."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    initialise_store(store_url)
    adopt_first_sync(store_url)
    store = SyncStore(store_url)
    if prepare is not None:
        prepare(store)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        register_sync_partitions(instance, store)
    return home, store


def wait_until_serving(port: int, process: subprocess.Popen, what: str, seconds: float) -> None:
    """Until the webserver on `port` answers; fails at once if its process ended."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = process.stderr.read() if process.stderr and process.poll() is not None else ""
            raise AssertionError(f"{what} did not start: {output}")
        time.sleep(0.5)


def outside_the_repository(env: dict[str, str]) -> Path:
    """Where a test's Dagster processes start: beside their instance folder, never the repository (Dagster
    reads a `.env` and warns about a `dagster.yaml` in the folder it starts in; a user's may be there)."""
    return Path(env.get("DAGSTER_HOME") or os.environ["DAGSTER_HOME"]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(condition: Callable[[], object], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


@contextmanager
def webserver_process(env: dict[str, str], *extra: str) -> Iterator[int]:
    """A webserver over the repository's workspace.yaml; yields its port once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [str(WEBSERVER), "-h", "127.0.0.1", "-p", str(port), "-w", str(REPO / "workspace.yaml"), *extra],
        cwd=outside_the_repository(env),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(port, process, "dagster-webserver", 90)
        yield port
    finally:
        stop(process)


@contextmanager
def daemon_process(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [str(DAEMON), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=outside_the_repository(env),
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        stop(process)
