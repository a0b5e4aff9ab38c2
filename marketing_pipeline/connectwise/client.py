"""A ConnectWise PSA REST 3.0 client: authentication, paging, server-side filtering and clear errors."""

from __future__ import annotations

import base64
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, ValidationError

from marketing_pipeline.connectwise import conditions as cond
from marketing_pipeline.connectwise.chunking import ids_per_chunk
from marketing_pipeline.errors import ApiAuthError, ApiError
from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.records import Company, Contact
from marketing_pipeline.transport.http import HttpTransport, RetrySettings

SERVICE = "ConnectWise"
COMPANY_FIELDS = "id,identifier,name,status,types"
CONTACT_FIELDS = "id,firstName,lastName,company,inactiveFlag,types,communicationItems"
# ConnectWise advise keeping URLs near 1,745 characters at most.
MAX_URL_LENGTH = 1700
RETRYABLE = frozenset({429, 502, 503, 504})

ModelT = TypeVar("ModelT", bound=BaseModel)


def describe_connectwise_error(response: requests.Response) -> ApiError:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = ""
    if isinstance(body, dict):
        detail = str(body.get("message") or body.get("code") or body.get("error") or "")
    endpoint = re.sub(r".*/apis/3\.0", "", response.url.split("?")[0])
    if status == 401:
        return ApiAuthError(
            f"{SERVICE} rejected the credentials (HTTP 401 on {endpoint}): check CW_COMPANY_ID, "
            "CW_PUBLIC_KEY and CW_PRIVATE_KEY",
            status=status,
        )
    if status == 403:
        return ApiAuthError(
            f"{SERVICE} refused access to {endpoint} (HTTP 403): the API member's security role must allow "
            "Company > Company Maintenance and Contacts (inquire); also check CW_CLIENT_ID",
            status=status,
        )
    if status == 404:
        return ApiError(f"{SERVICE} has no {endpoint} (HTTP 404): check CW_BASE_URL (host and codebase)", status)
    suffix = f": {detail}" if detail else ""
    return ApiError(f"{SERVICE} answered HTTP {status} on {endpoint}{suffix}", status=status)


def has_next_page(response: requests.Response, page_length: int, page_size: int) -> bool:
    """Whether to ask for another page, correct whether or not the server sends `Link` headers."""
    if page_length == 0:
        return False
    link = response.headers.get("Link")
    if link is None:
        return page_length >= page_size
    return 'rel="next"' in link.replace("'", '"')


