"""Each sync's stable key (its Dagster partition key), kept in our table `MarketingSyncKey`.

The NestJS app writes syncs without one: the pipeline gives a row its key the first time it sees it (at
`init`, listing the syncs, finding one to run, the registry sensor), from its name, made unique. A key
never changes afterwards, whatever happens to the name; deleting the sync deletes its key.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import Select, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from marketing_pipeline.store.database import connect
from marketing_pipeline.store.schema import marketing_sync, marketing_sync_key

# Each round keys every row that still lacks one; a round loses a row only to another process keying it
# (or taking its key) at the same moment, so a few rounds always suffice.
ROUNDS = 5


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug or "sync"


def with_keys(*columns: Any) -> Select:
    """A select over the syncs, each with its key (None for a row not yet keyed): every sync column unless
    `columns` names some."""
    chosen = columns or (*marketing_sync.c, marketing_sync_key.c.key)
    joined = marketing_sync.outerjoin(marketing_sync_key, marketing_sync_key.c.syncId == marketing_sync.c.id)
    return select(*chosen).select_from(joined)


def free_key(conn: Connection, base: str) -> str:
    taken = set(conn.execute(select(marketing_sync_key.c.key)).scalars())
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    return key


def insert_key(conn: Connection, sync_id: str, key: str | None, name: str) -> str:
    """Key a new row, in the caller's transaction: `key`, or one made from the name."""
    key = key or free_key(conn, slugify(name))
    conn.execute(insert(marketing_sync_key).values(syncId=sync_id, key=key))
    return key


def assign_missing_keys(url: str) -> list[str]:
    """Give every sync without a key (one the NestJS app wrote, say) a key from its name; the keys given.
    Safe beside other processes doing the same: each key is its own transaction, and a row or key taken
    meanwhile is looked at again."""
    assigned: list[str] = []
    for _ in range(ROUNDS):
        with connect(url) as conn:
            missing = conn.execute(
                with_keys(marketing_sync.c.id, marketing_sync.c.name)
                .where(marketing_sync_key.c.key.is_(None))
                .order_by(marketing_sync.c.createdAt, marketing_sync.c.id)
            ).all()
        if not missing:
            break
        for sync_id, name in missing:
            try:
                with connect(url) as conn:
                    assigned.append(insert_key(conn, sync_id, None, name))
            except IntegrityError:
                continue  # keyed by another process, its key just taken, or the row deleted: next round
    return assigned
