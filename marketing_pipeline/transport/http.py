"""Retrying, counting HTTP for one API.

One `requests.Session` per client, a timeout on every call, retries (tenacity) with exponential backoff and
full jitter on retryable statuses and connection errors (honouring `Retry-After`), an optional rate control
told about every answer (a throttle, 429 or 503, with or without Retry-After, JSON or HTML, slows it
down; anything else lets it speed up), per-endpoint request counts, and error texts scrubbed of secrets.
A request that cannot even be sent as configured (a header value or URL that HTTP cannot carry) is a
configuration error: never retried, and its text (which may quote a header value) never shown.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import tenacity

from marketing_pipeline.errors import ApiError, ConfigurationError
from marketing_pipeline.settings import DEFAULTS
from marketing_pipeline.transport.rate import RateControl
from marketing_pipeline.transport.redact import redact_url, scrub

USER_AGENT = "marketing-pipeline/0.1 (+dagster)"
# The server asks us to slow down: 429, and 503 (what many gateways answer over their limit).
THROTTLE_STATUSES = frozenset({429, 503})
# Raised before anything is sent: the configuration is wrong, and trying again cannot help.
UNSENDABLE = (
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    UnicodeError,
)
# Nothing was answered: another attempt may get through.
UNANSWERED = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


# Retried on both APIs: 429 (with or without Retry-After or JSON) and 5xx but 501. Every ConnectWise request
# is a read, so its 500 is retried like 502-504 (the Developer Guide advises retrying 5xx with backoff).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = DEFAULTS.max_attempts
    base_delay: float = 0.5
    max_delay: float = 30.0  # the longest backoff between two attempts
    # A Retry-After longer than this is treated as "give up now" rather than stalling a run for an hour.
    max_retry_after: float = 120.0
    retry_statuses: frozenset[int] = RETRY_STATUSES


@dataclass
class RequestStats:
    """Requests made, by 'METHOD /path', plus retries and throttled answers (429/503); thread-safe."""

    counts: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, endpoint: str) -> None:
        with self._lock:
            self.counts[endpoint] += 1

    def add_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def add_throttled(self) -> None:
        with self._lock:
            self.throttled += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _retry_after(response: requests.Response) -> float | None:
    return parse_retry_after(response.headers.get("Retry-After"))


class HttpTransport:
    """Retrying, counting HTTP for one API. `describe_error` turns a final failure into a clear message."""

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        retry: RetrySettings,
        secrets: Iterable[str] = (),
        rate_control: RateControl | None = None,
        describe_error: Callable[[requests.Response], ApiError] | None = None,
        pool_size: int = 16,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.service = service
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.retry = retry
        self.secrets = tuple(s for s in secrets if s)
        self.rate_control = rate_control
        self.describe_error = describe_error
        self.stats = RequestStats()
        # Told about every response handed back to the client: (endpoint, status, items in the request body).
        self.observers: list[Callable[[str, int, int], None]] = []
        self._sleep = sleep
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json", **headers})

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return path if re.match(r"^https?://", path) else urljoin(self.base_url, path.lstrip("/"))

    def _backoff(self, attempt: int, throttled: bool = False) -> float:
        ceiling = min(self.retry.max_delay, self.retry.base_delay * (2**attempt))
        # Throttled without Retry-After (e.g. a proxy's HTML 429): wait at least half the ceiling, so the
        # waits grow for sure instead of, by chance, hammering a limit that has not reset yet.
        return random.uniform(ceiling / 2 if throttled else 0, ceiling)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        ok_statuses: Iterable[int] = (),
    ) -> requests.Response:
        """The response, after retries; a final non-2xx (outside `ok_statuses`) raises ApiError."""
        url = self.url(path)
        endpoint = f"{method.upper()} /{urlsplit(url).path.rsplit('/apis/3.0/', 1)[-1].lstrip('/')}"
        endpoint = re.sub(r"^(\w+) /v1/", r"\1 /", endpoint)
        allowed = set(ok_statuses)
        attempts = self.retry.max_attempts
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(attempts),
            retry=tenacity.retry_if_exception_type(UNANSWERED)
            | tenacity.retry_if_result(lambda answer: answer.status_code not in allowed and self._retryable(answer)),
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=lambda _: self.stats.add_retry(),
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]  # the last answer
        )
        try:
            response: requests.Response = retrying(self._send, method, url, endpoint, params, json)
        except UNANSWERED as exc:
            message = f"{self.service}: {endpoint} failed after {attempts} attempts ({type(exc).__name__}: {exc})"
            raise ApiError(scrub(message + "; check that the API is reachable", self.secrets)) from None
        if response.ok or response.status_code in allowed:
            items = len(json) if isinstance(json, list) else 1
            for observe in self.observers:
                observe(endpoint, response.status_code, items)
            return response
        raise self._error(response, attempts=attempts if self._retryable(response) else None)

    def _retryable(self, response: requests.Response) -> bool:
        """A status worth another attempt, unless the server asks us to wait longer than a run should stall."""
        retry_after = _retry_after(response)
        too_long = retry_after is not None and retry_after > self.retry.max_retry_after
        return response.status_code in self.retry.retry_statuses and not too_long

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Retry-After when the server gave one, else the backoff for this attempt."""
        outcome = state.outcome
        response = None if outcome is None or outcome.failed else outcome.result()
        retry_after = _retry_after(response) if response is not None else None
        throttled = response is not None and response.status_code in THROTTLE_STATUSES
        return retry_after if retry_after is not None else self._backoff(state.attempt_number - 1, throttled)

    def _send(self, method: str, url: str, endpoint: str, params: Any, json: Any) -> requests.Response:
        """One attempt, counted and paced; the rate control hears how it was answered."""
        if self.rate_control:
            self.rate_control.acquire()
        self.stats.add(endpoint)
        try:
            response = self.session.request(method, url, params=params, json=json, timeout=self.timeout)
        except UNSENDABLE as exc:
            raise self._unsendable(exc) from None
        if response.status_code in THROTTLE_STATUSES:
            self.stats.add_throttled()
            if self.rate_control:
                self.rate_control.throttled(_retry_after(response))
        elif self.rate_control:
            self.rate_control.succeeded()
        return response

    def _unsendable(self, exc: BaseException) -> ConfigurationError:
        """What cannot be sent, named by setting, without the exception's text (it quotes header values)."""
        if isinstance(exc, requests.exceptions.InvalidHeader | UnicodeError):
            return ConfigurationError(
                f"{self.service}: a credential or ID cannot be sent in an HTTP header (a line break, control "
                "or non-ASCII character in it?): check the API keys and IDs in the environment"
            )
        return ConfigurationError(
            f"{self.service}: cannot send a request to {redact_url(self.base_url)}: check the base URL setting"
        )

    def _error(self, response: requests.Response, attempts: int | None = None) -> ApiError:
        if self.describe_error is not None:
            error = self.describe_error(response)
        else:
            error = ApiError(f"{self.service}: HTTP {response.status_code}", status=response.status_code)
        message = str(error)
        if attempts:
            message += f" (after {attempts} attempts)"
        return type(error)(scrub(message, self.secrets), status=response.status_code)

    def json(self, response: requests.Response) -> Any:
        """The body as JSON, or a clear error naming the endpoint when it is not JSON."""
        try:
            return response.json()
        except ValueError:
            snippet = scrub(response.text[:120].replace("\n", " "), self.secrets)
            raise ApiError(
                f"{self.service}: {response.request.method} {urlsplit(response.url).path} returned a body "
                f"that is not JSON (HTTP {response.status_code}): {snippet!r}",
                status=response.status_code,
            ) from None
