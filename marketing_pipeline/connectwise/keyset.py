"""One ConnectWise query, paged by key, that reads on whenever the server does not honour part of it; and
what the server has been seen not to honour, kept for the rest of the run.

Each page is asked for past the last id kept (`orderBy=id asc` and `id > N`), never by page number, so a
record that leaves the query before the current page shifts nothing after it. A narrowing the server refuses
(HTTP 400 naming it), `childConditions` it ignores, or `fields` it does not honour are left out from then on
(each said once, in the operator's words); a change of plan the read cannot absorb raises `Replan`.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, ValidationError

from marketing_pipeline.connectwise import conditions as cond
from marketing_pipeline.connectwise import queries as q
from marketing_pipeline.connectwise.chunking import ids_per_chunk
from marketing_pipeline.connectwise.reading import Collected, FieldsLeftOut, Replan, RequiredRefused, Stream, Task
from marketing_pipeline.connectwise.responses import SERVICE, blank_company_error, has_company, has_next_page, lacking
from marketing_pipeline.errors import ApiError
from marketing_pipeline.sync.records import Contact, field_names

ModelT = TypeVar("ModelT", bound=BaseModel)


class KeysetReader:
    """Queries of one client, sharing what the server honours. `get` sends a GET (path, params) to the REST
    base, `json` reads an answer's body, `note` tells the operator, `base_url` gives the REST base."""

    def __init__(
        self,
        *,
        get: Callable[[str, Mapping[str, Any]], requests.Response],
        json: Callable[[requests.Response], Any],
        note: Callable[[str], None],
        base_url: Callable[[], str],
        page_size: int,
        max_url_length: int,
    ) -> None:
        self._get = get
        self._json = json
        self._note = note
        self._base_url = base_url
        self.page_size = page_size
        self.max_url_length = max_url_length
        self._state = threading.Lock()
        self._refused: set[str] = set()
        self._child_ignored = False
        self._use_fields = True

    @staticmethod
    def _parse(path: str, page: list[Any], model: type[ModelT]) -> list[ModelT]:
        parsed: list[ModelT] = []
        for raw in page:
            try:
                parsed.append(model.model_validate(raw))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                ident = raw.get("id") if isinstance(raw, dict) else None
                raise ApiError(
                    f"{SERVICE}: GET /{path} returned a malformed {model.__name__.lower()} "
                    f"(id {ident!r}): {where}: {first['msg']}"
                ) from None
        return parsed

    def allowed(self, narrowing: q.Narrowing) -> bool:
        if narrowing.required:
            return True
        if narrowing.param == "childConditions" and self._child_ignored:
            return False
        return narrowing.key not in self._refused

    def query(
        self,
        stream: Stream,
        chunk: Sequence[int] | None,
        collected: Collected[Any],
        abort: threading.Event,
        counts: Counter[int | None] | None = None,
    ) -> None:
        """Every page of one query, each asked for past the last id kept (`id > N`, ordered by id), so that
        whatever leaves the query meanwhile cannot shift a record past us. We build each page's URL
        ourselves rather than follow `Link`, since it is unconfirmed whether that URL repeats our
        conditions. When the server refuses a narrowing or leaves out fields asked for, the query reads on
        from the last id kept without it."""
        by_company = q.condition("company/id", cond.in_list("company/id", chunk)) if chunk else None
        wanted = [n for n in (by_company, *stream.fixed, stream.child) if n is not None]
        fields = field_names(stream.model)
        last: int | None = None
        page = 1
        while True:
            if abort.is_set():
                raise Replan
            narrowings = [n for n in wanted if self.allowed(n)]
            if by_company is not None and by_company not in narrowings:
                raise Replan  # contacts can no longer be asked for by company: read them unchunked
            if stream.several and stream.child is not None and stream.child not in narrowings:
                raise Replan  # one query per type no longer narrows anything: one query instead
            use_fields = self._use_fields
            keyset = [q.after_id(last)] if last is not None else []
            params = q.params([*narrowings, *keyset], fields=",".join(fields) if use_fields else None, orderBy="id asc")
            try:
                response = self._get(stream.path, {**params, "page": 1, "pageSize": self.page_size})
            except ApiError as exc:
                if exc.status != 400:
                    raise
                refusal = q.refused(str(exc), [*narrowings, *keyset])
                if refusal is None:
                    raise
                if refusal.required:
                    raise RequiredRefused(refusal, str(exc)) from None
                self._record_refusal(stream.path, refusal, page, str(exc))
                continue
            collected.window.saw(response)
            body = self._json(response)
            if not isinstance(body, list):
                raise ApiError(
                    f"{SERVICE}: GET /{stream.path} returned {type(body).__name__} where a JSON array was expected"
                )
            records = self._parse(stream.path, body, stream.model)
            try:
                self._check_page(stream, body, fields if use_fields else (), by_company)
            except FieldsLeftOut as left_out:
                self._stop_asking_for_fields(stream.path, left_out.missing)
                continue
            _check_order(stream.path, [r.id for r in records], last)  # type: ignore[attr-defined]
            collected.census.add(body)
            if counts is not None:
                counts.update(getattr(r, "company_id", None) for r in records)
            collected.add(records)
            if stream.child in narrowings and self._ignores_child(stream, records):
                raise Replan
            if not has_next_page(response, len(body), self.page_size):
                return
            last = records[-1].id  # type: ignore[attr-defined]
            page += 1

    @staticmethod
    def _check_page(stream: Stream, page: list[Any], asked: Sequence[str], by_company: q.Narrowing | None) -> None:
        """A field asked for that no record of the page carries: `fields` was not honoured for it (arrays,
        say), so ask again without `fields`. One record without a field is normal: ConnectWise leaves out
        keys whose value is null (a contact without a last name), and the partial response stays. A contact
        read by company without its company: the security role hides it, and no audience can be trusted."""
        if page:
            missing = [name for name in asked if all(lacking(raw, (name,)) for raw in page)]
            if missing:
                raise FieldsLeftOut(missing)
        if stream.model is Contact and by_company is not None:
            blank = next((raw for raw in page if not has_company(raw)), None)
            if blank is not None:
                raise blank_company_error(blank)

    def _ignores_child(self, stream: Stream, records: list[Any]) -> bool:
        """A record without the stream's type means the server ignored `childConditions`."""
        stray = next((r for r in records if stream.type_id not in r.type_ids), None)
        if stray is None:
            return False
        with self._state:
            first = not self._child_ignored
            self._child_ignored = True
        if first:
            self._note(
                f"ConnectWise ignored childConditions on GET /{stream.path} ({stream.model.__name__.lower()} "
                f"{stray.id} lacks type {stream.type_id}): reading without them; the filter in code decides"
            )
        return stream.several

    def _record_refusal(self, path: str, refusal: q.Narrowing, page: int, error: str) -> None:
        with self._state:
            first = refusal.key not in self._refused
            self._refused.add(refusal.key)
        if first:
            said = re.sub(r"^.*?HTTP 400 on [^:\s]+:?\s*", "", error) or "no reason given"
            self._note(
                f"ConnectWise refused {q.describe(refusal)} on GET /{path}, page {page} (HTTP 400: {said}): "
                "reading on without it, for the rest of the run; the filter in code decides"
            )

    def _stop_asking_for_fields(self, path: str, missing: list[str]) -> None:
        with self._state:
            first = self._use_fields
            self._use_fields = False
        if first:
            self._note(
                f"ConnectWise left {', '.join(missing)} out of every record of a page of GET /{path} although "
                "`fields` asked for it: reading on without `fields`, for the rest of the run"
            )

    def streams(self, path: str, model: type[BaseModel], fixed: list[q.Narrowing], types: list[int]) -> list[Stream]:
        type_ids = sorted(set(types))
        if not type_ids or not self.allowed(q.has_type(type_ids[0])):
            return [Stream(path, model, tuple(fixed), None, None, several=False)]
        several = len(type_ids) > 1
        return [Stream(path, model, tuple(fixed), q.has_type(t), t, several) for t in type_ids]

    def chunked(self, stream: Stream, ids: list[int], collected: Collected[Any], abort: threading.Event) -> list[Task]:
        """The stream's first chunk (as many ids as the URL allows) now; the rest, sized from what the
        first chunk taught about contacts per company to fill whole pages, as follow-up tasks."""
        fixed = self._url_length(stream)
        first, *_ = cond.chunk_ids_for_url(ids, fixed_length=fixed, max_length=self.max_url_length)
        counts: Counter[int | None] = Counter()
        self.query(stream, first, collected, abort, counts)
        rest = ids[len(first) :]
        if not rest:
            return []
        size = ids_per_chunk(first, counts, page_size=self.page_size, url_max=len(first))
        chunks = cond.chunk_ids_for_url(rest, fixed_length=fixed, max_length=self.max_url_length, max_ids=size)
        return [partial(self.query, stream, c, collected, abort) for c in chunks]

    def _url_length(self, stream: Stream) -> int:
        """Length of the stream's URL with no company ids yet (and every narrowing it may send)."""
        narrowings = [n for n in (*stream.fixed, stream.child) if n is not None]
        fields = ",".join(field_names(stream.model))
        url = self._base_url() + stream.path
        return q.url_length_without_ids(url, narrowings, fields=fields, page_size=self.page_size)


def _check_order(path: str, ids: list[int], last: int | None) -> None:
    """A page asked for `id > last` ordered by id must hold ids above `last`, in order; a server that ignored
    either would make paging by key skip records, and a skipped contact would lose the tag."""
    floor = last if last is not None else -(2**63)
    for current in ids:
        if current < floor or (last is not None and current == last):
            past = f" past id {last}" if last is not None else ""
            raise ApiError(
                f"{SERVICE}: GET /{path} did not answer in id order{past} (orderBy=id asc, id > N): its pages "
                "cannot be read exactly, so nothing was written"
            )
        floor = current
