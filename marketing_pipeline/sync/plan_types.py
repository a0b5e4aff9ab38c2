"""The plan's shape: its action rows (one per write or skip, `ACTION_COLUMNS`), the fields a sync writes,
the plan itself with its counts and fingerprint. `sync.plan` builds it; `sync.matching` and the plan's steps
make its rows with `action_rows`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import pandas as pd

from marketing_pipeline.sync.ownership import Ownership

ACTIONS = ("create", "update", "add_tag", "remove_tag", "skip")
ACTION_COLUMNS = [
    "action",
    "email",
    "person_id",
    "contact_id",
    "first_name",
    "last_name",
    "company",
    "changes",
    "tag",
    "reason",
]
# (ConnectWise column, Encharge field name)
SYNCED_FIELDS = (("first_name", "firstName"), ("last_name", "lastName"), ("company", "company"))


@dataclass(frozen=True)
class PlanCounts:
    contacts_total: int
    create: int
    update: int
    add_tag: int
    remove_tag: int
    skip: int
    unchanged: int
    tagged_before: int

    @property
    def writes(self) -> int:
        return self.create + self.update + self.add_tag + self.remove_tag

    @property
    def audience(self) -> int:
        """Distinct people the audience will hold: contacts minus skipped."""
        return self.contacts_total - self.skip


@dataclass(frozen=True)
class SyncPlan:
    """`actions` holds one row per action; its index (0..n-1) is each action's key, which the apply step
    carries through every write and back to its result. `computed_in_run` and `computed_at` say where the
    plan comes from, so that a plan from another run is never applied blind."""

    tag: str
    contacts_total: int
    tagged_before: int
    unchanged: int
    actions: pd.DataFrame
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    shared: list[dict[str, Any]] = field(default_factory=list)  # people in other syncs' audiences too
    notes: list[str] = field(default_factory=list)  # what the reads behind the plan were like, for the operator
    reads: dict[str, Any] = field(default_factory=dict)  # the reads' own figures, by API, for the run details
    computed_in_run: str | None = None
    computed_at: datetime | None = None
    ownership: Ownership = field(default_factory=Ownership)  # the carriers the sync did not tag (`sync.ownership`)
    # (contact id, person id, address) of contacts matched to a person that the write record does not tie
    # them to yet, and for whom the plan writes nothing: recorded as `linked` when the plan is applied.
    links: list[tuple[int, str, str]] = field(default_factory=list)

    def of(self, action: str) -> pd.DataFrame:
        return self.actions[self.actions["action"] == action]

    @cached_property
    def counts(self) -> PlanCounts:
        by_action = self.actions["action"].value_counts()
        return PlanCounts(
            contacts_total=self.contacts_total,
            unchanged=self.unchanged,
            tagged_before=self.tagged_before,
            **{action: int(by_action.get(action, 0)) for action in ACTIONS},
        )

    @cached_property
    def fingerprint(self) -> str:
        """A stable hash of what the plan would write (skips included), for comparing runs."""
        ordered = self.actions.sort_values(["action", "email", "person_id", "contact_id"], na_position="first")
        payload = json.dumps(
            [self.tag, ordered.astype(object).where(ordered.notna(), None).values.tolist()],
            default=str,
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def action_rows(rows: pd.DataFrame, action: str, **columns: object) -> pd.DataFrame:
    """Action rows for `rows`: the named columns set (a Series or a constant), the others empty."""
    out = pd.DataFrame(index=rows.index)
    out["action"] = action
    for name in ACTION_COLUMNS[1:]:
        value = columns.get(name)
        out[name] = value if value is not None else None
    return out


def contact_skips(rows: pd.DataFrame, reason: object, *, with_email: bool = True) -> pd.DataFrame:
    """Skip rows for contacts (`rows` with ConnectWise's columns): who they are, and why they are skipped."""
    return action_rows(
        rows,
        "skip",
        contact_id=rows["contact_id"],
        email=rows["email"] if with_email else None,
        first_name=rows["first_name"],
        last_name=rows["last_name"],
        company=rows["company"],
        reason=reason,
    )
