"""deploy/compose/compose.yaml as Compose v2 reads it (offline, `docker-compose config`): valid with
.env.example filled in, refused without the secrets, and the topology it promises: one image for every
service, `init` once before the rest, health checks, the read-only webserver without the Docker socket,
every project variable reaching the code server, the daemon and (through dagster.yaml) each run."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from marketing_pipeline import settings
from marketing_pipeline_tests.support.containers import COMPOSE, COMPOSE_DIR, DEBIAN_PACKAGES

ENV_EXAMPLE = (COMPOSE_DIR / ".env.example").read_text(encoding="utf-8")
REQUIRED = (
    "POSTGRES_PASSWORD",
    "CW_PUBLIC_KEY",
    "CW_PRIVATE_KEY",
    "CW_CLIENT_ID",
    "ENCHARGE_REST_API_KEY",
    "DOCKER_GID",
)
PIPELINE_SERVICES = ("init", "code", "webserver", "webserver-readonly", "daemon")


def compose_config(env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMPOSE), "--project-directory", str(COMPOSE_DIR), "--env-file", str(env_file), "config", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        # Only what the env file says: none of this process's variables may fill the file's gaps.
        env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/root")},
    )


def filled_env(tmp_path: Path, **overrides: str) -> Path:
    values = {name: f"value-of-{name.lower().replace('_', '-')}" for name in REQUIRED} | {"DOCKER_GID": "999"}
    values |= overrides
    text = ENV_EXAMPLE
    for name, value in values.items():
        text = re.sub(rf"^{name}=$", f"{name}={value}", text, flags=re.M)
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    result = compose_config(filled_env(tmp_path), "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_example_env_names_every_required_value_empty() -> None:
    for name in REQUIRED:
        assert re.search(rf"^{name}=$", ENV_EXAMPLE, flags=re.M), name


def test_compose_accepts_the_file_with_the_example_env_filled_in(tmp_path: Path) -> None:
    result = compose_config(filled_env(tmp_path), "--quiet")
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("missing", REQUIRED)
def test_compose_refuses_to_start_without_a_required_value(tmp_path: Path, missing: str) -> None:
    result = compose_config(filled_env(tmp_path, **{missing: ""}), "--quiet")
    assert result.returncode != 0
    assert f"required variable {missing} is missing a value" in result.stderr


def test_every_service_runs_the_one_image_and_init_goes_first(config: dict[str, Any]) -> None:
    services = config["services"]
    assert set(services) == {"postgres", *PIPELINE_SERVICES}
    assert {services[name]["image"] for name in PIPELINE_SERVICES} == {"marketing-pipeline:0.1.0"}
    assert services["init"]["command"] == ["marketing-pipeline", "init"]
    assert services["init"]["restart"] == "no"
    assert services["init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["init"]["build"]["dockerfile"] == "Dockerfile"
    assert Path(services["init"]["build"]["context"]) == COMPOSE_DIR.parents[1]
    assert services["code"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    for name in ("webserver", "webserver-readonly", "daemon"):
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["code"]["condition"] == "service_healthy"
    assert services["code"].get("command") is None  # the image's: the code server


def test_each_long_running_service_has_a_health_check(config: dict[str, Any]) -> None:
    services = config["services"]
    checks = {name: services[name]["healthcheck"]["test"] for name in services if name != "init"}
    assert "pg_isready" in " ".join(checks["postgres"])
    assert checks["code"] == ["CMD", "dagster", "api", "grpc-health-check", "-p", "4000"]
    assert "/server_info" in " ".join(checks["webserver"]) and checks["webserver"] == checks["webserver-readonly"]
    assert checks["daemon"] == ["CMD", "dagster-daemon", "liveness-check"]


def test_the_read_only_webserver_is_marketing_view(config: dict[str, Any]) -> None:
    services = config["services"]
    assert services["webserver-readonly"]["command"][-1] == "--read-only"
    assert "--read-only" not in services["webserver"]["command"]
    sockets = {
        name: [v for v in services[name].get("volumes", []) if v["target"] == "/var/run/docker.sock"]
        for name in PIPELINE_SERVICES
    }
    # The daemon starts runs' containers, the full webserver stops them; nothing else reaches the Docker API.
    assert {name for name, found in sockets.items() if found} == {"daemon", "webserver"}
    assert [p["host_ip"] for name in ("webserver", "webserver-readonly") for p in services[name]["ports"]] == [
        "127.0.0.1",
        "127.0.0.1",
    ]


def test_every_project_variable_reaches_the_code_server_and_the_daemon(config: dict[str, Any]) -> None:
    read = set(settings.VARIABLES) - {settings.DAGSTER_HOME}
    services = config["services"]
    launcher = yaml.safe_load((COMPOSE_DIR / "dagster.yaml").read_text(encoding="utf-8"))["run_launcher"]["config"]
    for name in ("code", "daemon"):
        assert read <= set(services[name]["environment"]), name
    # The daemon forwards them to each run's container: DockerRunLauncher fails on one that is not set.
    assert set(launcher["env_vars"]) <= set(services["daemon"]["environment"])
    assert services["daemon"]["environment"]["MARKETING_DOCKER_NETWORK"] == config["networks"]["default"]["name"]
    # The webservers get Dagster's storage, not the API keys.
    assert not set(settings.SECRETS) & set(services["webserver"]["environment"])
    assert services["code"]["environment"]["DAGSTER_CURRENT_IMAGE"] == services["code"]["image"]


def test_every_container_reads_the_one_instance_and_workspace(config: dict[str, Any]) -> None:
    for name in PIPELINE_SERVICES:
        mounts = {v["target"]: v for v in config["services"][name]["volumes"]}
        assert Path(mounts["/opt/dagster/home/dagster.yaml"]["source"]) == COMPOSE_DIR / "dagster.yaml"
        assert mounts["/opt/dagster/home/dagster.yaml"]["read_only"] is True
    workspace = yaml.safe_load((COMPOSE_DIR / "workspace.yaml").read_text(encoding="utf-8"))
    assert workspace == {
        "load_from": [{"grpc_server": {"host": "code", "port": 4000, "location_name": "marketing_pipeline"}}]
    }


def test_no_secret_is_written_in_the_compose_files() -> None:
    for path in (COMPOSE_DIR / "compose.yaml", COMPOSE_DIR / "dagster.yaml", COMPOSE_DIR / ".env.example"):
        text = path.read_text(encoding="utf-8")
        for name in (*settings.SECRETS, "POSTGRES_PASSWORD"):
            for match in re.finditer(rf"^[ \t]*#?[ \t]*{name}[ \t]*[:=][ \t]*(.*)$", text, flags=re.M):
                value = match.group(1).strip()
                assert value == "" or value.startswith("${"), (path.name, name, value)


def test_ci_installs_the_engine_the_compose_test_needs() -> None:
    ci = (COMPOSE_DIR.parents[1] / ".ci" / "run").read_text(encoding="utf-8")
    (listed,) = re.findall(r"^engine_packages=\((.*)\)$", ci, flags=re.M)
    assert set(listed.split()) == set(DEBIAN_PACKAGES)
