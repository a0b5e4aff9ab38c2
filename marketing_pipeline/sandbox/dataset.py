"""A deterministic, realistic dataset for both sandboxes, with every trap the sync rules must handle.

With the seed's filter, `generate()` yields exactly `size` (default 86) contacts that pass, among them:
one without an email, one with an invalid email, two sharing one address in different case, several with
more than one email, surrounding whitespace, `+` addresses and non-ASCII names. Around them sit contacts
and companies that must be filtered out (inactive, Managed Group, wrong types, excluded or inactive
companies, no company). The Encharge side overlaps: people already tagged, tagged but stale, untagged,
former contacts still tagged (one unsubscribed, one with other tags), and unrelated people.
`manifest` says what a correct first sync must do, email by email.
"""

from __future__ import annotations

import copy
import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from marketing_pipeline.sandbox.person_names import FIRST, LAST, WORDS, address_spelling

TAG = "managed-client-newsletter"
COMPANY_TYPES = {48: "Fully Managed", 35: "Owner", 5: "Partner", 47: "Break/Fix", 12: "Prospect"}
STATUSES = {1: "Active", 19: "Active - Onboarding", 2: "Inactive", 3: "Not Approved"}
CONTACT_TYPES = {
    1: "Approver",
    2: "Decision Maker",
    21: "AM Point of Contact",
    19: "Managed Group",
    3: "End User",
    7: "Billing",
}

# Setup lists beyond the ones the dataset's records use, as a real account has them.
MORE_COMPANY_TYPES = {1: "Client", 2: "Vendor", 3: "Competitor", 20: "Co-Managed"}
MORE_CONTACT_TYPES = {4: "Technical Contact", 5: "Sales Contact", 6: "Former Employee"}
INACTIVE_STATUSES = {2}


def reference_lists() -> dict[str, list[dict[str, Any]]]:
    """ConnectWise's setup lists behind the dataset's ids, shaped as its API returns them: company types and
    statuses carry a `name`, contact types a `description` (ConnectWise's own model), each with its flags."""
    info = {"lastUpdated": "2024-03-11T10:12:00Z", "updatedBy": "admin"}
    company_types = {**COMPANY_TYPES, **MORE_COMPANY_TYPES}
    contact_types = {**CONTACT_TYPES, **MORE_CONTACT_TYPES}
    return {
        "company_types": [
            {"id": i, "name": n, "defaultFlag": i == 1, "vendorFlag": i == 2, "_info": info}
            for i, n in sorted(company_types.items())
        ],
        "company_statuses": [
            {
                "id": i,
                "name": n,
                "defaultFlag": i == 1,
                "inactiveFlag": i in INACTIVE_STATUSES,
                "notifyFlag": False,
                "disallowSavingFlag": False,
                "customNoteFlag": False,
                "cancelOpenTracksFlag": False,
                "_info": info,
            }
            for i, n in sorted(STATUSES.items())
        ],
        "contact_types": [
            {"id": i, "description": n, "defaultFlag": i == 3, "_info": info} for i, n in sorted(contact_types.items())
        ],
    }


@dataclass
class Manifest:
    """What the first sync of this dataset must do (emails lower-cased)."""

    tag: str
    passing_contact_ids: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # contact id -> no_email/invalid_email/duplicate
    creates: set[str] = field(default_factory=set)
    updates: set[str] = field(default_factory=set)
    tag_adds: set[str] = field(default_factory=set)
    tag_removals: set[str] = field(default_factory=set)
    in_sync: set[str] = field(default_factory=set)
    untouched: set[str] = field(default_factory=set)  # people without the tag and outside the audience

    @property
    def audience(self) -> set[str]:
        return self.creates | self.updates | self.tag_adds | self.in_sync


@dataclass
class Dataset:
    companies: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    people: list[dict[str, Any]]
    manifest: Manifest


def _ref(table: dict[int, str], type_id: int) -> dict[str, Any]:
    return {"id": type_id, "name": table[type_id], "_info": {}}


def _email_item(item_id: int, value: str, default: bool = True) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": {"id": 1, "name": "Email"},
        "value": value,
        "defaultFlag": default,
        "communicationType": "Email",
        "domain": "@" + value.split("@")[-1].strip() if "@" in value else "",
    }


