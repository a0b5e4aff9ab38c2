"""Dagster's production topology as real processes on loopback: the code location in its own gRPC server
(`dagster code-server start`, location `marketing_pipeline`), a full and a read-only webserver and the daemon,
all on one PostgreSQL-backed instance and pointed at the code server by a workspace.yaml `grpc_server`
entry. Each can be restarted on its own port, as an operator restarts one service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import yaml

from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY, adopt_first_sync
from marketing_pipeline_tests.support.dagster_processes import free_port, wait_for, wait_until_serving

BIN = Path(sys.executable).parent
LOCATION = "marketing_pipeline"


@dataclass(frozen=True)
class Deployment:
    """An instance folder and a marketing store on PostgreSQL, set up by `marketing-pipeline init` as the
    README's production section does, and the environment every service of it runs with."""

    env: dict[str, str]
    home: Path
    store: SyncStore

    @contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        """The deployment's instance, opened in this process (its dagster.yaml reads DAGSTER_POSTGRES_URL)."""
        saved = os.environ.get("DAGSTER_POSTGRES_URL")
        os.environ["DAGSTER_POSTGRES_URL"] = self.env["DAGSTER_POSTGRES_URL"]
        try:
            with dg.DagsterInstance.from_config(str(self.home)) as instance:
                yield instance
        finally:
            if saved is None:
                os.environ.pop("DAGSTER_POSTGRES_URL", None)
            else:
                os.environ["DAGSTER_POSTGRES_URL"] = saved

    def runs(self) -> list[dg.DagsterRun]:
        """Every Dagster run of the first sync, newest first."""
        with self.instance() as instance:
            return list(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": SYNC_KEY})))


def initialised_deployment(dagster_db: str, marketing_db: str, boxes: Sandboxes, home: Path) -> Deployment:
    env = {
        **os.environ,
        **boxes.env(),
        "DAGSTER_HOME": str(home),
        "DAGSTER_POSTGRES_URL": dagster_db,
        "MARKETING_DATABASE_URL": marketing_db,
        # One write at a time: the apply phase lasts long enough to act in it.
        "ENCHARGE_BATCH_SIZE": "1",
        "ENCHARGE_CONCURRENCY": "1",
        "ENCHARGE_MAX_REQUESTS_PER_SECOND": "0",
    }
    init = subprocess.run(
        [str(BIN / "marketing-pipeline"), "init"], env=env, capture_output=True, text=True, timeout=180
    )
    assert init.returncode == 0, init.stderr
    adopt_first_sync(marketing_db)
    return Deployment(env=env, home=home, store=SyncStore(marketing_db))


def process_tree(pid: int) -> list[int]:
    """`pid` and every process descended from it (from /proc), parents first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        tree.append(current)
        queue += children.get(current, [])
    return tree


def workspace_yaml(path: Path, port: int) -> Path:
    """What the webservers and the daemon load: the code server, by host, port and location name."""
    path.write_text(
        yaml.safe_dump({"load_from": [{"grpc_server": {"host": "127.0.0.1", "port": port, "location_name": LOCATION}}]})
    )
    return path


def code_server_answers(port: int) -> bool:
    check = [str(BIN / "dagster"), "api", "grpc-health-check", "-h", "127.0.0.1", "-p", str(port)]
    return subprocess.run(check, capture_output=True, timeout=60).returncode == 0


def stop(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM to the service's own process, as `kill PID` or a service manager sends; SIGKILL to its group if
    it will not go."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@dataclass
class Topology:
    env: dict[str, str]
    folder: Path
    grpc_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    read_only_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def workspace(self) -> Path:
        return self.folder / "workspace.yaml"

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("a")
        process = subprocess.Popen(
            command,
            cwd=self.folder,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a stuck one can be killed whole
        )
        log.close()
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def start_code_server(self) -> None:
        process = self._start(
            "code-server",
            [
                str(BIN / "dagster"), "code-server", "start", "-m", "marketing_pipeline.definitions",
                "-h", "127.0.0.1", "-p", str(self.grpc_port), "--location-name", LOCATION,
            ],
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not code_server_answers(self.grpc_port):
            assert process.poll() is None, f"the code server ended: {self.log('code-server')[-3000:]}"
            assert time.monotonic() < deadline, "the code server did not start"
            time.sleep(0.5)

    def start_webserver(self, *, read_only: bool = False, wait: bool = True) -> None:
        name, port = ("webserver-read-only", self.read_only_port) if read_only else ("webserver", self.web_port)
        command = [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(self.workspace)]
        process = self._start(name, command + (["--read-only"] if read_only else []))
        if wait:
            wait_until_serving(port, process, name, 120)

    def start_daemon(self) -> None:
        self._start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)])

    def restart(self, name: str) -> None:
        stop(self.processes.pop(name))
        {
            "code-server": self.start_code_server,
            "webserver": self.start_webserver,
            "webserver-read-only": lambda: self.start_webserver(read_only=True),
            "daemon": self.start_daemon,
        }[name]()

    def stop_all(self) -> None:
        for name in ("daemon", "webserver", "webserver-read-only", "code-server"):
            if name in self.processes:
                stop(self.processes.pop(name))

    def wait_for_daemon(self, deployment: Deployment, seconds: float = 90) -> None:
        with deployment.instance() as instance:
            required = set(instance.get_required_daemon_types())
            wait_for(lambda: required <= set(instance.get_daemon_heartbeats()), "the daemon's heartbeats", seconds)


@contextmanager
def production_topology(env: dict[str, str], folder: Path, *, read_only: bool = True) -> Iterator[Topology]:
    """Code server first (the others load from it), then the webservers and the daemon."""
    folder.mkdir(parents=True, exist_ok=True)
    topology = Topology(env=env, folder=folder)
    workspace_yaml(topology.workspace, topology.grpc_port)
    with ExitStack() as stack:
        stack.callback(topology.stop_all)
        topology.start_code_server()
        topology.start_daemon()
        topology.start_webserver(wait=False)
        if read_only:
            topology.start_webserver(read_only=True, wait=False)
        for name, port in (("webserver", topology.web_port), ("webserver-read-only", topology.read_only_port)):
            if name in topology.processes:
                wait_until_serving(port, topology.processes[name], name, 120)
        yield topology
