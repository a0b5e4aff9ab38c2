"""Whose tag is it: a sync takes its tag only from people it tagged, until it owns the tag.

A tag may have carriers the sync never tagged: people tagged by hand, or by a previous owner of the tag
(another tool, a sync since deleted). Taking the tag from them is a decision an operator makes once. Until
the sync owns its tag (`TagAdoption.owns`: its operators set it to adopt the tag's existing carriers, or
approved or forced a run that would untag such people, or its first run found no such people, or it
completed runs before the write record existed), a plan that would take the tag from anyone the write
record does not show it tagged is braked, and shows them. Once it owns the tag, the specification's rule
holds: everyone carrying the tag who is not in the audience loses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from marketing_pipeline.sync.write_record import TaggedBySync

SHOWN = 5  # carriers named in the brake's message (all of them are in the plan and the run details)


@dataclass(frozen=True)
class Ownership:
    """What a plan knows of the tag's carriers while the sync does not own its tag: how many carry it whom
    the sync did not tag, and those of them the plan would untag. `owned` when the sync owns the tag."""

    owned: bool = True
    not_tagged_by_sync: int = 0
    would_lose: list[dict[str, Any]] = field(default_factory=list)

    def as_details(self) -> dict[str, Any] | None:
        if self.owned:
            return None
        return {"carriersNotTaggedBySync": self.not_tagged_by_sync, "wouldLoseTheTag": self.would_lose}


def ownership(carriers: pd.DataFrame, removals: pd.DataFrame, tagged_by_sync: TaggedBySync | None) -> Ownership:
    """`carriers`: the people carrying the tag (`person_id`, `email`); `removals`: the plan's removal rows;
    `tagged_by_sync`: whom the write record shows the sync tagged, None when the sync owns its tag."""
    if tagged_by_sync is None:
        return Ownership()

    def ours(rows: pd.DataFrame) -> pd.Series:
        covered = [tagged_by_sync.covers(p, e) for p, e in zip(rows["person_id"], rows["email"], strict=True)]
        return pd.Series(covered, index=rows.index, dtype=bool)

    not_ours = carriers[~ours(carriers)]
    losing = removals[~ours(removals)].sort_values(["email", "person_id"])
    return Ownership(
        owned=False,
        not_tagged_by_sync=len(not_ours),
        would_lose=[{"email": row.email, "personId": row.person_id} for row in losing.itertuples(index=False)],
    )


def ownership_brake(owned: Ownership, tag: str) -> str | None:
    """Why the plan must wait for an operator's decision, or None."""
    losing = owned.would_lose
    if owned.owned or not losing:
        return None
    more = f" and {len(losing) - SHOWN} more" if len(losing) > SHOWN else ""
    named = ", ".join(str(p["email"]) for p in losing[:SHOWN]) + more
    # The way out before the names: a message is cut at 500 characters.
    return (
        f"the plan would take the tag {tag!r} from {len(losing)} people this sync never tagged (by hand, or a "
        "previous owner of the tag): nothing was applied (if they are to lose it, approve this plan's hash "
        "(`syncs trigger SYNC --approve HASH`, or `approved_plan_hash`), or let the sync adopt the tag's "
        f"carriers: `syncs update SYNC --adopt-existing-tag`); they are {named}"
    )


def adopted_how(owned: Ownership, *, approved_hash: str | None, forced: bool) -> str | None:
    """How a run that passed the brake took ownership of the tag, None when it did not (it already owned
    it, or people it did not tag still carry it and none of them lost it: the decision is still to come)."""
    if owned.owned:
        return None
    if approved_hash and owned.would_lose:
        return f"approved plan {approved_hash}"
    if forced and owned.would_lose:
        return "a forced run"
    if owned.not_tagged_by_sync == 0:
        return "its first run found no carriers it did not tag"
    return None
