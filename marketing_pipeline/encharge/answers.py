"""What Encharge's answers mean to the client, and what its calls give back: which statuses are a person's
failure and which the run's, Encharge's JSON error envelope and its own "person not found", the errors an
operator reads; the outcome of a set of writes (`WriteOutcome`) and of a lookup (`Lookup`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import requests

from marketing_pipeline.errors import ApiAuthError, ApiError

SERVICE = "Encharge"
# A write refused with one of these is that person's failure (or, for 404, their absence), not the run's:
# every 4xx but a bad key (401), a key without permission (403), a proxy's login (407) and a throttle (429).
PERSON_STATUSES = tuple(status for status in range(400, 500) if status not in (401, 403, 407, 429))
# A request refused for what it asks: a listing parameter Encharge does not take, an address a lookup
# will not look up (a batch is split until that address is alone).
REFUSED = (400, 422)


# What a 404 says when Encharge itself answers that the person addressed does not exist ("Person not found",
# "Person with id ... not found"): a JSON error naming the person. Any other 404 (an HTML page from a gateway
# or a retired route, a JSON "Not Found" that names nobody) says nothing about the person.
PERSON_NOT_FOUND = re.compile(r"\bperson\b.*\bnot found\b", re.IGNORECASE | re.DOTALL)


def error_message(response: requests.Response) -> str:
    """The message of Encharge's JSON error envelope, "" when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or "")
    if isinstance(error, str):
        return error
    return str(body.get("message") or "")


def person_not_found(response: requests.Response) -> bool:
    """True only for a 404 whose JSON error names the person as not found: Encharge's own answer."""
    return response.status_code == 404 and bool(PERSON_NOT_FOUND.search(error_message(response)))


def describe_encharge_error(response: requests.Response) -> ApiError:
    status = response.status_code
    message = error_message(response)
    if not message and status == 404:
        message = "not Encharge's answer about a person (no JSON error naming one): a gateway or a missing route?"
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
    that person, when it gave one), those that failed (with why), those whose person, addressed by id,
    Encharge no longer has (its JSON 404 "person not found": deleted since it was read; not a failure, and
    nothing was written), and those never sent because the writes were stopped (`stopped` says why: the
    sync was paused, or `error`, a failure no retry fixed for everyone, a 401 say, stopped them; requests
    in flight then finished and are in the other lists)."""

    succeeded: list[tuple[Key, Person | None]] = field(default_factory=list)
    failed: list[tuple[Key, str]] = field(default_factory=list)
    gone: list[tuple[Key, str]] = field(default_factory=list)
    not_sent: list[Key] = field(default_factory=list)
    stopped: str | None = None
    error: Exception | None = None

    def extend(self, other: WriteOutcome) -> None:
        self.succeeded.extend(other.succeeded)
        self.failed.extend(other.failed)
        self.gone.extend(other.gone)
        self.not_sent.extend(other.not_sent)
        self.stopped = self.stopped or other.stopped
        self.error = self.error or other.error


@dataclass
class Lookup:
    """What `GET /people` found for a set of addresses: the people (archived included), and the addresses
    Encharge refused to look up, each alone, with why (so nobody can say whether that person exists)."""

    found: list[Person] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

    def extend(self, other: Lookup) -> None:
        self.found.extend(other.found)
        self.refused.update(other.refused)


OnBatch = Callable[[WriteOutcome], None]
