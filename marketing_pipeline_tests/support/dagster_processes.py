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

import requests

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
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"dagster-webserver did not start: {process.stderr.read() if process.stderr else ''}"
                )
            time.sleep(0.5)
        yield port
    finally:
        stop(process)


@contextmanager
def daemon_process(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(
        [str(DAEMON), "run", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        stop(process)
