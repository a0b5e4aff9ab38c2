"""The diff between the ConnectWise audience and the Encharge people: what a sync will write.

`build_plan` reads as its steps, each a rule of the original specification made exact:
1. skips: a contact with no usable email is skipped with the reason; two contacts with one address
   (matched case-insensitively) are one person, the lower contact id wins and the other is a duplicate;
2. matching (`sync.matching`): each remaining contact is matched to the Encharge person with its address;
3. creates: a contact no person matches becomes a new person with the tag;
4. updates: a matched person is updated only in the fields (first name, last name, company) whose
   ConnectWise value is non-empty and differs from Encharge's, or, where Encharge's read is silent about
   the field, from what the sync last wrote there (`sync.written_fields`);
   a contact the write record shows was synced to a person (`sync.write_record.people_of_contacts`), whose address
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
from collections.abc import Mapping
from typing import Any

import pandas as pd

from marketing_pipeline.sync.emails import email_key
from marketing_pipeline.sync.matching import follow_moves, match_people, new_links
from marketing_pipeline.sync.owners import Shared
from marketing_pipeline.sync.ownership import ownership
from marketing_pipeline.sync.people import duplicate_people, split_tags
from marketing_pipeline.sync.plan_types import ACTION_COLUMNS, SYNCED_FIELDS, SyncPlan, action_rows, contact_skips
from marketing_pipeline.sync.tags import spellings_of, tag_key
from marketing_pipeline.sync.write_record import ContactPerson, TaggedBySync
from marketing_pipeline.sync.written_fields import written_frame


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
        contact_skips(unusable, unusable["email_problem"], with_email=False),
        contact_skips(
            duplicates,
            "duplicate email: same address as contact " + duplicates["email_key"].map(first_by_key).astype(str),
        ),
    ]
    return audience, pd.concat([s for s in skipped if len(s)] or [action_rows(contacts.iloc[:0], "skip")])


MOVE_CHANGE = "email"  # what `changes` starts with for an update that moves a person to a contact's new address


def creates(unmatched: pd.DataFrame, tag: str) -> pd.DataFrame:
    return action_rows(
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
    return action_rows(
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
    return action_rows(
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
    return action_rows(
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
    return action_rows(
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
    tagged_by_sync: TaggedBySync | None = None,
    contact_people: Mapping[int, ContactPerson] | None = None,
) -> SyncPlan:
    """The plan for one sync. `contacts` as from `audience.contact_frame`, `people` as from
    `people.people_frame`, `tag` the sync's Encharge tag, `written` what the sync last wrote (as from
    `written.written_frame`; none when omitted), `tagged_by_sync` whom the write record shows the sync tagged
    while it does not own its tag (None when it does: `sync.ownership`), `contact_people` the person each
    contact was last synced to (`sync.write_record.people_of_contacts`; none when omitted), `shared` the audience
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
