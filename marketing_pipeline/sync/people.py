"""Encharge people as a table the plan can match against.

A synced field (first name, last name, company) that Encharge does not return, returns as null or as an
empty string is held as None: Encharge was silent about it, and the plan compares with what the sync last
wrote instead (see `sync.written_fields`). The reference leaves open whether reads return `company` at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from marketing_pipeline.sync.emails import email_key
from marketing_pipeline.sync.frames import with_none

PEOPLE_COLUMNS = ["person_id", "email", "email_key", "first_name", "last_name", "company", "tags", "subscribed"]
TEXT_COLUMNS = ["email", "email_key", "first_name", "last_name", "company"]
OBJECT_COLUMNS = [*TEXT_COLUMNS, "subscribed"]  # held with None, never NaN


def split_tags(tags: Any) -> frozenset[str]:
    """Encharge renders tags as one comma-separated string (or null); tolerate a list too."""
    if tags is None or (isinstance(tags, float) and pd.isna(tags)):
        return frozenset()
    parts = tags if isinstance(tags, list | tuple | set | frozenset) else str(tags).split(",")
    return frozenset(p.strip() for p in map(str, parts) if p.strip())


def join_tags(tags: Iterable[str]) -> str:
    return ",".join(sorted(tags))


def people_frame(people: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Rows from `GET /people/all` (or `GET /people`) items. People without an id are dropped (nothing can
    address them), and a person listed twice is kept once."""
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
                "subscribed": _subscribed(person.get("unsubscribed")),
            }
        )
    frame = pd.DataFrame(rows, columns=PEOPLE_COLUMNS).drop_duplicates("person_id", ignore_index=True)
    return with_none(frame, OBJECT_COLUMNS)


def with_found(people: pd.DataFrame, found: pd.DataFrame, keys: Iterable[str]) -> pd.DataFrame:
    """The people read, plus those a lookup found at `keys` (addresses the read did not have). A person the
    read listed too is taken as the lookup shows them: the lookup is the fresher evidence (someone who
    changed address while the account was read keeps the tag the old address would have lost)."""
    found = found[found["email_key"].isin(set(keys))]
    if found.empty:
        return people
    rest = people[~people["person_id"].isin(set(found["person_id"]))]
    return with_none(pd.concat([rest, found], ignore_index=True), [c for c in OBJECT_COLUMNS if c in people])


def duplicate_people(people: pd.DataFrame) -> list[dict[str, Any]]:
    """Addresses that several people share up to case: [{"email", "personIds", "emails"}], by address."""
    addressed = people[people["email_key"].notna()]
    shared = addressed[addressed.duplicated("email_key", keep=False)].sort_values(["email_key", "person_id"])
    return [
        {"email": key, "personIds": list(group["person_id"]), "emails": list(group["email"])}
        for key, group in shared.groupby("email_key", sort=True)
    ]


def _subscribed(unsubscribed: Any) -> bool | None:
    """True or False only where the read says (`unsubscribed`, a boolean); None where it is silent."""
    return (not unsubscribed) if isinstance(unsubscribed, bool) else None


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None
