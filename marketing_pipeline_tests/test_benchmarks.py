"""The benchmarks are run by hand, not in CI: at least they must still start against today's code (a renamed
setting once broke their imports, unseen)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda path: path.name)
def test_each_benchmark_starts(script: Path) -> None:
    answer = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert answer.returncode == 0, answer.stderr[-2000:]
    assert "usage:" in answer.stdout
