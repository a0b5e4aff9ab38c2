"""The repository's instance settings reach every install. The package carries `launch/dagster.yaml`, a link
to the repository's `dagster.yaml` (one source of truth), which a build copies in; an install without the
source tree (`pip install .`, as a container build does) writes the same dagster.yaml at `init`, and an
install that lacks the file fails loudly instead of writing an instance without them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from marketing_pipeline.errors import ConfigurationError
from marketing_pipeline.launch.home import INSTANCE_SETTINGS, ensure_dagster_home, instance_config

REPO = Path(__file__).resolve().parents[2]
SETTINGS_THAT_MATTER = ("run_coordinator", "concurrency", "run_monitoring", "run_retries", "retention")


def test_the_packaged_settings_are_the_repositorys_dagster_yaml() -> None:
    packaged = Path(str(INSTANCE_SETTINGS))
    assert packaged.is_symlink() and packaged.resolve() == (REPO / "dagster.yaml").resolve()
    config = instance_config(postgres=False)
    assert set(SETTINGS_THAT_MATTER) <= set(config)


def test_settings_missing_from_an_install_fail_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match=r"instance settings are missing from this install .*reinstall"):
        instance_config(postgres=False, source=tmp_path / "dagster.yaml")
    monkeypatch.setattr("marketing_pipeline.launch.home.INSTANCE_SETTINGS", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with pytest.raises(ConfigurationError):
        ensure_dagster_home(postgres=False)
    assert list((tmp_path / "home").iterdir()) == []  # no dagster.yaml without the settings


def _source_tree(destination: Path) -> Path:
    """What a container build copies: the project, without a virtual environment or caches."""
    for name in ("pyproject.toml", "README.md", "dagster.yaml"):
        shutil.copy2(REPO / name, destination / name)
    shutil.copytree(
        REPO / "marketing_pipeline",
        destination / "marketing_pipeline",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return destination


@pytest.mark.slow  # builds and installs the package (about 5 s)
def test_a_non_editable_install_keeps_every_instance_setting(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    source = _source_tree(tmp_path / "src")
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site),
         str(source)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    installed = site / "marketing_pipeline" / "launch" / "dagster.yaml"
    assert installed.is_file() and not installed.is_symlink()
    assert installed.read_bytes() == (REPO / "dagster.yaml").read_bytes()

    home = tmp_path / "home"
    env = {**os.environ, "PYTHONPATH": str(site), "DAGSTER_HOME": str(home)}
    code = (
        "import sys, marketing_pipeline\n"
        "print(marketing_pipeline.__file__, file=sys.stderr)\n"
        "from marketing_pipeline.cli import main\n"
        "main(['init'])\n"
    )
    init = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    assert init.stderr.splitlines()[0].startswith(str(site)), "the installed copy ran, not the source tree"
    written = yaml.safe_load((home / "dagster.yaml").read_text())
    assert {k: written[k] for k in SETTINGS_THAT_MATTER} == {
        k: yaml.safe_load((REPO / "dagster.yaml").read_text())[k] for k in SETTINGS_THAT_MATTER
    }
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_monitoring_enabled and instance.run_retries_enabled
