"""The Encharge sandbox's switchable behaviours: each way a read of Encharge can be incomplete, inconsistent
or silent, and each reading of what the public documentation leaves open.

Set them from Python (`sandbox.modes.short_pages.append(100)`) or over HTTP:
`POST /_sandbox/modes` with a JSON object of the same names (plus `archive`: addresses to archive, and
`add_people`: people to insert as they are, case-variant duplicates say); `GET /_sandbox/modes` shows them.

A live account: people sign up while the listing is read (`signups_per_page`, every `anonymous_every`-th
an anonymous visitor without an email; `signup_emails` first, an audience member signing up on the
website, say), and act (`activity_per_page`: the least recently active move to the front of a listing
ordered by activity). Encharge's OpenAPI lists `sort`, `order` and `ignoreAnonymous` on `GET /people/all`
without saying what they do or what the default order is; each reading has a switch.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from marketing_pipeline.sandbox.server import TokenBucket

UPSERT_TAGS = ("replace", "ignore")
LISTING_ORDERS = ("created", "activity")
SORT = ("honour", "ignore", "refuse")
IGNORE_ANONYMOUS = ("honour", "ignore")
TAG_CASE = ("sensitive", "keep_first", "lower")
UPSERT_ID_EMAIL = ("change", "ignore", "refuse")
UPSERT_ANSWER = ("people", "bare")


@dataclass
class EnchargeModes:
    # What `tags` inside POST /people does (undocumented): "replace" (the worst case for an existing person)
    # or "ignore" (the worst case for a new one).
    upsert_tags: str = "replace"
    # Archived people are left out of /people/all (and of GET /people without includeArchived); this says
    # whether peopleCount counts them all the same.
    count_archived: bool = True
    # Offsets of /people/all pages served once with half their people, or with none.
    short_pages: list[int] = field(default_factory=list)
    empty_pages: list[int] = field(default_factory=list)
    # [offset, email]: once the page at that offset has been served, that person is deleted (a marketer
    # deleting someone while the sync pages through everyone).
    delete_after_page: list[Any] | None = None
    # Fields left out of every read (listing and lookups), e.g. ["company"].
    omit_fields: list[str] = field(default_factory=list)
    # Addresses that differ in case are different people: upserts and tag calls by email match the exact
    # address only, so case-variant duplicates can exist and be reached one by one, by id.
    case_sensitive_emails: bool = False
    # How tag names differ in case (undocumented): "sensitive" (`News` and `news` are two tags), "keep_first"
    # (one tag in any case, spelled as the account first saw it, whoever is tagged later and in whatever
    # case) or "lower" (one tag, every name lower-cased). Removing takes every spelling off, except when
    # "sensitive".
    tag_case: str = "sensitive"
    # GET /people answers 404 when any address asked for is unknown (instead of leaving it out).
    lookup_404: bool = False
    # An unpublished rate limit (Encharge documents none): a token bucket of this many requests a second,
    # holding up to `hidden_limit_burst` (0: one second's worth). Beyond it: 429 with an HTML body and no
    # Retry-After, as a proxy in front of an API answers. 0 is no limit.
    hidden_limit_per_second: float = 0.0
    hidden_limit_burst: float = 0.0
    # People who sign up each time a page of /people/all is served: every `anonymous_every`-th one (0: none)
    # an anonymous visitor without an email; the addresses in `signup_emails` sign up first, in order.
    signups_per_page: int = 0
    anonymous_every: int = 4
    signup_emails: list[str] = field(default_factory=list)
    # The listing's default order: "created" (oldest first) or "activity" (most recently active first).
    listing_order: str = "created"
    # Existing people who act each time a page is served, the least recently active first.
    activity_per_page: int = 0
    # `sort`/`order` on /people/all: honoured (any field; ties by creation), ignored, or refused with a 400.
    sort: str = "honour"
    # `ignoreAnonymous=true`: honoured (people without an email or userId left out) or ignored.
    ignore_anonymous: str = "honour"
    # `peopleCount` grows by this many at every GET /accounts/info, ahead of the listing (people counted
    # before they are listed, or a count kept elsewhere).
    count_growth: int = 0
    # Addresses a lookup (GET /people) refuses with a 400, whatever else the request asks for.
    lookup_400: list[str] = field(default_factory=list)
    # {address: status}: every write about that person (an upsert that holds it, a tag call) gets this 4xx.
    refuse_writes: dict[str, int] = field(default_factory=dict)
    # Tag calls ("POST", "DELETE") answered with an HTML 404 instead of Encharge's answer: a gateway, or a
    # retired route. Nothing is changed.
    tags_html_404: list[str] = field(default_factory=list)
    # [route, n, status] ("DELETE /tags", 5, 401): the n-th request of that route (counted from when this is
    # set) is answered with that status and Encharge's error envelope, nothing changed: a write failing in
    # the middle of a phase while others are in flight (a key rotated: 401; a 409 about one person).
    fail_write_calls: list[list[Any]] = field(default_factory=list)
    # Whether `POST /people` with a known `id` and another `email` moves that person to the new address:
    # "change" (it does), "ignore" (it keeps the old address and says so in its answer), "refuse" (a 409).
    upsert_id_email: str = "change"
    # What `POST /people` answers: "people" (`{"users": [...]}`, or `{"user": {...}}` for one object, as the
    # OpenAPI and WP Fusion read it) or "bare" (200 with an empty object: no ids, so whoever was created is
    # tagged by address and recorded without an id).
    upsert_answer: str = "people"
    _write_calls: dict[str, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _bucket: TokenBucket | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._rebuild_bucket()

    def _rebuild_bucket(self) -> None:
        rate = float(self.hidden_limit_per_second or 0)
        burst = max(1.0, float(self.hidden_limit_burst or rate))
        self._bucket = TokenBucket(rate, burst) if rate > 0 else None

    def within_hidden_limit(self) -> bool:
        """Take a token for one request; False when the hidden limit refuses it."""
        bucket = self._bucket
        return bucket is None or bucket.take()

    def take_page_fault(self, offset: int) -> str | None:
        """ "short", "empty" or None for a page about to be served; each injected fault serves once."""
        with self._lock:
            for kind, offsets in (("empty", self.empty_pages), ("short", self.short_pages)):
                if offset in offsets:
                    offsets.remove(offset)
                    return kind
        return None

    def refused_write(self, *emails: str | None) -> int | None:
        """The status a write about any of these addresses is refused with, if `refuse_writes` names one."""
        with self._lock:
            refusals = {k.strip().lower(): int(v) for k, v in self.refuse_writes.items()}
        return next((refusals[e.strip().lower()] for e in emails if e and e.strip().lower() in refusals), None)

    def failing_write(self, route: str) -> int | None:
        """The status this request of `route` is to fail with (`fail_write_calls`), if any; counts it."""
        with self._lock:
            if not any(str(rule[0]) == route for rule in self.fail_write_calls):
                return None
            self._write_calls[route] = count = self._write_calls.get(route, 0) + 1
            return next((int(r[2]) for r in self.fail_write_calls if str(r[0]) == route and int(r[1]) == count), None)

    def take_deletion(self, offset: int) -> str | None:
        with self._lock:
            if self.delete_after_page and int(self.delete_after_page[0]) == offset:
                email = str(self.delete_after_page[1])
                self.delete_after_page = None
                return email
        return None

    def configure(self, settings: dict[str, Any]) -> None:
        with self._lock:
            for name, value in settings.items():
                if name.startswith("_") or name not in self.__dataclass_fields__:
                    continue
                choices = {
                    "upsert_tags": UPSERT_TAGS,
                    "listing_order": LISTING_ORDERS,
                    "sort": SORT,
                    "ignore_anonymous": IGNORE_ANONYMOUS,
                    "tag_case": TAG_CASE,
                    "upsert_id_email": UPSERT_ID_EMAIL,
                    "upsert_answer": UPSERT_ANSWER,
                }
                if name in choices and value not in choices[name]:
                    raise ValueError(f"{name} must be one of {choices[name]}")
                if name in ("signups_per_page", "anonymous_every", "activity_per_page", "count_growth") and not (
                    isinstance(value, int) and value >= 0
                ):
                    raise ValueError(f"{name} must be a whole number, 0 or more")
                if name == "refuse_writes" and not all(400 <= int(v) < 500 for v in dict(value).values()):
                    raise ValueError("refuse_writes maps addresses to 4xx statuses")
                if name.startswith("hidden_limit_") and not float(value) >= 0:
                    raise ValueError(f"{name} must be 0 or more")
                if name == "fail_write_calls":
                    self._write_calls = {}
                setattr(self, name, value)
            if {"hidden_limit_per_second", "hidden_limit_burst"} & set(settings):
                self._rebuild_bucket()

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {k: copy.deepcopy(getattr(self, k)) for k in self.__dataclass_fields__ if not k.startswith("_")}
