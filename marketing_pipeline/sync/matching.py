"""Matching the audience to Encharge's people: by address (`match_people`), then, for a contact no person
has the address of, by the person the write record says it was last synced to (`follow_moves`); and the
matched contacts the write record does not tie to their person yet (`new_links`). Part of `sync.plan`."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from marketing_pipeline.sync.emails import email_key
from marketing_pipeline.sync.plan_types import SYNCED_FIELDS, contact_skips
from marketing_pipeline.sync.write_record import ContactPerson
from marketing_pipeline.sync.written_fields import WRITTEN_COLUMNS

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
        skipped = contact_skips(rows, pd.Series(dict(skip_rows)))
        matched = matched.drop(index=[index for index, _ in skip_rows])
    return matched, skipped


def new_links(
    existing: pd.DataFrame, written_for: set[int], contact_people: Mapping[int, ContactPerson]
) -> list[tuple[int, str, str]]:
    """Matched contacts the plan writes nothing for whose person the write record does not name yet."""
    links = []
    # Column by column, not itertuples: a row at a time through pandas was the plan's largest cost at 100,000.
    columns = (existing[name].tolist() for name in ("contact_id", "person_id", "email_enc"))
    for contact_id, person_id, email in zip(*columns, strict=True):
        contact, person = int(contact_id), str(person_id)
        known = contact_people.get(contact)
        if contact not in written_for and (known is None or known.person_id != person):
            links.append((contact, person, str(email)))
    return links
