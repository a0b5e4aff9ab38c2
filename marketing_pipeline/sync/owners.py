"""One owner of each person's fields when several syncs' audiences hold the person.

Two syncs whose audiences share an address (one person at two companies, each in one sync's filter) would
otherwise each write their own first name, last name and company there, every run, each undoing the other.
The rule: of the syncs that hold the address, the one created first owns its fields (ties: the lower sync
id); the others only add their own tag. It is deterministic (the same answer in every sync's run, whichever
runs first or at the same time) and stable (a sync's creation time never changes).

"Holds" rests on evidence the store has: each sync's latest audience, as its last real run read it from
ConnectWise (`MarketingSyncAudience`). A sync that is paused or deleted holds nobody (it writes nothing, so it
cannot keep a person's fields current), and a person who left the owner's audience is no longer its own
from the owner's next run: ownership then moves to the next sync in line. Where the evidence is stale (the
owner has not run since the person left it), the others keep only tagging: missed work, never a flip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, order=True)
class SyncRank:
    """A sync as the rule sees it: ordered by creation time, then id (the owner is the least)."""

    created_at: datetime
    sync_id: str
    label: str  # the sync's key or name, for people to read


@dataclass(frozen=True)
class Shared:
    """An audience address other syncs hold too: who owns its fields and who else holds it."""

    owner: SyncRank
    holders: tuple[SyncRank, ...]  # every sync holding it, this one included, owner first
    mine: bool  # this sync owns it

    def as_detail(self, email_key: str) -> dict[str, Any]:
        return {
            "email": email_key,
            "fieldsOwnedBy": self.owner.label,
            "syncs": [h.label for h in self.holders],
            "thisSyncOwns": self.mine,
        }


def field_owner(holders: Iterable[SyncRank]) -> SyncRank:
    """The sync that owns the fields of a person these syncs all hold: the one created first."""
    return min(holders)


def shared_addresses(
    me: SyncRank, audience: Iterable[str], others: Mapping[str, Iterable[SyncRank]]
) -> dict[str, Shared]:
    """For each address of this sync's audience (`audience`, lower-cased) that other syncs hold too
    (`others`: address -> the other active syncs whose latest audience holds it), who owns its fields."""
    shared: dict[str, Shared] = {}
    for key in audience:
        holders = {h for h in others.get(key, ()) if h.sync_id != me.sync_id}
        if not holders:
            continue
        ranked = tuple(sorted(holders | {me}))
        owner = field_owner(ranked)
        shared[key] = Shared(owner=owner, holders=ranked, mine=owner.sync_id == me.sync_id)
    return shared


def shared_note(shared: Mapping[str, Shared]) -> str | None:
    """One line for the run's notes: how many people this sync shares, and who owns their fields."""
    if not shared:
        return None
    mine = sum(1 for s in shared.values() if s.mine)
    theirs = len(shared) - mine
    owners = sorted({s.owner.label for s in shared.values() if not s.mine})
    parts = []
    if mine:
        parts.append(f"{mine} owned by this sync (created first), which the others only tag")
    if theirs:
        parts.append(
            f"{theirs} owned by {', '.join(repr(o) for o in owners)} (created first): this sync only tags them, "
            "never writing their name or company"
        )
    return f"{len(shared)} people are in another sync's audience too: " + "; ".join(parts)
