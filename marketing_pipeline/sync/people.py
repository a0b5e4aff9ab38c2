"""Encharge people as a table the plan can match against."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from marketing_pipeline.sync.emails import email_key
from marketing_pipeline.sync.frames import with_none

PEOPLE_COLUMNS = ["person_id", "email", "email_key", "first_name", "last_name", "company", "tags"]


def split_tags(tags: Any) -> frozenset[str]:
    """Encharge renders tags as one comma-separated string (or null); tolerate a list too."""
    if tags is None or (isinstance(tags, float) and pd.isna(tags)):
        return frozenset()
    parts = tags if isinstance(tags, list | tuple | set | frozenset) else str(tags).split(",")
    return frozenset(p.strip() for p in map(str, parts) if p.strip())


def join_tags(tags: Iterable[str]) -> str:
    return ",".join(sorted(tags))


def people_frame(people: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows from `GET /people/all` items. People without an id are dropped (nothing can address them)."""
    rows = []
    for person in people:
        person_id = person.get("id")
        if person_id in (None, ""):
            continue
        raw_email = person.get("email")
        email = raw_email.strip() if isinstance(raw_email, str) and raw_email.strip() else None
        rows.append(
            {
                "person_id": str(person_id),
                "email": email,
                "email_key": email_key(email) if email else None,
                "first_name": _text(person.get("firstName")),
                "last_name": _text(person.get("lastName")),
                "company": _text(person.get("company")),
                "tags": join_tags(split_tags(person.get("tags"))),
            }
        )
    return with_none(pd.DataFrame(rows, columns=PEOPLE_COLUMNS), ["email", "email_key"])


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