class ConnectWiseClient:
    def __init__(
        self,
        *,
        base_url: str,
        company_id: str,
        public_key: str,
        private_key: str,
        client_id: str,
        timeout: float = 30.0,
        page_size: int = 1000,
        max_concurrency: int = 4,
        retry: RetrySettings | None = None,
        max_url_length: int = MAX_URL_LENGTH,
    ) -> None:
        if not 1 <= page_size <= 1000:
            raise ValueError("page_size must be between 1 and 1000 (ConnectWise's maximum)")
        token = base64.b64encode(f"{company_id}+{public_key}:{private_key}".encode()).decode()
        self.page_size = page_size
        self.max_concurrency = max(1, max_concurrency)
        self.max_url_length = max_url_length
        self.transport = HttpTransport(
            service=SERVICE,
            base_url=base_url,
            headers={"Authorization": f"Basic {token}", "clientId": client_id},
            timeout=timeout,
            retry=retry or RetrySettings(retry_statuses=RETRYABLE),
            secrets=(public_key, private_key, token),
            describe_error=describe_connectwise_error,
            pool_size=self.max_concurrency + 2,
        )

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> ConnectWiseClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- paging ----------------------------------------------------------------------------------

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[Any]]:
        """Pages of a list endpoint. We build each page's URL ourselves from `page`, rather than follow
        the `Link` URL, because it is unconfirmed whether that URL repeats our conditions."""
        page = 1
        while True:
            response = self.transport.request("GET", path, params={**params, "page": page, "pageSize": self.page_size})
            body = self.transport.json(response)
            if not isinstance(body, list):
                raise ApiError(f"{SERVICE}: GET /{path} returned {type(body).__name__} where a JSON array was expected")
            yield body
            if not has_next_page(response, len(body), self.page_size):
                return
            page += 1

    def _fetch(
        self,
        path: str,
        params: Mapping[str, Any],
        model: type[ModelT],
        per_page: Callable[[list[ModelT]], list[Any]] | None = None,
    ) -> list[Any]:
        """All pages, parsed; `per_page` turns each page into what is kept, so a page's models (and its raw
        JSON) can be dropped before the next page arrives."""
        items: list[Any] = []
        for page in self._pages(path, params):
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
            items.extend(per_page(parsed) if per_page else parsed)
        return items

    def _fetch_with_child_fallback(
        self,
        path: str,
        params: dict[str, Any],
        model: type[ModelT],
        per_page: Callable[[list[ModelT]], list[Any]] | None = None,
    ) -> list[Any]:
        """Try with childConditions; if the server refuses them (400), fetch without: we filter in code anyway."""
        try:
            return self._fetch(path, params, model, per_page)
        except ApiError as exc:
            if exc.status != 400 or "childConditions" not in params:
                raise
        return self._fetch(path, {k: v for k, v in params.items() if k != "childConditions"}, model, per_page)

    # --- endpoints -------------------------------------------------------------------------------

    def count(self, path: str, params: Mapping[str, Any] | None = None) -> int:
        response = self.transport.request("GET", f"{path}/count", params=params or {})
        body = self.transport.json(response)
        if not isinstance(body, dict) or not isinstance(body.get("count"), int):
            raise ApiError(f'{SERVICE}: GET /{path}/count did not return {{"count": n}}')
        return body["count"]

    def companies(self, filters: FilterConfig) -> list[Company]:
        """Companies in the sync's statuses, with one of its types where the server can filter on that."""
        params = {
            "conditions": cond.in_list("status/id", filters.company_statuses),
            "childConditions": cond.any_of("types/id", filters.company_types),
            "fields": COMPANY_FIELDS,
            "orderBy": "id asc",
        }
        return self._fetch_with_child_fallback("company/companies", params, Company)

    def contacts(
        self,
        filters: FilterConfig,
        company_ids: Sequence[int],
        per_page: Callable[[list[Contact]], list[Any]] | None = None,
    ) -> list[Any]:
        """Active contacts at the given companies, with one of the sync's contact types where possible.

        Each contact comes once. With `per_page`, what it makes of each page is returned instead of the
        contacts, and the models are dropped page by page (100,000 contacts as models would not fit the
        memory budget). `contacts_fetched` then says how many contacts there were.
        """
        self.contacts_fetched = 0
        ids = sorted(set(company_ids))
        if not ids:
            return []
        base = {
            "childConditions": cond.any_of("types/id", filters.contact_types),
            "fields": CONTACT_FIELDS,
            "orderBy": "id asc",
        }
        fixed = self._url_length("company/contacts", base)
        first, *_ = cond.chunk_ids_for_url(ids, fixed_length=fixed, max_length=self.max_url_length)
        seen: set[int] = set()
        lock = threading.Lock()
        first_counts: Counter[int | None] = Counter()

        def fetch(chunk: list[int], counts: Counter[int | None] | None = None) -> list[Any]:
            def keep(page: list[Contact]) -> list[Any]:
                with lock:
                    fresh = [c for c in page if c.id not in seen]
                    seen.update(c.id for c in fresh)
                if counts is not None:
                    counts.update(c.company_id for c in fresh)
                return per_page(fresh) if per_page else fresh

            conditions = cond.all_of([cond.equals("inactiveFlag", False), cond.in_list("company/id", chunk)])
            return self._fetch_with_child_fallback(
                "company/contacts", {**base, "conditions": conditions}, Contact, keep
            )

        # The first chunk teaches us how many contacts a company has; the rest are sized to fill pages.
        results = fetch(first, first_counts)
        rest = ids[len(first) :]
        if rest:
            size = ids_per_chunk(first, first_counts, page_size=self.page_size, url_max=len(first))
            chunks = cond.chunk_ids_for_url(rest, fixed_length=fixed, max_length=self.max_url_length, max_ids=size)
            with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(chunks))) as pool:
                for chunk_result in pool.map(fetch, chunks):
                    results.extend(chunk_result)
        self.contacts_fetched = len(seen)
        return results

    def _url_length(self, path: str, params: Mapping[str, Any]) -> int:
        """Length of the URL for `params` plus the fixed part of the conditions, with no ids yet."""
        skeleton = {
            **params,
            "conditions": cond.all_of([cond.equals("inactiveFlag", False), "company/id in ()"]),
            "page": 99999,
            "pageSize": self.page_size,
        }
        prepared = requests.Request("GET", self.transport.url(path), params=skeleton).prepare()
        return len(prepared.url or "")
