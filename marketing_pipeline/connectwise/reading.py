"""The parts of a ConnectWise read: streams of queries, what the read keeps, when it began, and running its
queries concurrently so that one query's trouble stops the others and the read can start again."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from operator import attrgetter
from typing import Any, Generic, TypeVar

import requests
from pydantic import BaseModel

from marketing_pipeline.connectwise import queries as q
from marketing_pipeline.connectwise.responses import FieldCensus

# How far before the read's start a change still counts as "during the read": clocks of the machines behind
# the API, and the time between a query running and its answer's Date header, are well within it.
CHANGE_MARGIN = timedelta(minutes=5)

ModelT = TypeVar("ModelT", bound=BaseModel)
Task = Callable[[], Any]  # returns None, or more tasks to run


class Replan(Exception):
    """The read's plan (its streams or chunks) no longer holds: start the read again."""


class RequiredRefused(Exception):
    """The server refused a clause the read stands on (`id > N`, `lastUpdated >= [time]`)."""

    def __init__(self, narrowing: q.Narrowing, message: str) -> None:
        super().__init__(message)
        self.narrowing = narrowing


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


class ReadWindow:
    """When a read began, by the earlier of our clock and the server's (the Date header of its first
    answer): `since()` is the time from which an edit may have happened during the read."""

    def __init__(self) -> None:
        self.began = datetime.now(timezone.utc)
        self.server: datetime | None = None
        self._lock = threading.Lock()

    def saw(self, response: requests.Response) -> None:
        if self.server is not None:
            return
        try:
            stamp = parsedate_to_datetime(response.headers.get("Date", ""))
        except (TypeError, ValueError):
            return
        with self._lock:
            if self.server is None and stamp.tzinfo is not None:
                self.server = stamp

    def since(self) -> datetime:
        return min(self.began, self.server or self.began) - CHANGE_MARGIN


@dataclass
class Collected(Generic[ModelT]):
    """What a read keeps: each record once (by id), turned by `per_page` into what the caller wants (whose
    id `row_id` gives). Kept as soon as a page is trusted, so a query that reads on after a refusal loses
    nothing already read. Fresher versions of records (read again because they changed during the read,
    or by a second read) supersede what was kept of them."""

    census: FieldCensus
    per_page: Callable[[list[ModelT]], list[Any]] | None = None
    row_id: Callable[[Any], int] = attrgetter("id")
    seen: set[int] = field(default_factory=set)
    results: list[Any] = field(default_factory=list)
    window: ReadWindow = field(default_factory=ReadWindow)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, records: list[ModelT]) -> None:
        with self.lock:
            fresh = [r for r in records if r.id not in self.seen]  # type: ignore[attr-defined]
            self.seen.update(r.id for r in fresh)  # type: ignore[attr-defined]
        kept = self.per_page(fresh) if self.per_page else fresh
        with self.lock:
            self.results.extend(kept)

    def supersede(self, records: list[ModelT]) -> None:
        """These records as they are now replace what was kept of them (they may now be out, or newly in)."""
        if not records:
            return
        ids = {r.id for r in records}  # type: ignore[attr-defined]
        kept = self.per_page(records) if self.per_page else list(records)
        with self.lock:
            self.results = [row for row in self.results if self.row_id(row) not in ids] + kept
            self.seen |= ids

    def supersede_with(self, later: Collected[ModelT]) -> None:
        """A later read's records replace what this one kept of them; what only this one saw stays."""
        if not later.seen:
            return
        with self.lock:
            self.results = [row for row in self.results if self.row_id(row) not in later.seen] + later.results
            self.seen |= later.seen


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
