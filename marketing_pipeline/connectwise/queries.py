"""The server-side filters of a ConnectWise read, each an optional *narrowing* of the query.

Conditions are an optimisation: the complete filter in code (`sync/filters.py`) decides, so any narrowing
the server refuses can be dropped and the query read on without it. Only forms the public Developer Guide
documents are used: `field in (...)`, `field=value`, `field > value` and `field >= [datetime]` joined by
`and` in `conditions`, and one `types/id=N` comparison in `childConditions` (so a filter with several types
reads one query per type, merged by id).

Two clauses are not optimisations but what the read stands on (`required`): `id > N`, which pages a query
by key, and `lastUpdated >= [time]`, which finds what changed while it was read. Neither is ever dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal

import requests

from marketing_pipeline.connectwise import conditions as cond

Param = Literal["conditions", "childConditions"]


@dataclass(frozen=True)
class Narrowing:
    """One clause of `conditions` or `childConditions`, and the field it names (to match a refusal)."""

    param: Param
    clause: str
    field: str
    required: bool = False  # what the read stands on: refused, it cannot go on without it

    @property
    def key(self) -> str:
        return f"{self.param}:{self.field.lower()}"


def condition(field: str, clause: str) -> Narrowing:
    return Narrowing("conditions", clause, field)


def after_id(last_id: int) -> Narrowing:
    """`id > N`: the next page of a query ordered by id, whatever was added or removed before N meanwhile."""
    return Narrowing("conditions", f"id > {int(last_id)}", "id", required=True)


def changed_since(when: datetime) -> Narrowing:
    """`lastUpdated >= [time]`: the records edited since then (ConnectWise stamps `_info.lastUpdated`)."""
    stamp = when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Narrowing("conditions", f"lastUpdated >= [{stamp}]", "lastUpdated", required=True)


def has_type(type_id: int) -> Narrowing:
    """`childConditions=types/id=N`: the array form public clients use and the Developer Guide's grammar allows."""
    return Narrowing("childConditions", cond.equals("types/id", int(type_id)), "types/id")


def params(narrowings: Iterable[Narrowing], **extra: Any) -> dict[str, Any]:
    """Query parameters: the narrowings' clauses joined by `and` in their parameter, plus `extra`."""
    out = {k: v for k, v in extra.items() if v is not None}
    for param in ("conditions", "childConditions"):
        clauses = [n.clause for n in narrowings if n.param == param]
        if clauses:
            out[param] = cond.all_of(clauses)
    return out


def refused(message: str, narrowings: Sequence[Narrowing]) -> Narrowing | None:
    """The narrowing a 400 refused: the one whose field its message names (ConnectWise says
    `"types/id is not a recognized name."`), else the least trusted one that may be dropped (the last), or
    None when none is left."""
    text = message.lower()
    for narrowing in narrowings:
        if re.search(rf"(?<![\w/]){re.escape(narrowing.field.lower())}(?![\w/])", text):
            return narrowing
    droppable = [n for n in narrowings if not n.required]
    return droppable[-1] if droppable else None


def describe(narrowing: Narrowing) -> str:
    """The clause as an operator reads it, e.g. `deletedFlag=false` (conditions); id lists are elided."""
    clause = narrowing.clause
    if " in (" in clause:
        clause = clause[: clause.index(" in (")] + " in (...)"
    return f"`{clause}` ({narrowing.param})"


def url_length_without_ids(url: str, narrowings: Iterable[Narrowing], *, fields: str, page_size: int) -> int:
    """The length of a query's URL with an empty `company/id in ()`, before any company ids are in it."""
    keyset = after_id(2**31 - 1)  # the longest `id > N` a page will carry
    skeleton = {
        **params([*narrowings, condition("company/id", "company/id in ()"), keyset], fields=fields, orderBy="id asc"),
        "page": 99999,
        "pageSize": page_size,
    }
    return len(requests.Request("GET", url, params=skeleton).prepare().url or "")