def _phone_item(item_id: int, number: str) -> dict[str, Any]:
    return {
        "id": item_id,
        "type": {"id": 2, "name": "Direct"},
        "value": number,
        "defaultFlag": True,
        "communicationType": "Phone",
    }


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.companies: list[dict[str, Any]] = []
        self.contacts: list[dict[str, Any]] = []
        self.next_company = 101
        self.next_contact = 1001
        self.next_item = 50001
        self.used_emails: set[str] = set()

    def company(self, types: list[int] | None, status: int | None) -> dict[str, Any]:
        cid = self.next_company
        self.next_company += 1
        word = WORDS[cid % len(WORDS)]
        name = f"{word} {['Ltd', 'Group', 'Holdings', 'LLP', 'Partners'][cid % 5]} {cid}"
        company = {
            "id": cid,
            "identifier": f"{word.replace(' ', '')}{cid}"[:30],
            "name": name,
            "status": _ref(STATUSES, status) if status is not None else None,
            "types": [_ref(COMPANY_TYPES, t) for t in types] if types is not None else None,
            "city": "Manchester",
            "country": {"id": 7, "name": "United Kingdom"},
            "deletedFlag": False,
            "_info": {"lastUpdated": "2026-10-01T09:00:00Z"},
        }
        self.companies.append(company)
        return company

    def email_for(self, first: str, last: str, company: dict[str, Any] | None) -> str:
        domain = (company["identifier"].lower() if company else "example") + ".example.com"
        local = address_spelling(f"{first}.{last}")
        base, n = f"{local}@{domain}", 2
        while base.lower() in self.used_emails:
            base, n = f"{local}{n}@{domain}", n + 1
        self.used_emails.add(base.lower())
        return base

    def contact(
        self,
        company: dict[str, Any] | None,
        types: list[int] | None,
        *,
        active: bool = True,
        emails: list[str] | None = None,
        items: list[dict[str, Any]] | None = None,
        first: str | None = None,
        last: str | None = None,
    ) -> dict[str, Any]:
        cid = self.next_contact
        self.next_contact += 1
        first = first if first is not None else self.rng.choice(FIRST)
        last = last if last is not None else self.rng.choice(LAST)
        if items is None:
            if emails is None:
                emails = [self.email_for(first, last, company)]
            items = [_phone_item(self._item(), f"0161 496 {cid % 10000:04d}")]
            items += [_email_item(self._item(), e, default=i == 0) for i, e in enumerate(emails)]
        contact = {
            "id": cid,
            "firstName": first,
            "lastName": last,
            "company": {"id": company["id"], "identifier": company["identifier"], "name": company["name"]}
            if company
            else None,
            "inactiveFlag": not active,
            "title": "Director",
            "types": [_ref(CONTACT_TYPES, t) for t in types] if types is not None else None,
            "communicationItems": items,
            "_info": {"lastUpdated": "2026-10-01T09:00:00Z"},
        }
        self.contacts.append(contact)
        return contact

    def _item(self) -> int:
        self.next_item += 1
        return self.next_item


def first_email(contact: dict[str, Any]) -> str | None:
    for item in contact.get("communicationItems") or []:
        if (item.get("type") or {}).get("name") == "Email":
            return item.get("value")
    return None


