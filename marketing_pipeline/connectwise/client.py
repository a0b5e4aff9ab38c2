"""A ConnectWise PSA REST 3.0 client: authentication, codebase discovery, paging, server-side filtering
that is never trusted to be complete, and clear errors.

A read is one or more *streams* (one per company or contact type, since `childConditions` only documents a
single comparison), each a series of queries (contacts: one per chunk of company ids). When the server
refuses a narrowing, ignores `childConditions` or leaves out fields asked for, the affected query reads on
with what the server did not honour left out (or the whole read starts again, when its plan no longer
holds); records already kept stay kept (each once, by id), so nothing read is lost.

The read is exact under change, since a contact missing from it loses the sync's tag:
- each query pages by key (`orderBy=id asc` and `conditions=... and id > <last id read>`), never by page
  number, so a record deactivated, deleted or moved out of the query before the current page shifts
  nothing after it (with page numbers, the next page would start one record late and skip one);
- a record can still slip between two queries when it changes while they run (a contact moving from one
  chunk of companies to another, or from one type to another): so once the read is done, every record
  edited since it began (`lastUpdated >= [start]`, ConnectWise's own stamp) is read again and decided on
  as it is now, superseding what the read kept of it. Anyone who belonged throughout is in; anyone who
  changed is judged on their latest state. A server that refuses `lastUpdated` gets a second full read
  instead, whose answer wins where both have a record, so a contact leaves only when neither read saw it.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from operator import attrgetter
from typing import Any, Protocol, TypeVar

import requests
from pydantic import BaseModel, ValidationError

from marketing_pipeline.connectwise import codebase as cb
from marketing_pipeline.connectwise import conditions as cond
from marketing_pipeline.connectwise import queries as q
from marketing_pipeline.connectwise.chunking import ids_per_chunk
from marketing_pipeline.connectwise.reading import (
    Collected,
    FieldsLeftOut,
    Replan,
    RequiredRefused,
    Stream,
    Task,
    run_tasks,
)
from marketing_pipeline.connectwise.responses import (
    SERVICE,
    FieldCensus,
    blank_company_error,
    describe_connectwise_error,
    has_company,
    has_next_page,
    lacking,
)
from marketing_pipeline.errors import ApiError
from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.records import Company, Contact, field_names
from marketing_pipeline.transport.http import HttpTransport, RetrySettings
from marketing_pipeline.transport.rate import RateControl

DEFAULT_SITE = "api-eu.myconnectwise.net"
COMPANY_FIELDS = ",".join(field_names(Company))
CONTACT_FIELDS = ",".join(field_names(Contact))
# ConnectWise advise keeping URLs near 1,745 characters at most.
MAX_URL_LENGTH = 1700
# Every ConnectWise request here is a read, so a 500 is retried like 502-504 (the Developer Guide advises
# retrying 5xx with backoff); 429s are retried whether or not they come with Retry-After or JSON.
RETRYABLE = frozenset({429, 500, 502, 503, 504})
MAX_REPLANS = 8

ModelT = TypeVar("ModelT", bound=BaseModel)


class Log(Protocol):
    def info(self, msg: str, *args: Any) -> Any: ...

    def warning(self, msg: str, *args: Any) -> Any: ...


class ConnectWiseClient:
    def __init__(
        self,
        *,
        company_id: str,
        public_key: str,
        private_key: str,
        client_id: str,
        base_url: str | None = None,
        site: str = DEFAULT_SITE,
        timeout: float = 30.0,
        page_size: int = 1000,
        max_concurrency: int = 4,
        retry: RetrySettings | None = None,
        max_url_length: int = MAX_URL_LENGTH,
        log: Log | None = None,
        rate_control: RateControl | None = None,
    ) -> None:
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000 (ConnectWise's maximum)")
        token = base64.b64encode(f"{company_id}+{public_key}:{private_key}".encode()).decode()
        self.company_id = company_id
        self.page_size = page_size
        self.max_concurrency = max(1, max_concurrency)
        self.max_url_length = max_url_length
        self.log: Log = log or logging.getLogger(__name__)
        self._root = cb.root_of(base_url) if base_url else cb.site_root(site)
        self._base_url = base_url if base_url is None or base_url.endswith("/") else base_url + "/"
        self._configured = base_url is not None
        retry = retry or RetrySettings(retry_statuses=RETRYABLE)
        self.transport = HttpTransport(
            service=SERVICE,
            base_url=self._root,
            headers={"Authorization": f"Basic {token}", "clientId": client_id},
            timeout=timeout,
            retry=retry,
            secrets=(public_key, private_key, token),
            describe_error=describe_connectwise_error,
            pool_size=self.max_concurrency + 2,
            rate_control=rate_control,
        )
        # companyinfo takes no credentials: its own session never carries them.
        self._discovery = HttpTransport(service=SERVICE, base_url=self._root, headers={}, timeout=timeout, retry=retry)
        self._discovery.stats = self.transport.stats
        self._state = threading.Lock()
        self._rediscovered = False
        self._refused: set[str] = set()
        self._child_ignored = False
        self._use_fields = True
        self.notes: list[str] = []  # what the server did not honour, in the operator's words
        self.contacts_fetched = 0
        # Per read ("companies", "contacts"): records edited while it ran, read again (None: ConnectWise
        # refused `lastUpdated`, so the whole read was done twice instead).
        self.changed_during_read: dict[str, int | None] = {}

    def close(self) -> None:
        self.transport.close()
        self._discovery.close()

    def __enter__(self) -> ConnectWiseClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- where the API is --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The REST base, found through companyinfo on first use when it was not configured."""
        with self._state:
            if self._base_url is None:
                found = cb.discover_codebase(self._discovery, self._root, self.company_id)
                self._base_url = cb.base_url(self._root, found)
                self.log.info(f"ConnectWise codebase {found} (from {self._root}/login/companyinfo)")
            return self._base_url

    def _rediscover(self, failed_base: str) -> bool:
        """After a 404 at `failed_base`: True when the request is worth making again at a new base."""
        with self._state:
            if self._base_url != failed_base:
                return True  # another request already moved to the new codebase
            if self._rediscovered:
                return False
            self._rediscovered = True
            old = cb.codebase_of(failed_base)
            found = cb.discover_codebase(self._discovery, self._root, self.company_id)
            if found == old:
                return False
            self._base_url = cb.base_url(self._root, found)
        self._note(
            f"ConnectWise answered 404 at codebase {old or '(none)'}; companyinfo now names {found}: using it for "
            "this run" + (" (update CW_BASE_URL)" if self._configured else "")
        )
        return True

    def _get(self, path: str, params: Mapping[str, Any]) -> requests.Response:
        base = self.base_url
        try:
            return self.transport.request("GET", base + path, params=params)
        except ApiError as exc:
            if exc.status != 404 or not self._rediscover(base):
                raise
        return self.transport.request("GET", self.base_url + path, params=params)

    def _note(self, message: str) -> None:
        with self._state:
            self.notes.append(message)
        self.log.warning(message)

    # --- one query, paged by id, reading on whenever the server does not honour part of it ---------

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

    def _allowed(self, narrowing: q.Narrowing) -> bool:
        if narrowing.required:
            return True
        if narrowing.param == "childConditions" and self._child_ignored:
            return False
        return narrowing.key not in self._refused

    def _query(
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
            narrowings = [n for n in wanted if self._allowed(n)]
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
            body = self.transport.json(response)
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

    # --- reads: streams of queries, replanned when the server does not honour the plan ------------

    def _streams(self, path: str, model: type[BaseModel], fixed: list[q.Narrowing], types: list[int]) -> list[Stream]:
        type_ids = sorted(set(types))
        if not type_ids or not self._allowed(q.has_type(type_ids[0])):
            return [Stream(path, model, tuple(fixed), None, None, several=False)]
        several = len(type_ids) > 1
        return [Stream(path, model, tuple(fixed), q.has_type(t), t, several) for t in type_ids]

    def _read(self, run_plan: Callable[[threading.Event], None]) -> None:
        for _ in range(MAX_REPLANS):
            abort = threading.Event()
            try:
                run_plan(abort)
                return
            except Replan:
                continue
        raise ApiError(f"{SERVICE}: the server kept changing what it honours; giving up after {MAX_REPLANS} attempts")

    def companies(self, filters: FilterConfig) -> list[Company]:
        """Companies that are not deleted, in the sync's statuses, with one of its types where the server
        can filter on that (one query per type), as they are at the end of the read; the filter in code
        decides."""
        census = FieldCensus("companies", Company.DECIDING_FIELDS)
        fixed = [
            q.condition("status/id", cond.in_list("status/id", filters.company_statuses)),
            q.condition("deletedFlag", cond.equals("deletedFlag", False)),
        ]

        def plan(into: Collected[Company]) -> Callable[[threading.Event], None]:
            def run(abort: threading.Event) -> None:
                streams = self._streams("company/companies", Company, fixed, filters.company_types)
                tasks = [partial(self._query, s, None, into, abort) for s in streams]
                run_tasks(tasks, workers=self.max_concurrency, abort=abort)

            return run

        collected: Collected[Company] = self._exact(
            "companies", "company/companies", Company, plan, lambda: Collected(census)
        )
        census.check()
        return sorted(collected.results, key=lambda c: c.id)

    def contacts(
        self,
        filters: FilterConfig,
        company_ids: Sequence[int],
        per_page: Callable[[list[Contact]], list[Any]] | None = None,
        row_id: Callable[[Any], int] = attrgetter("id"),
    ) -> list[Any]:
        """Active contacts at the given companies, with one of the sync's contact types where possible, as
        they are at the end of the read.

        Each contact comes once. With `per_page`, what it makes of each page is returned instead of the
        contacts (`row_id` gives the contact id of what it makes), and the models are dropped page by page
        (100,000 contacts as models would not fit the memory budget). `contacts_fetched` then says how many
        contacts there were.
        """
        self.contacts_fetched = 0
        ids = sorted(set(company_ids))
        if not ids:
            return []
        census = FieldCensus("contacts", Contact.DECIDING_FIELDS)
        fixed = [q.condition("inactiveFlag", cond.equals("inactiveFlag", False))]
        by_company = q.condition("company/id", "")

        def plan(into: Collected[Contact]) -> Callable[[threading.Event], None]:
            def run(abort: threading.Event) -> None:
                streams = self._streams("company/contacts", Contact, fixed, filters.contact_types)
                if self._allowed(by_company):
                    tasks = [partial(self._chunked, s, ids, into, abort) for s in streams]
                else:
                    tasks = [partial(self._query, s, None, into, abort) for s in streams]
                run_tasks(tasks, workers=self.max_concurrency, abort=abort)

            return run

        collected: Collected[Contact] = self._exact(
            "contacts", "company/contacts", Contact, plan, lambda: Collected(census, per_page, row_id)
        )
        census.check()
        self.contacts_fetched = len(collected.seen)
        return collected.results

    def _exact(
        self,
        kind: str,
        path: str,
        model: type[ModelT],
        plan: Callable[[Collected[ModelT]], Callable[[threading.Event], None]],
        new: Callable[[], Collected[ModelT]],
    ) -> Collected[ModelT]:
        """One read by `plan`, then every record edited since it began read again and decided on as it is
        now; where ConnectWise refuses `lastUpdated`, a second full read supersedes the first instead."""
        collected = new()
        self._read(plan(collected))
        fresh = self._changed_since(path, model, collected)
        if fresh is None:
            again = new()
            self._read(plan(again))
            collected.supersede_with(again)
        else:
            collected.supersede(fresh)
            if fresh:
                self.log.info(
                    f"{len(fresh)} {kind} changed in ConnectWise while they were read; each was read again and "
                    "is decided on as it is now"
                )
        self.changed_during_read[kind] = None if fresh is None else len(fresh)
        return collected

    def _changed_since(self, path: str, model: type[ModelT], read: Collected[ModelT]) -> list[ModelT] | None:
        """Every record edited since `read` began (`lastUpdated >= [start]`), as it is now; None when
        ConnectWise will not answer that query (a 400), so a second read must stand in for it."""
        changed: Collected[ModelT] = Collected(read.census)  # the models themselves, to supersede with
        recheck = Stream(path, model, (q.changed_since(read.window.since()),))
        try:
            self._query(recheck, None, changed, threading.Event())
        except (RequiredRefused, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status != 400:
                raise
            self._note(
                f"ConnectWise refused `lastUpdated` on GET /{path} ({exc}), so what changed during the read "
                f"cannot be asked for: the read was done a second time, and a {model.__name__.lower()} the "
                "second read has is taken as it read it"
            )
            return None
        return changed.results

    def _chunked(self, stream: Stream, ids: list[int], collected: Collected[Any], abort: threading.Event) -> list[Task]:
        """The stream's first chunk (as many ids as the URL allows) now; the rest, sized from what the
        first chunk taught about contacts per company to fill whole pages, as follow-up tasks."""
        fixed = self._url_length(stream)
        first, *_ = cond.chunk_ids_for_url(ids, fixed_length=fixed, max_length=self.max_url_length)
        counts: Counter[int | None] = Counter()
        self._query(stream, first, collected, abort, counts)
        rest = ids[len(first) :]
        if not rest:
            return []
        size = ids_per_chunk(first, counts, page_size=self.page_size, url_max=len(first))
        chunks = cond.chunk_ids_for_url(rest, fixed_length=fixed, max_length=self.max_url_length, max_ids=size)
        return [partial(self._query, stream, c, collected, abort) for c in chunks]

    def _url_length(self, stream: Stream) -> int:
        """Length of the stream's URL with no company ids yet (and every narrowing it may send)."""
        narrowings = [n for n in (*stream.fixed, stream.child) if n is not None]
        fields = ",".join(field_names(stream.model))
        url = self.base_url + stream.path
        return q.url_length_without_ids(url, narrowings, fields=fields, page_size=self.page_size)

    # --- other endpoints ---------------------------------------------------------------------------

    def count(self, path: str, params: Mapping[str, Any] | None = None) -> int:
        body = self.transport.json(self._get(f"{path}/count", params or {}))
        if not isinstance(body, dict) or not isinstance(body.get("count"), int):
            raise ApiError(f'{SERVICE}: GET /{path}/count did not return {{"count": n}}')
        return body["count"]

    # --- checking a deployment (`marketing-pipeline check`): small reads, raw -----------------------

    def system_info(self) -> dict[str, Any]:
        """`GET /system/info` (version, cloud region): authenticated, and open to any API member, so it
        tells the keys and clientId apart from the security role."""
        body = self.transport.json(self._get("system/info", {}))
        if not isinstance(body, dict):
            raise ApiError(f"{SERVICE}: GET /system/info did not return an object")
        return body

    def first_page(self, path: str, page_size: int = 50) -> list[Any]:
        """One page of a list endpoint as the server sends it (no `fields`, no conditions): what the API
        member's security role lets it see."""
        body = self.transport.json(self._get(path, {"page": 1, "pageSize": page_size, "orderBy": "id asc"}))
        if not isinstance(body, list):
            raise ApiError(f"{SERVICE}: GET /{path} returned {type(body).__name__} where a JSON array was expected")
        return body

    def setup_list(self, path: str, max_pages: int = 20) -> list[Any]:
        """Every record of one of ConnectWise's setup lists (company types, company statuses, contact types),
        raw: short lists, read page by page."""
        records: list[Any] = []
        for page in range(1, max_pages + 1):
            response = self._get(path, {"page": page, "pageSize": self.page_size})
            body = self.transport.json(response)
            if not isinstance(body, list):
                raise ApiError(f"{SERVICE}: GET /{path} returned {type(body).__name__} where a JSON array was expected")
            records += body
            if not has_next_page(response, len(body), self.page_size):
                return records
        raise ApiError(f"{SERVICE}: GET /{path} has more than {max_pages} pages: not a setup list")

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
