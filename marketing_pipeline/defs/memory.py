"""Peak memory of the current process, for asset metadata (Linux; None elsewhere)."""

from __future__ import annotations

from pathlib import Path


def peak_rss_mb() -> float | None:
    """VmHWM: the peak resident set of this process's address space (not inherited across exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None
