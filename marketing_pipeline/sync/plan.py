"""The diff between the ConnectWise audience and the Encharge people: what a sync will write.

Rules (the seed's, made exact):
- contacts are matched to people by email, case-insensitively; two contacts with one email are one
  person (the lower contact id wins, the other is skipped as a duplicate);
- a contact with no usable email is skipped with the reason;
- an existing person is updated only in the fields (first name, last name, company) whose ConnectWise
  value is non-empty and differs, and gets the tag if it lacks it;
- a contact with no person becomes a new person with the tag;
- a person carrying the tag whose address is not in the audience loses the tag and nothing else;
- people without the tag, and every other tag, are never touched.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from marketing_pipeline.sync.people import split_tags

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
    tag: str
    contacts_total: int
    tagged_before: int
    unchanged: int
    actions: pd.DataFrame

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


def _frame(rows: pd.DataFrame, action: str, **columns: object) -> pd.DataFrame:
    out = pd.DataFrame(index=rows.index)
    out["action"] = action
    for name in ACTION_COLUMNS[1:]:
        value = columns.get(name)
        out[name] = value if value is not None else None
    return out


def build_plan(contacts: pd.DataFrame, people: pd.DataFrame, tag: str) -> SyncPlan:
    """The plan for one sync. `contacts` as from `audience.contact_frame`, `people` as from
    `people.people_frame`, `tag` the sync's Encharge tag."""
    tag = tag.strip()
    has_tag = people["tags"].map(lambda tags: tag in split_tags(tags)).astype(bool)

    # Skips: no usable email, then duplicates of an earlier contact's address.
    contacts = contacts.sort_values("contact_id")
    unusable = contacts[contacts["email_problem"].notna()]
    usable = contacts[contacts["email_problem"].isna()]
    duplicated = usable.duplicated("email_key", keep="first")
    first_by_key = usable[~duplicated].set_index("email_key")["contact_id"]
    duplicates = usable[duplicated]
    audience = usable[~duplicated]

    skipped = [
        _frame(
            unusable,
            "skip",
            contact_id=unusable["contact_id"],
            email=None,
            first_name=unusable["first_name"],
            last_name=unusable["last_name"],
            company=unusable["company"],
            reason=unusable["email_problem"],
        ),
        _frame(
            duplicates,
            "skip",
            contact_id=duplicates["contact_id"],
            email=duplicates["email"],
            first_name=duplicates["first_name"],
            last_name=duplicates["last_name"],
            company=duplicates["company"],
            reason="duplicate email: same address as contact " + duplicates["email_key"].map(first_by_key).astype(str),
        ),
    ]

    # One person per address: where Encharge holds several, prefer the one with the tag, then the lowest id.
    addressed = people[people["email_key"].notna()].assign(_has_tag=has_tag)
    addressed = addressed.sort_values(["_has_tag", "person_id"], ascending=[False, True])
    addressed = addressed.drop_duplicates("email_key", keep="first")
    merged = audience.merge(
        addressed[["email_key", "person_id", "email", "first_name", "last_name", "company", "_has_tag"]],
        on="email_key",
        how="left",
        suffixes=("", "_enc"),
    )

    new = merged[merged["person_id"].isna()]
    existing = merged[merged["person_id"].notna()]

    creates = _frame(
        new,
        "create",
        email=new["email"],
        contact_id=new["contact_id"],
        first_name=new["first_name"],
        last_name=new["last_name"],
        company=new["company"],
        reason=new["reason"],
    )

    changed = pd.DataFrame(index=existing.index)
    for column, _ in SYNCED_FIELDS:
        ours = existing[column].fillna("")
        theirs = existing[f"{column}_enc"].fillna("")
        changed[column] = (ours != "") & (ours != theirs)
    needs_update = changed.any(axis=1)
    upd = existing[needs_update]
    change_names = (
        changed[needs_update].apply(
            lambda row: ",".join(field for column, field in SYNCED_FIELDS if row[column]), axis=1
        )
        if len(upd)
        else pd.Series(dtype=object)
    )
    updates = _frame(
        upd,
        "update",
        email=upd["email_enc"],
        person_id=upd["person_id"],
        contact_id=upd["contact_id"],
        first_name=upd["first_name"].where(changed.loc[upd.index, "first_name"], None),
        last_name=upd["last_name"].where(changed.loc[upd.index, "last_name"], None),
        company=upd["company"].where(changed.loc[upd.index, "company"], None),
        changes=change_names,
        reason=upd["reason"],
    )

    untagged = existing[~existing["_has_tag"].astype(bool)]
    tag_adds = _frame(
        untagged,
        "add_tag",
        email=untagged["email_enc"],
        person_id=untagged["person_id"],
        contact_id=untagged["contact_id"],
        reason=untagged["reason"],
    )

    unchanged = int((~needs_update & existing["_has_tag"].astype(bool)).sum())

    in_audience = set(audience["email_key"])
    leaving = people[has_tag & ~people["email_key"].isin(in_audience)]
    removals = _frame(
        leaving,
        "remove_tag",
        email=leaving["email"],
        person_id=leaving["person_id"],
        first_name=leaving["first_name"],
        last_name=leaving["last_name"],
        company=leaving["company"],
        reason="no longer in the ConnectWise audience",
    )

    parts = [creates, updates, tag_adds, removals, *skipped]
    actions = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else (pd.DataFrame(columns=ACTION_COLUMNS))
    )
    actions = actions[ACTION_COLUMNS].astype(object)
    actions = actions.where(actions.notna(), None)
    return SyncPlan(
        tag=tag,
        contacts_total=len(contacts),
        tagged_before=int(has_tag.sum()),
        unchanged=unchanged,
        actions=actions.reset_index(drop=True),
    )
