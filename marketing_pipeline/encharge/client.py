"""An Encharge REST client for the calls a sync needs: read everyone, look people up, upsert people, add
and remove tags.

It never deletes a person and never changes subscription state: no method here can. It never sends `tags`
in `POST /people` either: whether they add or replace there is undocumented, so tags only ever go through
`POST /tags` and `DELETE /tags`, by person id whenever the id is known (an address may be shared, up to
case, by several people).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests

from marketing_pipeline.errors import ApiAuthError, ApiError
from marketing_pipeline.sync.listing import PeopleListing, PeoplePage
from marketing_pipeline.transport.http import HttpTransport, RetrySettings
from marketing_pipeline.transport.rate import RateControl

SERVICE = "Encharge"
MAX_PAGE_SIZE = 100
# Encharge documents no cap on people per `GET /people` lookup; 20 is the smallest limit any public client
# sets, and the URL is kept short whatever the addresses are.
DEFAULT_LOOKUP_BATCH = 20
MAX_LOOKUP_URL = 2000


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
    that person, when it gave one), those that failed (with why), and those never sent because the writes
    were stopped (`stopped` says why)."""

    succeeded: list[tuple[Key, Person | None]] = field(default_factory=list)
    failed: list[tuple[Key, str]] = field(default_factory=list)
    not_sent: list[Key] = field(default_factory=list)
    stopped: str | None = None

    def extend(self, other: WriteOutcome) -> None:
        self.succeeded.extend(other.succeeded)
        self.failed.extend(other.failed)
        self.not_sent.extend(other.not_sent)
        self.stopped = self.stopped or other.stopped


