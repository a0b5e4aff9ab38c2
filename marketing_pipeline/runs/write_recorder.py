"""Telling the write record about writes as they are made, at little cost: entries are kept briefly and
stored together (each upsert batch at once; tag calls, one a person, at most `FLUSH_EVERY` or one second
apart), and whatever is kept is stored when the apply step ends, however it ends. A store that refuses them
stops the writes (`EnchargeClient` sends nothing further): what is not recorded could not be counted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.sync.write_record import WriteEntry

FLUSH_EVERY = 100
FLUSH_SECONDS = 1.0


class WriteRecorder:
    def __init__(
        self,
        store: SyncStore,
        sync: Sync,
        run_id: str | None,
        *,
        flush_every: int = FLUSH_EVERY,
        flush_seconds: float = FLUSH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store, self.sync, self.run_id = store, sync, run_id
        self.flush_every, self.flush_seconds, self.clock = flush_every, flush_seconds, clock
        self._kept: list[WriteEntry] = []
        self._lock = threading.Lock()
        self._last = clock()
        self.recorded = 0

    def __call__(self, entries: list[WriteEntry]) -> None:
        with self._lock:
            self._kept.extend(entries)
            due = len(entries) > 1 or len(self._kept) >= self.flush_every
            if due or self.clock() - self._last >= self.flush_seconds:
                self._flush()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        kept, self._kept = self._kept, []
        self._last = self.clock()
        if kept:
            try:
                self.store.record_writes(self.sync, self.run_id, kept)
            except Exception:
                self._kept = kept + self._kept  # kept for the final flush, which raises if it fails too
                raise
            self.recorded += len(kept)
