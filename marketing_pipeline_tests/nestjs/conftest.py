"""The NestJS app's real Prisma client, installed from the npm registry (`prisma_app/install.sh`; .ci/run
runs it first). With `CI` set, a missing Node or a failed install fails these tests instead of skipping."""

from __future__ import annotations

import os
import subprocess

import pytest

from marketing_pipeline_tests.support.prisma import ensure_installed


@pytest.fixture(scope="session")
def prisma_client_installed() -> None:
    try:
        ensure_installed()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        message = f"the real Prisma client is not available: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