class EnchargeClient:
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float = 30.0,
        page_size: int = MAX_PAGE_SIZE,
        batch_size: int = 100,
        lookup_batch_size: int = DEFAULT_LOOKUP_BATCH,
        read_concurrency: int = 4,
        write_concurrency: int = 4,
        rate_control: RateControl | None = None,
        retry: RetrySettings | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            # A server that silently caps `limit` would make a short page look like the last one.
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if lookup_batch_size < 1:
            raise ValueError("lookup_batch_size must be at least 1")
        if not api_key:
            raise ApiAuthError(f"{SERVICE}: no API key: set ENCHARGE_REST_API_KEY")
        self.page_size = page_size
        self.batch_size = batch_size
        self.lookup_batch_size = lookup_batch_size
        self.base_url = base_url
        self.read_concurrency = max(1, read_concurrency)
        self.write_concurrency = max(1, write_concurrency)
        self.transport = HttpTransport(
            service=SERVICE,
            base_url=base_url,
            headers={"X-Encharge-Token": api_key, "Content-Type": "application/json"},
            timeout=timeout,
            retry=retry or RetrySettings(),
            secrets=(api_key,),
            rate_control=rate_control,
            describe_error=describe_encharge_error,
            pool_size=max(self.read_concurrency, self.write_concurrency) + 2,
        )
        # Asked before each write batch (each upsert request, each tag call): a reason stops the writes. No
        # new batch starts, those in flight finish, and the rest come back as `not_sent`.
        self.before_write: Callable[[], str | None] | None = None

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

    def read_listing(self) -> PeopleListing:
        """One read of everyone (`GET /people/all`, every page), for `sync.listing` to check.

        `peopleCount` (one request) says how many pages to expect, so they are fetched concurrently from
        the start. Pages are read until a short page at or past the expected end, or a short page followed
        by an empty one; a short page before the expected end does not stop the read, so a page that came
        back short by mistake shows as a non-empty page after it. When the number read does not confirm
        the end (it differs from the count, or there is none), one probe is read just past the short page.
        """
        count = self.people_estimate()
        size = self.page_size
        expected_pages = count // size + 1 if count is not None else 1
        pages: dict[int, list[dict[str, Any]]] = {}
        next_index = 0
        finished = False
        with ThreadPoolExecutor(max_workers=self.read_concurrency) as pool:
            in_flight: dict[Future[list[dict[str, Any]]], int] = {}
            while True:
                while not finished:
                    # Within the expected pages: fill the window. Past them: one page at a time until the
                    # first full page beyond shows the count was short.
                    limit = self.read_concurrency if next_index < expected_pages else 1
                    if len(in_flight) >= limit:
                        break
                    in_flight[pool.submit(self._page, next_index * size)] = next_index
                    next_index += 1
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    index = in_flight.pop(future)
                    pages[index] = future.result()
                    if len(pages[index]) == size and index + 1 >= expected_pages:
                        expected_pages = index + 1 + self.read_concurrency  # more than counted: widen again
                finished = finished or _listing_ended(pages, expected_pages, size)
        listing = PeopleListing(
            page_size=size,
            people_count=count,
            pages=[PeoplePage(index * size, pages[index]) for index in sorted(pages)],
        )
        short = listing.first_short
        if short is not None and (count is None or len(listing.people) != count):
            offset = short.offset + len(short.people)
            listing = PeopleListing(size, count, listing.pages, PeoplePage(offset, self._page(offset)))
        return listing

    def all_people(self) -> list[dict[str, Any]]:
        """Everyone in one read, unchecked (the pipeline reads through `runs.listing`, which checks)."""
        return self.read_listing().people

    def lookup(self, emails: Sequence[str]) -> list[dict[str, Any]]:
        """The people with these addresses, archived people included (`GET /people?people[i][email]=...`).

        Batched by `lookup_batch_size` and by URL length. Nobody found is an empty `users` or a 404; a 404
        for a batch of several could mean "one of them is missing", so such a batch is split until each
        404 is about one address.
        """
        batches = self._lookup_batches(list(dict.fromkeys(emails)))
        if len(batches) <= 1 or self.read_concurrency == 1:
            return [person for batch in batches for person in self._lookup_batch(batch)]
        with ThreadPoolExecutor(max_workers=min(self.read_concurrency, len(batches))) as pool:
            return [person for found in pool.map(self._lookup_batch, batches) for person in found]

    def _lookup_batches(self, emails: list[str]) -> list[list[str]]:
        fixed = len(self.base_url) + len("people?includeArchived=true")
        batches: list[list[str]] = []
        current: list[str] = []
        length = fixed
        for email in emails:
            extra = len("&" + urlencode({f"people[{len(current)}][email]": email}))
            if current and (len(current) >= self.lookup_batch_size or length + extra > MAX_LOOKUP_URL):
                batches.append(current)
                current, length = [], fixed
                extra = len("&" + urlencode({"people[0][email]": email}))
            current.append(email)
            length += extra
        if current:
            batches.append(current)
        return batches

    def _lookup_batch(self, emails: list[str]) -> list[dict[str, Any]]:
        params = {"includeArchived": "true", **{f"people[{i}][email]": email for i, email in enumerate(emails)}}
        response = self.transport.request("GET", "people", params=params, ok_statuses=(404,))
        if response.status_code == 404:
            try:
                response.json()
            except ValueError:
                # Express's HTML "Cannot GET": the route itself is missing, which is not "nobody found".
                raise ApiError(f"{SERVICE}: GET /people is not there (HTTP 404 without a JSON body)", 404) from None
            if len(emails) == 1:
                return []
            middle = len(emails) // 2
            return self._lookup_batch(emails[:middle]) + self._lookup_batch(emails[middle:])
        body = self.transport.json(response)
        if not isinstance(body, dict):
            raise ApiError(f"{SERVICE}: GET /people did not return an object")
        users = body.get("users")
        if users is None:
            return []
        if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
            raise ApiError(f'{SERVICE}: GET /people did not return {{"users": [...]}}')
        return users

    # --- writes ----------------------------------------------------------------------------------

    def upsert_people(self, people: Mapping[Key, Person]) -> WriteOutcome:
        """`POST /people` in batches. A batch refused with 400 is split until the bad record is alone,
        so one bad contact never fails its neighbours. `tags` is refused: it may replace a person's tags."""
        items = list(people.items())
        for _, record in items:
            if not record.get("email") and not record.get("id"):
                raise ValueError("every upserted person needs an email or an id")
            if "tags" in record:
                raise ValueError("tags are never sent in POST /people (they may replace); use add_tag")
        batches = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        return self._parallel(batches, self._upsert_batch)

    def _stop_reason(self) -> str | None:
        return self.before_write() if self.before_write is not None else None

    def _upsert_batch(self, batch: list[tuple[Key, Person]]) -> WriteOutcome:
        if stop := self._stop_reason():
            return WriteOutcome(not_sent=[key for key, _ in batch], stopped=stop)
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
        """`POST /tags` for each person, by `id` when given, else by `email`; unknown people fail alone."""
        return self._tag_calls("POST", tag, people, missing_is_ok=False)

    def remove_tag(self, tag: str, people: Mapping[Key, Person]) -> WriteOutcome:
        """`DELETE /tags` for each person. A person who no longer exists no longer carries the tag."""
        return self._tag_calls("DELETE", tag, people, missing_is_ok=True)

    def _tag_calls(self, method: str, tag: str, people: Mapping[Key, Person], *, missing_is_ok: bool) -> WriteOutcome:
        if "," in tag or not tag.strip():
            raise ValueError(f"{tag!r} is not a single Encharge tag")

        def call(item: tuple[Key, Person]) -> WriteOutcome:
            key, person = item
            if stop := self._stop_reason():
                return WriteOutcome(not_sent=[key], stopped=stop)
            # By id whenever known: several people may share an address up to case, and an address
            # names only one of them.
            identifier = {"id": person["id"]} if person.get("id") else {"email": person["email"]}
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


def _listing_ended(pages: Mapping[int, list[dict[str, Any]]], expected_pages: int, size: int) -> bool:
    """The pages read so far, from 0 without a gap, end on a short page at or past the expected end, or on
    an empty page right after a short one."""
    last = -1
    while last + 1 in pages:
        last += 1
    if last < 0 or len(pages[last]) >= size:
        return False
    return last >= expected_pages - 1 or (last > 0 and not pages[last] and len(pages[last - 1]) < size)
