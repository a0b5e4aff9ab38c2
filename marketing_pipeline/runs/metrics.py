"""Figures every step reports in its metadata: how long it worked and its peak memory."""

from __future__ import annotations

import time
from pathlib import Path


def peak_rss_mb() -> float | None:
    """VmHWM: the peak resident set of this process's address space (Linux; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def step_metrics(started: float) -> dict[str, float | None]:
    return {"seconds": round(time.perf_counter() - started, 3), "peak_rss_mb": peak_rss_mb()}
