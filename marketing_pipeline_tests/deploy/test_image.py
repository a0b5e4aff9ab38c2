"""The container image's recipe: the Dockerfile passes hadolint at every level of finding, runs as a
numeric non-root user, installs the project as a package, serves the code location under its stable name
and checks its health over gRPC; no secret goes into it. (test_compose_podman.py builds and runs it.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from marketing_pipeline import definitions, settings

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
HADOLINT = Path(sys.executable).with_name("hadolint")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in joined.splitlines() if line.strip()]


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = hadolint(REPO / "Dockerfile")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_would_say_so(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM debian\nRUN apt-get update && apt-get install -y curl\nUSER root\n", encoding="utf-8")
    result = hadolint(careless)
    assert result.returncode != 0
    assert "DL3008" in result.stdout  # unpinned apt packages
    assert "DL3002" in result.stdout  # last USER root


def test_the_image_runs_as_a_numeric_non_root_user_after_installing_the_package() -> None:
    steps = instructions(DOCKERFILE)
    kinds = [kind for kind, _ in steps]
    assert kinds.count("FROM") == 1 and steps[0] == ("ARG", "BASE_IMAGE=python:3.11-slim-bookworm")
    assert ("FROM", "${BASE_IMAGE}") in steps
    users = [argument for kind, argument in steps if kind == "USER"]
    assert users == ["10001:10001"]
    user_at = kinds.index("USER")
    installs = [i for i, (kind, argument) in enumerate(steps) if kind == "RUN" and "pip install" in argument]
    assert installs and max(installs) < user_at  # nothing is installed as the user, nor after
    # The project as a package, not editable, with the deployments' extras.
    assert any(kind == "RUN" and "pip install --no-deps /tmp/build" in argument for kind, argument in steps)
    assert not any("-e " in argument or "--editable" in argument for kind, argument in steps if kind == "RUN")
    assert ("ARG", "EXTRAS=docker,k8s") in steps


def test_the_image_serves_the_code_location_under_its_stable_name_and_checks_its_health() -> None:
    steps = dict(instructions(DOCKERFILE))
    command = steps["CMD"]
    assert command.startswith('["dagster", "code-server", "start"')
    assert '"-m", "marketing_pipeline.definitions"' in command
    assert '"--location-name", "marketing_pipeline"' in command
    assert '"-h", "0.0.0.0", "-p", "4000"' in command
    assert "ENTRYPOINT" not in steps  # Compose and the Helm chart replace the command, nothing else
    assert steps["HEALTHCHECK"].endswith('CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]')
    # The location's name and defs module are pyproject.toml's, also where no pyproject.toml is installed.
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["dg"]["project"]
    assert definitions.CODE_LOCATION_NAME == project["code_location_name"] == "marketing_pipeline"
    assert project["defs_module"] == definitions.DEFS_MODULE


def test_no_secret_is_baked_into_the_image() -> None:
    steps = instructions(DOCKERFILE)
    written = " ".join(argument for kind, argument in steps if kind in {"ENV", "ARG", "LABEL"})
    for name in (*settings.SENSITIVE, "POSTGRES_PASSWORD", "DAGSTER_PG_PASSWORD"):
        assert name not in written
    # Only the package's sources go into the build context: no .env, no instance folder, no tests.
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ignored[ignored.index("*") :][:5] == [
        "*",
        "!pyproject.toml",
        "!README.md",
        "!marketing_pipeline/",
        "!dagster.yaml",
    ]


def test_every_link_in_the_package_points_at_a_file_the_image_copies() -> None:
    """A link whose target stays outside the build dangles in the image (the packaged instance settings)."""
    copied = {
        argument.split()[-1].removeprefix("/tmp/build/")
        for kind, argument in instructions(DOCKERFILE)
        if kind == "COPY" and argument.split()[-1].startswith("/tmp/build/")
    }
    links = [path for path in (REPO / "marketing_pipeline").rglob("*") if path.is_symlink()]
    assert links  # the packaged dagster.yaml
    for link in links:
        target = link.resolve().relative_to(REPO).as_posix()
        assert any(target == c or target.startswith(c.rstrip("/") + "/") for c in copied), (link, target)


def test_the_deployment_extras_pin_dagsters_matching_libraries() -> None:
    """Dagster is a range (1.13 from a lowest release on) and each library the matching range (1.13.x is
    released with 0.29.x): a library outside it would hold Dagster to another minor release."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dagster = next(r for r in project["dependencies"] if r.startswith("dagster>="))
    lowest = dagster.split(">=")[1].split(",")[0]
    major, minor, patch = (int(part) for part in lowest.split("."))
    assert dagster == f"dagster>={lowest},<{major}.{minor + 1}"
    library = f">=0.{minor + 16}.{patch},<0.{minor + 17}"
    assert f"dagster-postgres{library}" in project["dependencies"]
    assert project["optional-dependencies"]["docker"] == [f"dagster-docker{library}"]
    assert project["optional-dependencies"]["k8s"] == [f"dagster-k8s{library}"]
