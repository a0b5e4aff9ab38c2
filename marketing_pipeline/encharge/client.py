"""An Encharge REST client for the calls a sync needs: read everyone, look people up, upsert people, add
and remove tags.

It never deletes a person and never changes subscription state: no method here can. It never sends `tags`
in `POST /people` either: whether they add or replace there is undocumented, so tags only ever go through
`POST /tags` and `DELETE /tags`, by person id whenever the id is known (an address may be shared, up to
case, by several people).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from marketing_pipeline.encharge.answers import (
    PERSON_STATUSES,
    REFUSED,
    SERVICE,
    Key,
    Lookup,
    OnBatch,
    Person,
    WriteOutcome,
    describe_encharge_error,
    person_not_found,
)
from marketing_pipeline.encharge.paged_read import MAX_PAGE_SIZE, PagedRead
from marketing_pipeline.errors import ApiAuthError, ApiError
from marketing_pipeline.settings import DEFAULTS
from marketing_pipeline.transport.http import HttpTransport, RetrySettings
from marketing_pipeline.transport.rate import RateControl

# Encharge documents no cap on people per `GET /people` lookup; 20 is the smallest limit any public client
# sets, and the URL is kept short whatever the addresses are.
DEFAULT_LOOKUP_BATCH = 20
MAX_LOOKUP_URL = 2000


class EnchargeClient(PagedRead):
    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float = DEFAULTS.timeout_seconds,
        page_size: int = MAX_PAGE_SIZE,
        batch_size: int = DEFAULTS.encharge_batch_size,
        lookup_batch_size: int = DEFAULT_LOOKUP_BATCH,
        read_concurrency: int = DEFAULTS.encharge_concurrency,
        write_concurrency: int = DEFAULTS.encharge_concurrency,
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

    # --- lookups ---------------------------------------------------------------------------------

    def lookup(self, emails: Sequence[str]) -> Lookup:
        """The people with these addresses, archived people included (`GET /people?people[i][email]=...`).

        Batched by `lookup_batch_size` and by URL length. Nobody found is an empty `users` or a 404; a 404
        for a batch of several could mean "one of them is missing", so such a batch is split until each
        404 is about one address. A batch refused (400 or 422) is split the same way until the address
        Encharge refuses is alone; that address is reported as refused, and the others are looked up.
        """
        batches = self._lookup_batches(list(dict.fromkeys(emails)))
        total = Lookup()
        if len(batches) <= 1 or self.read_concurrency == 1:
            for batch in batches:
                total.extend(self._lookup_batch(batch))
            return total
        with ThreadPoolExecutor(max_workers=min(self.read_concurrency, len(batches))) as pool:
            for found in pool.map(self._lookup_batch, batches):
                total.extend(found)
        return total

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

    def _lookup_batch(self, emails: list[str]) -> Lookup:
        params = {"includeArchived": "true", **{f"people[{i}][email]": email for i, email in enumerate(emails)}}
        response = self.transport.request("GET", "people", params=params, ok_statuses=(404, *REFUSED))
        status = response.status_code
        if status == 404:
            try:
                response.json()
            except ValueError:
                # Express's HTML "Cannot GET": the route itself is missing, which is not "nobody found".
                raise ApiError(f"{SERVICE}: GET /people is not there (HTTP 404 without a JSON body)", 404) from None
        if status in (404, *REFUSED):
            if len(emails) == 1:
                refused = {} if status == 404 else {emails[0]: str(describe_encharge_error(response))}
                return Lookup(refused=refused)
            middle = len(emails) // 2
            halves = self._lookup_batch(emails[:middle])
            halves.extend(self._lookup_batch(emails[middle:]))
            return halves
        body = self.transport.json(response)
        if not isinstance(body, dict):
            raise ApiError(f"{SERVICE}: GET /people did not return an object")
        users = body.get("users")
        if users is None:
            return Lookup()
        if not isinstance(users, list) or not all(isinstance(u, dict) for u in users):
            raise ApiError(f'{SERVICE}: GET /people did not return {{"users": [...]}}')
        return Lookup(found=users)

    # --- writes ----------------------------------------------------------------------------------

    def upsert_people(self, people: Mapping[Key, Person], on_batch: OnBatch | None = None) -> WriteOutcome:
        """`POST /people` in batches. A batch refused with a 4xx about its people (`PERSON_STATUSES`) is
        split until the refused record is alone, so one odd contact never fails its neighbours; a record
        addressed by id that Encharge answers "person not found" for alone (`person_not_found`) is gone, not
        failed. `tags` is refused: it may replace a person's tags. `on_batch` hears each batch's outcome as
        it comes back (the write record)."""
        items = list(people.items())
        for _, record in items:
            if not record.get("email") and not record.get("id"):
                raise ValueError("every upserted person needs an email or an id")
            if "tags" in record:
                raise ValueError("tags are never sent in POST /people (they may replace); use add_tag")
        batches = [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]
        return self._parallel(batches, self._upsert_batch, [[key for key, _ in b] for b in batches], on_batch)

    def _stop_reason(self) -> str | None:
        return self.before_write() if self.before_write is not None else None

    def _upsert_batch(self, batch: list[tuple[Key, Person]]) -> WriteOutcome:
        if stop := self._stop_reason():
            return WriteOutcome(not_sent=[key for key, _ in batch], stopped=stop)
        outcome = WriteOutcome()
        response = self.transport.request(
            "POST", "people", json=[record for _, record in batch], ok_statuses=PERSON_STATUSES
        )
        if response.status_code in PERSON_STATUSES:
            reason = str(describe_encharge_error(response))
            if len(batch) == 1:
                key, record = batch[0]
                gone = person_not_found(response) and bool(record.get("id"))
                (outcome.gone if gone else outcome.failed).append((key, reason))
                return outcome
            middle = len(batch) // 2
            for half in (batch[:middle], batch[middle:]):
                if outcome.stopped:  # the first half was stopped (a pause, an error): the second is not sent
                    outcome.not_sent.extend(key for key, _ in half)
                    continue
                outcome.extend(self._attempt(self._upsert_batch, half, [key for key, _ in half]))
            return outcome
        body = self.transport.json(response)
        users: list[Any] = []
        if isinstance(body, dict):
            if isinstance(body.get("users"), list):
                users = body["users"]
            elif isinstance(body.get("user"), dict):
                users = [body["user"]]
        by_email = {str(u.get("email", "")).lower(): u for u in users if isinstance(u, dict)}
        by_id = {str(u["id"]): u for u in users if isinstance(u, dict) and u.get("id")}
        for key, record in batch:
            # By id first: a person asked to move to a new address may come back at the old one.
            answer = by_id.get(str(record["id"])) if record.get("id") else None
            outcome.succeeded.append((key, answer or by_email.get(str(record.get("email", "")).lower())))
        return outcome

    def add_tag(
        self, tag: str | Sequence[str], people: Mapping[Key, Person], on_batch: OnBatch | None = None
    ) -> WriteOutcome:
        """`POST /tags` for each person, by `id` when given, else by `email`. A person refused with a 4xx
        about them fails alone; one addressed by id that Encharge says it no longer has is gone."""
        return self._tag_calls("POST", tag, people, on_batch)

    def remove_tag(
        self, tag: str | Sequence[str], people: Mapping[Key, Person], on_batch: OnBatch | None = None
    ) -> WriteOutcome:
        """`DELETE /tags` for each person. Succeeded only when Encharge confirms it (a 2xx); a person it says
        it no longer has ("person not found", JSON) is gone, which is not a removal of ours; any other 404
        (an HTML page: a gateway, a retired route) or refusal is that person's failure. Several tags (spellings
        of one) go in one call, comma-separated as Encharge's reference documents."""
        return self._tag_calls("DELETE", tag, people, on_batch)

    def _tag_calls(
        self, method: str, tags: str | Sequence[str], people: Mapping[Key, Person], on_batch: OnBatch | None
    ) -> WriteOutcome:
        names = [tags] if isinstance(tags, str) else list(tags)
        if not names or any("," in name or not name.strip() for name in names):
            raise ValueError(f"{tags!r} is not a single Encharge tag (nor a list of them)")
        tag = ",".join(names)

        def call(item: tuple[Key, Person]) -> WriteOutcome:
            key, person = item
            if stop := self._stop_reason():
                return WriteOutcome(not_sent=[key], stopped=stop)
            # By id whenever known: several people may share an address up to case, and an address
            # names only one of them.
            identifier = {"id": person["id"]} if person.get("id") else {"email": person["email"]}
            response = self.transport.request(
                method, "tags", json={"tag": tag, **identifier}, ok_statuses=PERSON_STATUSES
            )
            outcome = WriteOutcome()
            if 200 <= response.status_code < 300:
                outcome.succeeded.append((key, None))
            elif person_not_found(response) and (method == "DELETE" or "id" in identifier):
                outcome.gone.append((key, str(describe_encharge_error(response))))
            else:
                outcome.failed.append((key, str(describe_encharge_error(response))))
            return outcome

        items = list(people.items())
        return self._parallel(items, call, [[key] for key, _ in items], on_batch)

    @staticmethod
    def _attempt(work: Callable[[Any], WriteOutcome], item: Any, keys: list[Key]) -> WriteOutcome:
        """One batch's outcome; a failure no retry fixed stops the writes instead of losing what was done."""
        try:
            return work(item)
        except Exception as exc:  # kept in the outcome, raised by the caller after recording
            return WriteOutcome(not_sent=list(keys), stopped=str(exc) or type(exc).__name__, error=exc)

    def _parallel(
        self,
        items: Sequence[Any],
        work: Callable[[Any], WriteOutcome],
        keys: Sequence[list[Key]],
        on_batch: OnBatch | None = None,
    ) -> WriteOutcome:
        """Each item's writes, concurrently. Once one item fails for everyone (`_attempt`) or the writes are
        stopped, no new item starts (the rest come back `not_sent`); those in flight finish and are kept.
        `on_batch` hears each item's outcome as it completes."""
        total = WriteOutcome()
        if not items:
            return total
        lock = threading.Lock()
        halt: list[str] = []  # why no new item may start: set the moment an item stops, before it is heard

        def run(index: int) -> None:
            with lock:
                halted = halt[0] if halt else None
            if halted:
                result = WriteOutcome(not_sent=list(keys[index]), stopped=halted)
            else:
                result = self._attempt(work, items[index], keys[index])
                if result.stopped:
                    with lock:
                        halt.append(result.stopped)
            if on_batch is not None:
                result = _heard(on_batch, result)
                if result.stopped:
                    with lock:
                        halt.append(result.stopped)
            with lock:
                total.extend(result)

        if self.write_concurrency == 1 or len(items) == 1:
            for index in range(len(items)):
                run(index)
            return total
        with ThreadPoolExecutor(max_workers=min(self.write_concurrency, len(items))) as pool:
            for future in [pool.submit(run, index) for index in range(len(items))]:
                future.result()
        return total


def _heard(on_batch: OnBatch, outcome: WriteOutcome) -> WriteOutcome:
    """Tell `on_batch` (the write record); when it cannot be told, no further write is sent (what is not
    recorded cannot be counted), and the outcome carries why."""
    try:
        on_batch(outcome)
    except Exception as exc:  # carried in the outcome, raised by the caller
        outcome.stopped = outcome.stopped or f"the write record could not be stored: {exc}"
        outcome.error = outcome.error or exc
    return outcome
