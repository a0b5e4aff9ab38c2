"""What ConnectWise answers, read with care: errors in an operator's words, whether another page follows,
and what makes a page trustworthy (every field asked for through `fields` is there, contacts read by
company carry their company, and over a whole read each field the filter decides on is carried by
someone). Checks on the raw JSON, before the sync's models give a missing field its empty default."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import requests

from marketing_pipeline.errors import ApiAuthError, ApiError

SERVICE = "ConnectWise"


def _body_detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        text = response.text.lstrip()[:200].lower()
        if text.startswith("<") or "html" in response.headers.get("Content-Type", ""):
            return "an HTML page, not ConnectWise's JSON: probably a proxy or firewall in front of the API"
        return ""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("code") or body.get("error") or "")
    return ""


def describe_connectwise_error(response: requests.Response) -> ApiError:
    status = response.status_code
    detail = _body_detail(response)
    endpoint = re.sub(r".*/apis/3\.0", "", response.url.split("?")[0])
    if status == 401 and "clientid" in detail.lower().replace(" ", ""):
        return ApiAuthError(
            f"{SERVICE} refused the clientId (HTTP 401 on {endpoint}: {detail}): check CW_CLIENT_ID, the "
            "integration's clientId from the ConnectWise Developer Network",
            status=status,
        )
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
        return ApiError(
            f"{SERVICE} has no {endpoint} (HTTP 404): check CW_BASE_URL, or CW_SITE and CW_COMPANY_ID (host and "
            "codebase); on ConnectWise cloud a 404 can also mean wrong credentials",
            status,
        )
    if status == 429:
        return ApiError(
            f"{SERVICE} kept throttling requests (HTTP 429 on {endpoint}{': ' + detail if detail else ''}): "
            "run again later, or lower CW_CONCURRENCY",
            status=status,
        )
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


ROLE = "the API member's security role (ConnectWise: System > Security Roles)"


def lacking(record: Any, fields: Iterable[str]) -> list[str]:
    """The fields (top-level names) absent from a record, whatever their value would be."""
    if not isinstance(record, dict):
        return list(fields)
    missing = [f for f in fields if f not in record]  # exact names first: ConnectWise's own camelCase
    if missing:
        keys = {k.lower() for k in record}
        missing = [f for f in missing if f.lower() not in keys]
    return missing


def _value(record: Any, field: str) -> Any:
    if not isinstance(record, dict):
        return None
    if field in record:
        return record[field]
    lowered = field.lower()
    return next((v for k, v in record.items() if k.lower() == lowered), None)


def carries(record: Any, field: str) -> bool:
    return _value(record, field) is not None


def has_company(record: Any) -> bool:
    company = _value(record, "company")
    return isinstance(company, dict) and _value(company, "id") is not None


def blank_company_error(record: Any) -> ApiAuthError:
    ident = _value(record, "id")
    return ApiAuthError(
        f"ConnectWise returned contact {ident} without its company, although it was asked for contacts by "
        f"company: {ROLE} hides contacts' companies. Let that role see companies and contacts (Companies > "
        "Company Maintenance and Contacts, inquire level All) and run again; nothing was written"
    )


class FieldCensus:
    """How many records of a read carried each field the filter decides on (thread-safe)."""

    def __init__(self, kind: str, fields: Sequence[str]) -> None:
        self.kind = kind
        self.fields = tuple(fields)
        self.records = 0
        self.carried: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, page: Sequence[Any]) -> None:
        counts = Counter(f for record in page for f in self.fields if carries(record, f))
        with self._lock:
            self.records += len(page)
            self.carried.update(counts)

    def missing_everywhere(self) -> list[str]:
        return [f for f in self.fields if self.records and not self.carried[f]]

    def check(self) -> None:
        """A field no record carries would empty the audience without a word: refuse the read instead."""
        missing = self.missing_everywhere()
        if missing:
            names = ", ".join(f"`{f}`" for f in missing)
            raise ApiAuthError(
                f"ConnectWise returned {self.records:,} {self.kind} and none carries {names}: {ROLE} probably hides "
                f"{'it' if len(missing) == 1 else 'them'}, and without {'it' if len(missing) == 1 else 'them'} "
                "nobody can be placed in the audience; nothing was written"
            )
