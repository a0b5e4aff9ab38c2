"""A ConnectWise PSA REST 3.0 client: authentication, codebase discovery, reads that are exact under change,
server-side filtering that is never trusted to be complete, and clear errors. One query's paging by key,
and what the server has been seen not to honour, are `keyset.py`'s.

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
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from operator import attrgetter
from typing import Any, Protocol, TypeVar

import requests
from pydantic import BaseModel

from marketing_pipeline.connectwise import codebase as cb
from marketing_pipeline.connectwise import conditions as cond
from marketing_pipeline.connectwise import queries as q
from marketing_pipeline.connectwise.keyset import KeysetReader
from marketing_pipeline.connectwise.reading import (
    Collected,
    Replan,
    RequiredRefused,
    Stream,
    run_tasks,
)
from marketing_pipeline.connectwise.responses import (
    SERVICE,
    FieldCensus,
    describe_connectwise_error,
    has_next_page,
)
from marketing_pipeline.errors import ApiError
from marketing_pipeline.settings import DEFAULTS
from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.records import Company, Contact, field_names
from marketing_pipeline.transport.http import HttpTransport, RetrySettings
from marketing_pipeline.transport.rate import RateControl

COMPANY_FIELDS = ",".join(field_names(Company))
CONTACT_FIELDS = ",".join(field_names(Contact))
# ConnectWise advise keeping URLs near 1,745 characters at most.
MAX_URL_LENGTH = 1700
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
        site: str = DEFAULTS.cw_site,
        timeout: float = DEFAULTS.timeout_seconds,
        page_size: int = 1000,
        max_concurrency: int = DEFAULTS.cw_concurrency,
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
        retry = retry or RetrySettings()
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
        self.notes: list[str] = []  # what the server did not honour, in the operator's words
        self.reader = KeysetReader(
            get=self._get,
            json=self.transport.json,
            note=self._note,
            base_url=lambda: self.base_url,
            page_size=page_size,
            max_url_length=max_url_length,
        )
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

    # --- reads: streams of queries, replanned when the server does not honour the plan ------------

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
                streams = self.reader.streams("company/companies", Company, fixed, filters.company_types)
                tasks = [partial(self.reader.query, s, None, into, abort) for s in streams]
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
                streams = self.reader.streams("company/contacts", Contact, fixed, filters.contact_types)
                if self.reader.allowed(by_company):
                    tasks = [partial(self.reader.chunked, s, ids, into, abort) for s in streams]
                else:
                    tasks = [partial(self.reader.query, s, None, into, abort) for s in streams]
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
            self.reader.query(recheck, None, changed, threading.Event())
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
