"""The diff between the ConnectWise audience and the Encharge people: what a sync will write.

`build_plan` reads as its steps, each a rule of the original specification made exact:
1. skips: a contact with no usable email is skipped with the reason; two contacts with one address
   (matched case-insensitively) are one person, the lower contact id wins and the other is a duplicate;
2. matching: each remaining contact is matched to the Encharge person with its address;
3. creates: a contact no person matches becomes a new person with the tag;
4. updates: a matched person is updated only in the fields (first name, last name, company) whose
   ConnectWise value is non-empty and differs from Encharge's, or, where Encharge's read is silent about
   the field, from what the sync last wrote there (`sync.written`);
   a contact the write record shows was synced to a person (`sync.writes.people_of_contacts`), whose address
   changed in ConnectWise to one nobody in Encharge has, is followed to that person: the update moves the
   person to the new address (`changes` starts with "email") instead of creating someone new;
5. tag additions: a matched person without the tag gets it;
6. removals: a person carrying the tag whose address is not in the audience loses the tag, nothing else;
   every person carrying it, by person id, when several share the address up to case.
People without the tag, and every other tag, are never touched. Addresses several people share are listed
in `duplicates`.

"The tag" is every spelling of it (`sync.tags`: any case). A person carries it in the sync's own spelling,
or in another one only (the tag was renamed in case, `News` -> `news`), or in both (Encharge keeps
spellings apart). A person who leaves loses every spelling they carry. A member carrying another spelling
is moved: that spelling is taken off (`remove_tag`, through the brake like any removal), then the sync's
spelling is added (the apply step removes before it adds, so an Encharge that treats both as one tag ends
with the sync's spelling too); a member carrying both loses the other one. Where the sync already added
its spelling to that person and Encharge shows another one only, Encharge rewrote it: taken as carried.

A person in the audience of an older sync as well (`owners`: address -> that sync, see `sync.owners`) gets
no field update from this sync, only its tag: one sync owns each person's fields. Every shared address is
listed in `shared`, on both sides.

A create rests on a lookup that found nobody at the address (the caller looks every address up first);
an address Encharge refused to look up becomes a skip with the reason (`unverified_creates_skipped`).

Written by hand because no library does it: it is this sync's own rules (generic diff libraries compare
values, not "a tag removal only on evidence"), and it must stay pure and exhaustively tested.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import pandas as pd

from marketing_pipeline.sync.emails import email_key
from marketing_pipeline.sync.owners import Shared
from marketing_pipeline.sync.ownership import Ownership, ownership
from marketing_pipeline.sync.people import duplicate_people, split_tags
from marketing_pipeline.sync.tags import spellings_of, tag_key
from marketing_pipeline.sync.writes import ContactPerson
from marketing_pipeline.sync.written_fields import WRITTEN_COLUMNS, written_frame

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
MATCHED_PERSON_COLUMNS = [
    "email_key",
    "person_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "has_tag",
    "spellings",
]


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


def _actions(rows: pd.DataFrame, action: str, **columns: object) -> pd.DataFrame:
    """Action rows for `rows`: the named columns set (a Series or a constant), the others empty."""
    out = pd.DataFrame(index=rows.index)
    out["action"] = action
    for name in ACTION_COLUMNS[1:]:
        value = columns.get(name)
        out[name] = value if value is not None else None
    return out


def skips(contacts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the audience: one contact per address, the lowest id first; the skipped contacts with why)."""
    contacts = contacts.sort_values("contact_id")
    unusable = contacts[contacts["email_problem"].notna()]
    usable = contacts[contacts["email_problem"].isna()]
    duplicated = usable.duplicated("email_key", keep="first")
    audience = usable[~duplicated]
    duplicates = usable[duplicated]
    first_by_key = audience.set_index("email_key")["contact_id"]
    skipped = [
        _actions(
            unusable,
            "skip",
            contact_id=unusable["contact_id"],
            first_name=unusable["first_name"],
            last_name=unusable["last_name"],
            company=unusable["company"],
            reason=unusable["email_problem"],
        ),
        _actions(
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
    return audience, pd.concat([s for s in skipped if len(s)] or [_actions(contacts.iloc[:0], "skip")])


def match_people(audience: pd.DataFrame, people: pd.DataFrame, written: pd.DataFrame) -> pd.DataFrame:
    """The audience, each contact with the Encharge person at its address (`person_id` None when there is
    none; the person's own fields suffixed `_enc`) and what the sync last wrote there (suffixed
    `_written`). Where Encharge holds several people with one address, the one with the tag is matched,
    then the lowest id."""
    addressed = people[people["email_key"].notna()]
    addressed = addressed.sort_values(["has_tag", "person_id"], ascending=[False, True])
    addressed = addressed.drop_duplicates("email_key", keep="first")
    matched = audience.merge(addressed[MATCHED_PERSON_COLUMNS], on="email_key", how="left", suffixes=("", "_enc"))
    memory = written.rename(columns={c: f"{c}_written" for c in WRITTEN_COLUMNS if c != "email_key"})
    return matched.merge(memory, on="email_key", how="left").set_axis(matched.index)


MOVE_CHANGE = "email"  # what `changes` starts with for an update that moves a person to a contact's new address


def follow_moves(
    matched: pd.DataFrame, people: pd.DataFrame, contact_people: Mapping[int, ContactPerson]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contacts no person matches by address, followed by their ConnectWise contact id to the person the
    sync last wrote for them: (the matched frame with those contacts matched to that person, `moved_from`
    holding the person's old address; the contacts skipped instead, with why).

    Followed only on evidence: the person is in the read, at an address that is not the contact's and that
    no other audience contact has, and matched to no other contact. Where Encharge kept the old address when
    the sync last asked to move that person to this one (`move_refused_to`), the contact is created at its
    new address only when the read shows the person subscribed; otherwise it is skipped with the reason,
    so nobody who unsubscribed is ever subscribed again under a new address."""
    matched = matched.assign(moved_from=None)
    skipped = matched.iloc[:0]
    if not contact_people:
        return matched, skipped
    by_id = people.drop_duplicates("person_id").set_index("person_id")
    audience_keys = set(matched["email_key"])
    taken = set(matched["person_id"].dropna())
    skip_rows = []
    for index, row in matched[matched["person_id"].isna()].iterrows():
        known = contact_people.get(int(row["contact_id"]))
        if known is None or known.person_id not in by_id.index or known.person_id in taken:
            continue
        person = by_id.loc[known.person_id]
        if (
            person["email_key"] is None
            or person["email_key"] == row["email_key"]
            or person["email_key"] in audience_keys
        ):
            continue
        # Asked before and not done: Encharge refused or ignored the move, or (the record shows the person at
        # this very address, yet the read does not) it answered without making it. Asking again would write
        # every run for nothing.
        refused = known.move_refused_to or known.email
        if refused is not None and email_key(refused) == row["email_key"]:
            subscribed = person.get("subscribed")
            if subscribed is True:
                continue  # created at the new address, subscribed as the person is; the old one follows the rules
            state = "unsubscribed" if subscribed is False else "may have unsubscribed (Encharge's read does not say)"
            skip_rows.append(
                (
                    index,
                    f"the address changed in ConnectWise (was {person['email']}); Encharge would not move person "
                    f"{known.person_id} to it, and they {state}: not created at the new address, so nobody who "
                    "unsubscribed is subscribed again",
                )
            )
            continue
        taken.add(known.person_id)
        matched.loc[index, "person_id"] = known.person_id
        matched.loc[index, "email_enc"] = person["email"]
        for column, _ in SYNCED_FIELDS:
            matched.loc[index, f"{column}_enc"] = person[column]
        matched.loc[index, "has_tag"] = bool(person["has_tag"])
        matched.at[index, "spellings"] = person["spellings"]
        matched.loc[index, "moved_from"] = person["email"]
    if skip_rows:
        rows = matched.loc[[index for index, _ in skip_rows]]
        skipped = _actions(
            rows,
            "skip",
            contact_id=rows["contact_id"],
            email=rows["email"],
            first_name=rows["first_name"],
            last_name=rows["last_name"],
            company=rows["company"],
            reason=pd.Series(dict(skip_rows)),
        )
        matched = matched.drop(index=[index for index, _ in skip_rows])
    return matched, skipped


def new_links(
    existing: pd.DataFrame, written_for: set[int], contact_people: Mapping[int, ContactPerson]
) -> list[tuple[int, str, str]]:
    """Matched contacts the plan writes nothing for whose person the write record does not name yet."""
    links = []
    for row in existing.itertuples(index=False):
        contact, person = int(row.contact_id), str(row.person_id)
        known = contact_people.get(contact)
        if contact not in written_for and (known is None or known.person_id != person):
            links.append((contact, person, str(row.email_enc)))
    return links


def creates(unmatched: pd.DataFrame, tag: str) -> pd.DataFrame:
    return _actions(
        unmatched,
        "create",
        email=unmatched["email"],
        contact_id=unmatched["contact_id"],
        first_name=unmatched["first_name"],
        last_name=unmatched["last_name"],
        company=unmatched["company"],
        tag=tag,
        reason=unmatched["reason"],
    )


def changed_fields(matched: pd.DataFrame) -> pd.DataFrame:
    """Per matched contact and synced field: True where ConnectWise has a value that Encharge does not.
    Where Encharge is silent about the field, its value is taken to be what the sync last wrote; where
    neither is known, the field is written (once: it is remembered from then on)."""
    changed = pd.DataFrame(index=matched.index)
    for column, _ in SYNCED_FIELDS:
        ours = matched[column].fillna("")
        theirs = matched[f"{column}_enc"]
        known = theirs.where(theirs.notna(), matched[f"{column}_written"]).fillna("")
        changed[column] = (ours != "") & (ours != known)
    return changed


def updates(matched: pd.DataFrame, changed: pd.DataFrame) -> pd.DataFrame:
    """Only the differing fields are set; the others stay empty, so the upsert leaves them alone. A person
    followed to a contact's new address (`follow_moves`) is updated with that address, `changes` first
    naming "email"."""
    moved = matched["moved_from"].notna() if "moved_from" in matched else pd.Series(False, index=matched.index)
    needs = changed.any(axis=1) | moved
    rows, flags, moving = matched[needs], changed[needs], moved[needs]
    names = (
        flags.apply(lambda row: ",".join(field for column, field in SYNCED_FIELDS if row[column]), axis=1)
        if len(rows)
        else pd.Series(dtype=object)
    )
    names = names.where(~moving, (MOVE_CHANGE + "," + names).str.rstrip(","))
    return _actions(
        rows,
        "update",
        email=rows["email"].where(moving, rows["email_enc"]),
        person_id=rows["person_id"],
        contact_id=rows["contact_id"],
        **{column: rows[column].where(flags[column], None) for column, _ in SYNCED_FIELDS},
        changes=names,
        reason=rows["reason"],
    )


def tag_additions(matched: pd.DataFrame, tag: str) -> pd.DataFrame:
    """Members without the sync's spelling of the tag (and not taken as carrying it) get it."""
    untagged = matched[~matched["carried"]]
    return _actions(
        untagged,
        "add_tag",
        email=untagged["email_enc"],
        person_id=untagged["person_id"],
        contact_id=untagged["contact_id"],
        tag=tag,
        reason=untagged["reason"],
    )


def spelling_moves(matched: pd.DataFrame, tag: str) -> pd.DataFrame:
    """Members carrying the tag in another spelling: that spelling is taken off (the sync's is added by
    `tag_additions`), or, where they carry the sync's spelling too, only the other one is taken off."""
    others = matched["spellings"].map(lambda carried: tuple(t for t in carried if t != tag))
    moving = matched[matched["has_tag"].astype(bool) & others.map(bool) & ~matched["rewritten"]]
    others = others[moving.index]
    reasons = [
        f"carries {_quoted(old)} as well as {tag!r}: the other spelling is taken off"
        if tag in carried
        else f"the sync's tag is now spelled {tag!r}: {_quoted(old)} is taken off and {tag!r} added"
        for old, carried in zip(others, moving["spellings"], strict=True)
    ]
    return _actions(
        moving,
        "remove_tag",
        email=moving["email_enc"],
        person_id=moving["person_id"],
        contact_id=moving["contact_id"],
        tag=others.map(",".join),
        reason=pd.Series(reasons, index=moving.index, dtype=object),
    )


def _quoted(spellings: tuple[str, ...]) -> str:
    return " and ".join(repr(t) for t in spellings)


def removals(people: pd.DataFrame, audience: pd.DataFrame, followed: set[str] | None = None) -> pd.DataFrame:
    """People carrying the tag (any spelling) whose address left the audience lose every spelling; not those
    followed to a contact's new address (the same contact, known at a new address: nobody left)."""
    gone = people["has_tag"] & ~people["email_key"].isin(set(audience["email_key"]))
    leaving = people[gone & ~people["person_id"].isin(followed or set())]
    return _actions(
        leaving,
        "remove_tag",
        email=leaving["email"],
        person_id=leaving["person_id"],
        first_name=leaving["first_name"],
        last_name=leaving["last_name"],
        company=leaving["company"],
        tag=leaving["spellings"].map(",".join),
        reason="no longer in the ConnectWise audience",
    )


def build_plan(
    contacts: pd.DataFrame,
    people: pd.DataFrame,
    tag: str,
    written: pd.DataFrame | None = None,
    shared: Mapping[str, Shared] | None = None,
    *,
    tagged_by_sync: set[str] | None = None,
    contact_people: Mapping[int, ContactPerson] | None = None,
) -> SyncPlan:
    """The plan for one sync. `contacts` as from `audience.contact_frame`, `people` as from
    `people.people_frame`, `tag` the sync's Encharge tag, `written` what the sync last wrote (as from
    `written.written_frame`; none when omitted), `tagged_by_sync` whom the write record shows the sync tagged
    while it does not own its tag (None when it does: `sync.ownership`), `contact_people` the person each
    contact was last synced to (`sync.writes.people_of_contacts`; none when omitted), `shared` the audience
    addresses other syncs hold too, each with the sync that owns its fields (`owners.shared_addresses`; none
    when omitted)."""
    key = tag_key(tag)

    def carried(tags: Any) -> tuple[str, ...]:
        if isinstance(tags, str) and key not in tags.lower():  # most people: not a spelling of it at all
            return ()
        return spellings_of(tag, split_tags(tags))

    spellings = people["tags"].map(carried)
    people = people.assign(spellings=spellings, has_tag=spellings.map(bool).astype(bool))
    memory = written if written is not None else written_frame([])
    shared = shared or {}

    audience, skipped = skips(contacts)
    matched, not_followed = follow_moves(match_people(audience, people, memory), people, contact_people or {})
    existing = matched[matched["person_id"].notna()]
    existing = existing.assign(
        # Encharge shows another spelling only, where the sync added its own: Encharge rewrote it.
        rewritten=existing["has_tag"].astype(bool)
        & existing["spellings"].map(lambda spelled: len(spelled) == 1 and spelled[0] != tag)
        & (existing["tag_written"] == tag),
    )
    existing = existing.assign(
        carried=existing["spellings"].map(lambda spelled: tag in spelled) | existing["rewritten"]
    )
    changed = changed_fields(existing)
    if shared:  # another sync owns these people's fields
        owned = existing["email_key"].map(lambda k: k in shared and not shared[k].mine).astype(bool)
        changed = changed.mul(~owned, axis=0).astype(bool)
    moves = spelling_moves(existing, tag)
    leaving = removals(people, audience, set(existing.loc[existing["moved_from"].notna(), "person_id"]))
    parts = [
        creates(matched[matched["person_id"].isna()], tag),
        updates(existing, changed),
        tag_additions(existing, tag),
        moves,
        leaving,
        skipped,
        not_followed,
    ]

    actions = pd.concat([p for p in parts if len(p)] or [pd.DataFrame(columns=ACTION_COLUMNS)], ignore_index=True)
    links = new_links(existing, set(actions["contact_id"].dropna().astype(int)), contact_people or {})
    actions = actions[ACTION_COLUMNS].astype(object)
    steady = ~changed.any(axis=1) & existing["carried"].astype(bool) & ~existing.index.isin(moves.index)
    return SyncPlan(
        tag=tag,
        contacts_total=len(contacts),
        tagged_before=int(people["has_tag"].sum()),
        unchanged=int(steady.sum()),
        actions=actions.where(actions.notna(), None),
        duplicates=duplicate_people(people),
        shared=[shared[address].as_detail(address) for address in sorted(set(audience["email_key"]) & set(shared))],
        ownership=ownership(people[people["has_tag"]], leaving, tagged_by_sync),
        links=links,
    )


def unverified_creates_skipped(plan: SyncPlan, refused: Mapping[str, str]) -> SyncPlan:
    """The plan with every create (and move to a new address) whose address Encharge refused to look up
    (`refused`: the address as asked -> why) turned into a skip with the reason: whether that person exists
    is unknown, and a create must rest on a lookup that found nobody."""
    why = {email_key(email): reason for email, reason in refused.items()}
    if not why:
        return plan
    actions = plan.actions.copy()
    keys = actions["email"].map(lambda email: email_key(email) if isinstance(email, str) else None)
    moves = (actions["action"] == "update") & actions["changes"].map(
        lambda c: isinstance(c, str) and c.split(",")[0] == MOVE_CHANGE
    )
    unverified = ((actions["action"] == "create") | moves) & keys.isin(set(why))
    actions.loc[unverified, "reason"] = keys[unverified].map(
        lambda key: (
            f"Encharge refused to look this address up ({why[key]}), so whether the person exists is "
            "unknown: not created"
        )
    )
    actions.loc[unverified, "action"] = "skip"
    return dataclasses.replace(plan, actions=actions)
