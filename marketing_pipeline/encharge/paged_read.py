"""The read of everyone in Encharge (`GET /people/all`, every offset to the end, pages read concurrently),
part of `EnchargeClient`; `sync.listing_quality` paces, covers and judges it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from marketing_pipeline.encharge.answers import REFUSED, SERVICE
from marketing_pipeline.errors import ApiError
from marketing_pipeline.sync.listing_quality import ListingProgress, ListingRead, assess
from marketing_pipeline.transport.http import HttpTransport

MAX_PAGE_SIZE = 100
# What steadies a read of everyone where Encharge honours it (its OpenAPI lists `sort`, `order` and
# `ignoreAnonymous` on GET /people/all, without saying what they accept or what the default order is):
# oldest first, so people who sign up during the read join the end instead of shifting every page; and
# no anonymous visitors, who have no address to match. Refused parameters are dropped, in this order.
STEADY_LISTING: tuple[tuple[str, dict[str, str]], ...] = (
    ("sort=createdAt, order=asc", {"sort": "createdAt", "order": "asc"}),
    ("ignoreAnonymous=true", {"ignoreAnonymous": "true"}),
)


class PagedRead:
    """The paged read's calls, mixed into `EnchargeClient`, which sets the attributes below."""

    transport: HttpTransport
    page_size: int
    read_concurrency: int

    def account_info(self) -> dict[str, Any]:
        body = self.transport.json(self.transport.request("GET", "accounts/info"))
        if not isinstance(body, dict):
            raise ApiError(f"{SERVICE}: GET /accounts/info did not return an object")
        return body

    def _page(self, offset: int, params: Mapping[str, str]) -> list[dict[str, Any]]:
        response = self.transport.request(
            "GET", "people/all", params={"limit": self.page_size, "offset": offset, **params}
        )
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

    def read_listing(self, *, steady: bool = True) -> ListingRead:
        """One read of everyone (`GET /people/all`, every offset to the end), for `sync.listing_quality` to judge.

        With `steady`, it asks for the order and filter that keep a live account's pages still
        (`STEADY_LISTING`); a parameter Encharge refuses (400 or 422) is dropped and the read starts again
        without it, and the read says so. `peopleCount` (`GET /accounts/info`) before the read says how many
        pages to read concurrently from the start; after it, how the account grew while it was read.
        """
        wanted = list(STEADY_LISTING) if steady else []
        dropped: list[str] = []
        while True:
            params = {name: value for _, group in wanted for name, value in group.items()}
            try:
                read = self._read_pages(params)
            except ApiError as exc:
                if exc.status not in REFUSED or not wanted:
                    raise
                said, _ = wanted.pop(0)
                dropped.append(f"Encharge refused {said} (HTTP {exc.status}); read without it")
                continue
            return dataclasses.replace(read, dropped=dropped)

    def _read_pages(self, params: Mapping[str, str]) -> ListingRead:
        progress = ListingProgress(self.page_size, self.people_estimate(), self.read_concurrency)
        with ThreadPoolExecutor(max_workers=self.read_concurrency) as pool:
            in_flight: dict[Future[list[dict[str, Any]]], int] = {}
            while True:
                for offset in progress.next_offsets(set(in_flight.values())):
                    progress.asking(offset)
                    in_flight[pool.submit(self._page, offset, params)] = offset
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    offset = in_flight.pop(future)
                    progress.record(offset, future.result())
        sort = f"{params['sort']} {params.get('order', 'asc')}" if "sort" in params else None
        return progress.result(
            self.people_estimate(), sort=sort, ignore_anonymous=params.get("ignoreAnonymous") == "true"
        )

    def all_people(self) -> list[dict[str, Any]]:
        """Everyone in one read, each once (the pipeline reads through `runs.encharge_read`, which judges the read)."""
        return assess(self.read_listing()).people
