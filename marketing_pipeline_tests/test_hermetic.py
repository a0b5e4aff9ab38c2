"""Tests are hermetic: whatever the demo or a user's own runs left in the repository (`./.dagster_home`, a
`.env`), and whatever the shell running pytest exports, no test reads or writes it. `conftest.py` gives each
test its own DAGSTER_HOME and clears the project's variables; CI proves the whole of it by running the
README's two commands in order in one clone (the demo first, then the tests: `.ci/run`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from marketing_pipeline import settings
from marketing_pipeline_tests.conftest import PROJECT_VARIABLES

REPO = Path(__file__).resolve().parents[1]


def test_each_test_has_its_own_dagster_home_outside_the_repository(own_dagster_home: Path) -> None:
    home = Path(os.environ[settings.DAGSTER_HOME]).resolve()
    assert home == own_dagster_home.resolve()
    assert REPO not in home.parents
    assert settings.dagster_home().resolve() != (REPO / settings.DEFAULTS.dagster_home).resolve()


def test_no_deployment_variable_reaches_a_test() -> None:
    assert [name for name in PROJECT_VARIABLES if name != settings.DAGSTER_HOME and name in os.environ] == []


def test_a_process_started_in_the_repository_uses_the_tests_instance(own_dagster_home: Path) -> None:
    code = "from marketing_pipeline import settings; print(settings.dagster_home().resolve())"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == str(own_dagster_home.resolve()), result.stderr