def generate(
    size: int = 86,
    *,
    seed: int = 7,
    tag: str = TAG,
    encharge: str = "overlap",
    unrelated_people: int | None = None,
    companies: int | None = None,
    other_contacts: int | None = None,
    other_companies: int | None = None,
) -> Dataset:
    """`size` contacts pass the seed's filter. `encharge`: "overlap" (the demo audience) or "empty".

    For scale: `companies` qualifying companies (default from size) and `other_contacts` contacts that do
    not pass (default size // 3), spread over the qualifying companies and the ones the filter excludes.
    """
    if size < 10:
        raise ValueError("size must be at least 10 to hold every trap")
    b = _Builder(seed)
    qualifying = companies or max(3, min(size // 4, 5 + size // 20))
    good = [b.company([48] if i % 3 else [48, 12], 1 if i % 4 else 19) for i in range(qualifying)]
    excluded = [
        b.company([48, 35], 1),  # Owner
        b.company([5, 48], 19),  # Partner
        b.company([48], 2),  # inactive status
        b.company([47], 1),  # no Fully Managed type
        b.company(None, 1),  # no types at all
        b.company([48], None),  # no status
    ]
    excluded += [b.company([47, 12], 1) for _ in range(size // 100 if other_companies is None else other_companies)]
    qualifying_types = [[1], [2], [21], [1, 2], [2, 21]]

    passing: list[dict[str, Any]] = []
    skipped: dict[int, str] = {}

    # The traps that pass the filter.
    c = b.contact(good[0], [1], items=None, emails=[])  # only a phone number
    c["communicationItems"] = None
    skipped[c["id"]] = "no_email"
    passing.append(c)
    c = b.contact(good[1 % qualifying], [2], emails=["jane.doe@@broken"], first="Jane", last="Doe")
    skipped[c["id"]] = "invalid_email"
    passing.append(c)
    shared = b.email_for("Sam", "Lee", good[2 % qualifying])
    passing.append(b.contact(good[2 % qualifying], [21], emails=[shared], first="Sam", last="Lee"))
    c = b.contact(good[2 % qualifying], [1], emails=[shared.upper()], first="Samuel", last="Lee")
    skipped[c["id"]] = "duplicate_email"
    passing.append(c)
    multi = b.email_for("Morgan", "Ashe", good[0])
    passing.append(
        b.contact(good[0], [1, 2], emails=[multi, "morgan.personal@example.org"], first="Morgan", last="Ashe")
    )
    spaced = b.email_for("Pat", "Kane", good[1 % qualifying])
    passing.append(b.contact(good[1 % qualifying], [2], emails=[f"  {spaced}  "], first="Pat", last="Kane"))
    plus = b.email_for("Robin", "Hart", good[0]).replace("@", "+newsletter@")
    passing.append(b.contact(good[0], [21], emails=[plus], first="Robin", last="Hart"))
    passing.append(b.contact(good[2 % qualifying], [1], first="Zoë", last="Ó Súilleabháin"))

    while len(passing) < size:
        company = good[len(passing) % qualifying]
        passing.append(b.contact(company, qualifying_types[len(passing) % len(qualifying_types)]))

    # Contacts that must be filtered out.
    inactive = b.contact(good[0], [1], active=False, first="Former", last="Employee")
    managed_group = b.contact(good[1 % qualifying], [1, 19], first="Service", last="Desk")
    b.contact(good[0], [3])  # End User only
    b.contact(good[1 % qualifying], None)  # no types
    for company in excluded:
        b.contact(company, [1])
    b.contact(None, [1], first="No", last="Company")
    bulk = size // 3 if other_contacts is None else max(0, other_contacts - len(excluded) - 5)
    for i in range(bulk):  # bulk of ordinary non-audience contacts
        if other_contacts is not None and i % 4 == 3:
            b.contact(excluded[i % len(excluded)], [1])
        else:
            b.contact(good[i % qualifying], [3] if i % 2 else [7])

    manifest = Manifest(tag=tag, passing_contact_ids=[c["id"] for c in passing], skipped=skipped)
    audience = [c for c in passing if c["id"] not in skipped]
    people: list[dict[str, Any]] = []
    if encharge == "overlap":
        people = _overlap_people(b, audience, manifest, [inactive, managed_group], unrelated_people)
    elif encharge == "empty":
        manifest.creates = {first_email(c).strip().lower() for c in audience}  # type: ignore[union-attr]
    else:
        raise ValueError("encharge must be 'overlap' or 'empty'")
    return Dataset(companies=b.companies, contacts=b.contacts, people=people, manifest=manifest)


def new_person(
    email: str,
    first: str,
    last: str,
    company: str,
    tags: list[str],
    *,
    rng: random.Random,
    unsubscribed: bool = False,
) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "email": email,
        "firstName": first,
        "lastName": last,
        "company": company,
        "tags": tags,
        "unsubscribed": unsubscribed,
        "createdAt": "2026-01-15T10:00:00.000Z",
        "updatedAt": "2026-01-15T10:00:00.000Z",
    }


def _overlap_people(
    b: _Builder,
    audience: list[dict[str, Any]],
    manifest: Manifest,
    former: list[dict[str, Any]],
    unrelated: int | None,
) -> list[dict[str, Any]]:
    rng = b.rng
    n = len(audience)
    n_new, n_stale, n_untagged = round(n * 0.14), round(n * 0.06), round(n * 0.07)
    people: list[dict[str, Any]] = []
    for index, contact in enumerate(audience):
        email = first_email(contact).strip()  # type: ignore[union-attr]
        key = email.lower()
        first, last, company = contact["firstName"], contact["lastName"], contact["company"]["name"]
        if index < n_new:
            manifest.creates.add(key)
            continue
        if index < n_new + n_stale:
            manifest.updates.add(key)
            stale_last = last + " (old)" if index % 2 else last
            stale_company = company if index % 2 else "Previous Employer Ltd"
            people.append(new_person(email, first, stale_last, stale_company, [TAG, "webinar-2026"], rng=rng))
        elif index < n_new + n_stale + n_untagged:
            manifest.tag_adds.add(key)
            people.append(new_person(email, first, last, company, ["webinar-2026"] if index % 2 else [], rng=rng))
        else:
            manifest.in_sync.add(key)
            stored = email.upper() if index % 10 == 0 else email  # case differs in Encharge
            people.append(
                new_person(stored, first, last, company, [manifest.tag], rng=rng, unsubscribed=index % 17 == 0)
            )
    # Former audience members still carrying the tag: they lose it and nothing else.
    for i, contact in enumerate(former):
        email = first_email(contact).strip()  # type: ignore[union-attr]
        manifest.tag_removals.add(email.lower())
        people.append(
            new_person(
                email,
                contact["firstName"],
                contact["lastName"],
                contact["company"]["name"],
                [manifest.tag, "customer-events"] if i == 0 else [manifest.tag],
                rng=rng,
            )
        )
    gone = "left.company@formerclient.example.com"
    manifest.tag_removals.add(gone)
    people.append(new_person(gone, "Left", "Company", "Former Client", [manifest.tag], rng=rng, unsubscribed=True))
    # Unrelated people: never touched.
    for i in range(unrelated if unrelated is not None else 8):
        email = f"subscriber{i}@newsletter-readers.example.net"
        manifest.untouched.add(email)
        people.append(
            new_person(
                email,
                rng.choice(FIRST),
                rng.choice(LAST),
                "",
                ["blog"] if i % 2 else [],
                rng=rng,
                unsubscribed=i % 3 == 0,
            )
        )
    return people


def expected_audience(data: Dataset) -> set[str]:
    """Worked out from the dataset alone: the first Email item of every active contact that passes the
    filter (joiners added by `apply_churn` included) at a company not since deleted, trimmed and lower-cased."""
    members = set(data.manifest.passing_contact_ids) - set(data.manifest.skipped)
    deleted = {c["id"] for c in data.companies if c.get("deletedFlag")}
    return {
        first_email(c).strip().lower()  # type: ignore[union-attr]
        for c in data.contacts
        if c["id"] in members and not c["inactiveFlag"] and (c.get("company") or {}).get("id") not in deleted
    }


def apply_churn(data: Dataset, count: int, *, seed: int) -> dict[str, int]:
    """Change `count` audience members in ConnectWise: a third renamed, a third gone inactive, the rest
    replaced by new joiners (who become passing contacts)."""
    rng = random.Random(seed)
    passing = set(data.manifest.passing_contact_ids)
    members = [
        c
        for c in data.contacts
        if c["id"] in passing and c["id"] not in data.manifest.skipped and not c["inactiveFlag"]
    ]
    chosen = rng.sample(members, count)
    third = count // 3
    for contact in chosen[:third]:
        contact["lastName"] += "-Smith"
    for contact in chosen[third : 2 * third]:
        contact["inactiveFlag"] = True
    next_id = max(c["id"] for c in data.contacts) + 1
    for i in range(count - 2 * third):
        joiner = copy.deepcopy(chosen[0])
        joiner.update(
            id=next_id + i,
            firstName="New",
            lastName=f"Joiner{i}",
            inactiveFlag=False,
            communicationItems=[_email_item(900000 + i, f"new.joiner{i}@joiners.example.com")],
        )
        data.contacts.append(joiner)
        data.manifest.passing_contact_ids.append(joiner["id"])
    return {"renamed": third, "left": third, "joined": count - 2 * third}


# A second sync's filter that no contact of the first sync's audience passes: companies of type 47 only
# ("no Fully Managed type" in the first sync's terms), status Active, contacts of type 1.
SECOND_FILTER = {"companyTypes": [47], "companyStatuses": [1], "contactTypes": [1]}


def share_person(data: Dataset, email: str) -> dict[str, Any]:
    """One person at two companies, in two syncs' audiences: the first active contact that passes
    `SECOND_FILTER` takes `email` (an address of the first sync's audience) as its address, keeping its own
    name and company. Returns that contact."""
    second = {
        c["id"]
        for c in data.companies
        if [t["id"] for t in c.get("types") or []] == [47] and (c.get("status") or {}).get("id") == 1
    }
    contact = next(
        c
        for c in data.contacts
        if (c.get("company") or {}).get("id") in second
        and not c["inactiveFlag"]
        and [t["id"] for t in c.get("types") or []] == [1]
    )
    items = [i for i in contact["communicationItems"] or [] if (i.get("type") or {}).get("name") != "Email"]
    contact["communicationItems"] = [*items, _email_item(90001 + contact["id"], email)]
    return contact
