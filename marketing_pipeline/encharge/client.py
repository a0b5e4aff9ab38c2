"""An Encharge REST client for the calls a sync needs: read everyone, upsert people, add and remove tags.

It never deletes a person and never changes subscription state: no method here can.
Whether `tags` inside `POST /people` adds or replaces is undocumented, so `upsert_people` refuses it for
people who already exist; only brand-new people may carry `tags` in the upsert.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import requests

from marketing_pipeline.errors import ApiAuthError, ApiError
from marketing_pipeline.transport.http import HttpTransport, RetrySettings
from marketing_pipeline.transport.rate import RateLimiter

SERVICE = "Encharge"
MAX_PAGE_SIZE = 100


def describe_encharge_error(response: requests.Response) -> ApiError:
    status = response.status_code
    message = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or "")
        elif isinstance(error, str):
            message = error
        elif body.get("message"):
            message = str(body["message"])
    path = requests.utils.urlparse(response.url).path
    if status == 401:
        detail = f": {message}" if message else ""
        return ApiAuthError(
            f"{SERVICE} rejected the API key (HTTP 401{detail}): check ENCHARGE_REST_API_KEY", status=status
        )
    if status == 403:
        return ApiAuthError(f"{SERVICE} refused {path} (HTTP 403): the API key lacks permission", status=status)
    suffix = f": {message}" if message else ""
    return ApiError(f"{SERVICE} answered HTTP {status} on {response.request.method} {path}{suffix}", status)


Key = Hashable  # the caller's handle on one write, returned with its outcome
Person = dict[str, Any]


@dataclass
class WriteOutcome:
    """What a set of writes did, by the caller's key: the keys that succeeded (with Encharge's answer for
    that person, when it gave one) and those that failed (with why)."""

    succeeded: list[tuple[Key, Person | None]] = field(default_factory=list)
    failed: list[tuple[Key, str]] = field(default_factory=list)

    def extend(self, other: WriteOutcome) -> None:
        self.succeeded.extend(other.succeeded)
        self.failed.extend(other.failed)


class EnchargeClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float = 30.0,
        page_size: int = MAX_PAGE_SIZE,
        batch_size: int = 100,
        read_concurrency: int = 4,
        write_concurrency: int = 4,
        requests_per_second: float = 20.0,
        retry: RetrySettings | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            # A server that silently caps `limit` would make a short page look like the last one.
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not api_key:
            raise ApiAuthError(f"{SERVICE}: no API key: set ENCHARGE_REST_API_KEY")
        self.page_size = page_size
        self.batch_size = batch_size
        self.read_concurrency = max(1, read_concurrency)
        self.write_concurrency = max(1, write_concurrency)
        self.transport = HttpTransport(
            service=SERVICE,
            base_url=base_url,
            headers={"X-Encharge-Token": api_key, "Content-Type": "application/json"},
            timeout=timeout,
            retry=retry or RetrySettings(),
            secrets=(api_key,),
            rate_limiter=RateLimiter(requests_per_second) if requests_per_second > 0 else None,
            describe_error=describe_encharge_error,
            pool_size=max(self.read_concurrency, self.write_concurrency) + 2,
        )

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> EnchargeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- reads -----------------------------------------------------------------------------------

    def account_info(self) -> dict[str, Any]:
        body = self.transport.json(self.transport.request("GET", "accounts/info"))
        if not isinstance(body, dict):
            raise ApiError(f"{SERVICE}: GET /accounts/info did not return an object")
        return body

    def _page(self, offset: int) -> list[dict[str, Any]]:
        response = self.transport.request("GET", "people/all", params={"limit": self.page_size, "offset": offset})
        body = self.transport.json(response)
        people = body.get("people") if isinstance(body, dict) else None
        if not isinstance(people, list) or not all(isinstance(p, dict) for p in people):
            raise ApiError(f'{SERVICE}: GET /people/all (offset {offset}) did not return {{"people": [...]}}')
        return people

    def people_estimate(self) -> int | None:
        """`peopleCount` from `GET /accounts/info`, or None if the account will not say."""
        try:
            count = self.account_info().get("peopleCount")
        except ApiError as exc:
            if exc.status == 401:  # a bad key fails everything; a key without account scope (403) does not
                raise
            return None
        return count if isinstance(count, int) and count >= 0 else None

    def all_people(self) -> list[dict[str, Any]]:
        """Everyone, page by page until a short or empty page.

        `peopleCount` (one request) says how many pages to expect, so they are fetched concurrently from
        the start without running past the end. The count only steers speculation: paging still stops at
        the first short page, so a stale or missing count costs requests, never people.
        """
        estimate = self.people_estimate()
        expected_pages = estimate // self.page_size + 1 if estimate is not None else 1
        pages: dict[int, list[dict[str, Any]]] = {}
        end: int | None = None
        next_offset = 0
        with ThreadPoolExecutor(max_workers=self.read_concurrency) as pool:
            in_flight: dict[Future[list[dict[str, Any]]], int] = {}
            while True:
                while end is None or next_offset < end:
                    index = next_offset // self.page_size
                    # Within the expected pages: fill the window. Past them (or with no estimate): one
                    # page at a time until the first full page beyond shows the estimate was short.
                    limit = self.read_concurrency if index < expected_pages else 1
                    if len(in_flight) >= limit:
                        break
                    in_flight[pool.submit(self._page, next_offset)] = next_offset
                    next_offset += self.page_size
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    offset = in_flight.pop(future)
                    page = future.result()
                    pages[offset] = page
                    if len(page) < self.page_size:
                        end = offset if end is None else min(end, offset)
                    elif offset // self.page_size + 1 >= expected_pages:
                        expected_pages += self.read_concurrency  # more people than estimated: widen again
        people: list[dict[str, Any]] = []
        for offset in sorted(pages):
            if end is not None and offset > end:
                break
            people.extend(pages[offset])
        return people

    def lookup(self, emails: Sequence[str]) -> list[dict[str, Any]]:
        params = {f"people[{i}][email]": email for i, email in enumerate(emails)}
        response = self.transport.request("GET", "people", params=params, ok_statuses=(404,))
        if response.status_code == 404:
            return []
        body = self.transport.json(response)
        users = body.get("users") if isinstance(body, dict) else None
        return users if isinstance(users, list) else []

    # --- writes ----------------------------------------------------------------------------------

    def upsert_people(self, people: Mapping[Key, Person]) -> WriteOutcome:
        """`POST /people` in batches. A batch refused with 400 is split until the bad record is alone,
        so one bad contact never fails its neighbours."""
        items = list(people.items())
        for _, record in items:
            if not record.get("email") and not record.get("id"):
                raise ValueError("every upserted person needs an email or an id")
        batches = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        return self._parallel(batches, self._upsert_batch)

    def _upsert_batch(self, batch: list[tuple[Key, Person]]) -> WriteOutcome:
        outcome = WriteOutcome()
        response = self.transport.request(
            "POST", "people", json=[record for _, record in batch], ok_statuses=(400, 422)
        )
        if response.status_code in (400, 422):
            reason = str(describe_encharge_error(response))
            if len(batch) == 1:
                outcome.failed.append((batch[0][0], reason))
                return outcome
            middle = len(batch) // 2
            outcome.extend(self._upsert_batch(batch[:middle]))
            outcome.extend(self._upsert_batch(batch[middle:]))
            return outcome
        body = self.transport.json(response)
        users: list[Any] = []
        if isinstance(body, dict):
            if isinstance(body.get("users"), list):
                users = body["users"]
            elif isinstance(body.get("user"), dict):
                users = [body["user"]]
        by_email = {str(u.get("email", "")).lower(): u for u in users if isinstance(u, dict)}
        for key, record in batch:
            outcome.succeeded.append((key, by_email.get(str(record.get("email", "")).lower())))
        return outcome

    def add_tag(self, tag: str, people: Mapping[Key, Person]) -> WriteOutcome:
        """`POST /tags` for each person (`{"email": ...}` or `{"id": ...}`); unknown people fail alone."""
        return self._tag_calls("POST", tag, people, missing_is_ok=False)

    def remove_tag(self, tag: str, people: Mapping[Key, Person]) -> WriteOutcome:
        """`DELETE /tags` for each person. A person who no longer exists no longer carries the tag."""
        return self._tag_calls("DELETE", tag, people, missing_is_ok=True)

    def _tag_calls(self, method: str, tag: str, people: Mapping[Key, Person], *, missing_is_ok: bool) -> WriteOutcome:
        if "," in tag or not tag.strip():
            raise ValueError(f"{tag!r} is not a single Encharge tag")

        def call(item: tuple[Key, Person]) -> WriteOutcome:
            key, person = item
            identifier = {"email": person["email"]} if person.get("email") else {"id": person["id"]}
            response = self.transport.request(
                method, "tags", json={"tag": tag, **identifier}, ok_statuses=(400, 404, 422)
            )
            outcome = WriteOutcome()
            if response.ok or (response.status_code == 404 and missing_is_ok):
                outcome.succeeded.append((key, None))
            else:
                outcome.failed.append((key, str(describe_encharge_error(response))))
            return outcome

        return self._parallel(list(people.items()), call)

    def _parallel(self, items: Sequence[Any], work: Callable[[Any], WriteOutcome]) -> WriteOutcome:
        total = WriteOutcome()
        if not items:
            return total
        lock = threading.Lock()

        def run(item: Any) -> None:
            result = work(item)
            with lock:
                total.extend(result)

        if self.write_concurrency == 1 or len(items) == 1:
            for item in items:
                run(item)
            return total
        with ThreadPoolExecutor(max_workers=min(self.write_concurrency, len(items))) as pool:
            for future in [pool.submit(run, item) for item in items]:
                future.result()
        return total
