"""The write record: every write a sync made to Encharge, as it was made (table `MarketingSyncWrite`).

It is the evidence of what the sync did, whatever became of the run that did it: the brake counts the
removals in it (a failed run's too); the sync knows from it whom it tagged (`tagged_by_sync`), and which
Encharge person each ConnectWise contact was synced to (`people_of_contacts`), so a contact whose address
changed is followed to the same person. These rules are here, over plain entries; the store reads and
writes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from marketing_pipeline.sync.emails import email_key
from marketing_pipeline.sync.tags import tag_key

CREATED = "created"
UPDATED = "updated"
MOVED = "moved"  # an update that changed the person's address (a contact's address changed in ConnectWise)
MOVE_REFUSED = "move_refused"  # Encharge kept the old address when asked to change it (nothing else written)
TAG_ADDED = "tag_added"
TAG_REMOVED = "tag_removed"
# Not a write: a contact the sync matched to a person by address, recorded once (and again when the person
# changes), so that a contact it never had to write for is followed across an address change too.
LINKED = "linked"
WRITE_ACTIONS = (CREATED, UPDATED, MOVED, MOVE_REFUSED, TAG_ADDED, TAG_REMOVED, LINKED)
# A plan action's successful write, as the record names it.
RECORDED_AS = {"create": CREATED, "update": UPDATED, "add_tag": TAG_ADDED, "remove_tag": TAG_REMOVED}


@dataclass(frozen=True)
class WriteEntry:
    """One write Encharge confirmed (or, for MOVE_REFUSED, answered): to whom, what, and which tag for tag
    writes. `contact_id` is the ConnectWise contact the write was for, where there is one (a removal is for
    an address that left the audience: none)."""

    action: str
    person_id: str | None
    email: str | None
    contact_id: int | None = None
    tag: str | None = None
    written_at: datetime | None = None  # set by the store
    run_id: str | None = None  # the MarketingSyncRun that made it; None once the app deleted that row


@dataclass(frozen=True)
class TaggedBySync:
    """Whom the sync put its tag on and has not taken it from since: people by id, and by address those
    it tagged by address because Encharge's answer to their creation named no id (`covers`)."""

    ids: frozenset[str] = frozenset()
    addresses: frozenset[str] = frozenset()

    def covers(self, person_id: str | None, email: str | None) -> bool:
        return (person_id is not None and person_id in self.ids) or (
            email is not None and email_key(email) in self.addresses
        )


def tagged_by_sync(entries: Iterable[WriteEntry], tag: str) -> TaggedBySync:
    """Whom the sync put `tag` on and has not taken it from since: a person whose last write of that tag
    (in any spelling; a removal may name several, comma-separated) is an addition. A tag added by address
    (no id known) counts for that address until a later write of the tag there says otherwise. `entries`
    in the order they were written."""
    by_id: dict[str, str] = {}
    by_address: dict[str, str] = {}
    wanted = tag_key(tag)
    for entry in entries:
        named = {tag_key(name) for name in (entry.tag or "").split(",")}
        if entry.action not in (TAG_ADDED, TAG_REMOVED) or wanted not in named:
            continue
        if entry.person_id:
            by_id[entry.person_id] = entry.action
        address = email_key(entry.email) if entry.email else None
        if address and (not entry.person_id or address in by_address):
            by_address[address] = entry.action
    return TaggedBySync(
        ids=frozenset(p for p, action in by_id.items() if action == TAG_ADDED),
        addresses=frozenset(a for a, action in by_address.items() if action == TAG_ADDED),
    )


@dataclass(frozen=True)
class ContactPerson:
    """The Encharge person a ConnectWise contact was last synced to, and whether Encharge refused to move
    that person to the contact's new address (`move_refused_to`: the address it refused)."""

    contact_id: int
    person_id: str
    email: str | None
    move_refused_to: str | None = None


def people_of_contacts(entries: Iterable[WriteEntry]) -> dict[int, ContactPerson]:
    """Per contact, the person its latest write went to (`entries` in the order they were written). A
    refused move is remembered until a later write for the contact succeeds."""
    out: dict[int, ContactPerson] = {}
    for entry in entries:
        if entry.contact_id is None or not entry.person_id:
            continue
        if entry.action == MOVE_REFUSED:
            known = out.get(entry.contact_id)
            if known is not None and known.person_id == entry.person_id:
                out[entry.contact_id] = ContactPerson(known.contact_id, known.person_id, known.email, entry.email)
            continue
        out[entry.contact_id] = ContactPerson(entry.contact_id, entry.person_id, entry.email)
    return out
