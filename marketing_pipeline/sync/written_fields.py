"""What the sync last wrote to each person's synced fields, for where Encharge's reads are silent.

When a read leaves a synced field out (or returns it null or empty), the plan compares ConnectWise's value
with the value the sync last wrote there: a steady state writes nothing, and a real change in ConnectWise
(a renamed company) still differs and is written. A field that neither Encharge nor the memory knows is
written once, and remembered from then on.

It also keeps the spelling of the sync's tag last added to each person (`tag`): where Encharge shows that
person carrying the tag in another spelling only, Encharge rewrote it (a server that keeps an account's
first spelling of a tag, or lower-cases tags), and the plan takes it as carried instead of moving it again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from marketing_pipeline.sync.frames import with_none

WRITTEN_COLUMNS = ["email_key", "first_name", "last_name", "company", "tag"]


@dataclass(frozen=True)
class WrittenFields:
    """One person's synced fields as the sync wrote them; None where a write left the field alone."""

    email_key: str
    person_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    tag: str | None = None  # the spelling of the sync's tag added to the person


def merged(records: Iterable[WrittenFields]) -> list[WrittenFields]:
    """One record per person: a run may write a person's fields and add the tag in two steps, and a field
    one record leaves alone (None) must not hide what another wrote."""
    out: dict[str, WrittenFields] = {}
    for r in records:
        old = out.get(r.email_key)
        if old is None:
            out[r.email_key] = r
            continue
        values = {
            name: getattr(r, name) if getattr(r, name) is not None else getattr(old, name)
            for name in ("person_id", "first_name", "last_name", "company", "tag")
        }
        out[r.email_key] = WrittenFields(email_key=r.email_key, **values)
    return list(out.values())


def written_frame(records: Iterable[WrittenFields]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [(r.email_key, r.first_name, r.last_name, r.company, r.tag) for r in records], columns=WRITTEN_COLUMNS
    ).drop_duplicates("email_key", keep="last")
    return with_none(frame, WRITTEN_COLUMNS)
