"""One tag, one sync: the rule, in one place.

Two syncs that share a tag take it from each other's people run after run, each under the brake. So the
store refuses a tag another sync has wherever a tag is set (`create_sync`, `update_sync`, and `init`
through them), and a row written by others (the NestJS app) that shares a tag carries a problem that stops
every step of both syncs. Tags are the same by `sync.tags.tag_key` (trimmed, any case): whether Encharge
tells `News` from `news` is undocumented. The SQL below is that key (`lower(trim(...))`; tag names are ASCII).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy.engine import Connection, RowMapping

from marketing_pipeline.errors import InvalidSyncConfigError
from marketing_pipeline.store.keys import with_keys
from marketing_pipeline.store.schema import marketing_sync, marketing_sync_key
from marketing_pipeline.sync.tags import tag_key

__all__ = ["clash_of", "require_free_tag", "tag_clash", "tag_key"]


def tag_clash(name: str, tag: str, others: Sequence[RowMapping]) -> str | None:
    """The problem of a row whose tag other rows use too (rows the NestJS app wrote, say)."""
    if not others:
        return None
    named = ", ".join(repr(o["key"] or o["name"]) for o in others)
    return (
        f"sync {name!r}: tagName {tag!r} is also the tag of sync {named}: two syncs sharing a tag take it from "
        "each other's people; give each sync its own tag (nothing is run until then)"
    )


def require_free_tag(conn: Connection, tag: str, *, name: str, sync_id: str | None = None) -> None:
    """The one rule: no two syncs share a tag (checked wherever a tag is set)."""
    t = marketing_sync
    query = with_keys(marketing_sync_key.c.key, t.c.name).where(func.lower(func.trim(t.c.tagName)) == tag_key(tag))
    if sync_id is not None:
        query = query.where(t.c.id != sync_id)
    other = conn.execute(query).mappings().first()
    if other is not None:
        raise InvalidSyncConfigError(
            f"sync {name!r}: tagName {tag!r} is already the tag of sync {other['key'] or other['name']!r}; "
            "two syncs sharing a tag would take it from each other's people"
        )


def clash_of(conn: Connection, row: RowMapping) -> str | None:
    """The problem of this row if other rows have its tag, else None."""
    t = marketing_sync
    others = (
        conn.execute(
            with_keys(marketing_sync_key.c.key, t.c.name)
            .where(func.lower(func.trim(t.c.tagName)) == tag_key(row["tagName"]))
            .where(t.c.id != row["id"])
            .order_by(t.c.createdAt)
        )
        .mappings()
        .all()
    )
    return tag_clash(row["name"], row["tagName"], others)
