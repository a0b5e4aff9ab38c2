"""The Compose test is the suite's longest and mostly waits (image builds, containers starting): it goes
first, so one worker spends those minutes on it while the others get through the rest."""

from __future__ import annotations

import pytest

FIRST = "marketing_pipeline_tests/deploy/test_compose_podman.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(FIRST))
