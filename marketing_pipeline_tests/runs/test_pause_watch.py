"""The watch the Encharge client asks before each write batch: cheap (one read a second at most), shared by
the write threads, and final once the sync is seen paused."""

from __future__ import annotations

from marketing_pipeline.runs.pause_watch import PauseWatch


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_pause_is_read_at_most_once_a_second_and_a_stop_is_final() -> None:
    clock, reads, paused = Clock(), [], [False]

    def read() -> bool:
        reads.append(clock.now)
        return paused[0]

    watch = PauseWatch(read, "the sync was paused during the run", every=1.0, clock=clock)
    assert [watch() for _ in range(500)] == [None] * 500
    assert reads == [100.0]  # 500 batches, one read
    paused[0] = True
    clock.now += 0.5
    assert watch() is None and len(reads) == 1  # not re-read within the second
    clock.now += 0.5
    assert watch() == "the sync was paused during the run" and len(reads) == 2
    paused[0] = False  # resumed at once: this run stays stopped (its plan is stale); the next run finishes
    clock.now += 5
    assert watch() == "the sync was paused during the run" and len(reads) == 2
