"""The parts of a ConnectWise read: streams of queries, what the read keeps, and running its queries
concurrently so that one query's trouble stops the others and the read can start again."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from marketing_pipeline.connectwise import queries as q
from marketing_pipeline.connectwise.responses import FieldCensus

ModelT = TypeVar("ModelT", bound=BaseModel)
Task = Callable[[], Any]  # returns None, or more tasks to run


class Replan(Exception):
    """The read's plan (its streams or chunks) no longer holds: start the read again."""


class FieldsLeftOut(Exception):
    """A page lacks fields that `fields` asked for."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(", ".join(missing))
        self.missing = missing


@dataclass(frozen=True)
class Stream:
    """Queries that differ only in their chunk of company ids; `child` narrows them to one type."""

    path: str
    model: type[BaseModel]
    fixed: tuple[q.Narrowing, ...]
    child: q.Narrowing | None = None
    type_id: int | None = None
    several: bool = False  # other streams run beside it: losing `childConditions` means replanning the read


@dataclass
class Collected(Generic[ModelT]):
    """What a read keeps: each record once (by id), turned by `per_page` into what the caller wants. Kept
    as soon as a page is trusted, so a query that starts again loses nothing already read."""

    census: FieldCensus
    per_page: Callable[[list[ModelT]], list[Any]] | None = None
    seen: set[int] = field(default_factory=set)
    results: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, records: list[ModelT]) -> None:
        with self.lock:
            fresh = [r for r in records if r.id not in self.seen]  # type: ignore[attr-defined]
            self.seen.update(r.id for r in fresh)  # type: ignore[attr-defined]
        kept = self.per_page(fresh) if self.per_page else fresh
        with self.lock:
            self.results.extend(kept)


def run_tasks(first: Sequence[Task], *, workers: int, abort: threading.Event) -> None:
    """Run tasks in a pool; a task may return follow-up tasks. The first failure sets `abort` (queries stop
    at their next page) and is raised once all have stopped; a real error wins over a `Replan`."""
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: set[Future[Any]] = {pool.submit(task) for task in first}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    follow_ups = future.result()
                except BaseException as exc:
                    abort.set()
                    if failure is None or isinstance(failure, Replan):
                        failure = exc
                    continue
                if not abort.is_set():
                    pending |= {pool.submit(task) for task in follow_ups or ()}
    if failure is not None:
        raise failure
