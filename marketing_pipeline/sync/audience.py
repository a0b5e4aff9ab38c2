"""From ConnectWise records to the two tables the pipeline passes on: qualifying companies and contacts."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.emails import email_key, first_email, normalise_email
from marketing_pipeline.sync.filters import (
    company_exclusion,
    company_reason,
    contact_exclusion,
    contact_reason,
)
from marketing_pipeline.sync.frames import with_none
from marketing_pipeline.sync.records import Company, Contact

COMPANY_COLUMNS = ["company_id", "identifier", "name", "status_id", "reason"]
CONTACT_COLUMNS = [
    "contact_id",
    "first_name",
    "last_name",
    "company",
    "company_id",
    "email",
    "email_key",
    "email_problem",
    "reason",
]


# C0 and C1 control characters: nobody types them into a name, Encharge shows them as garbage, and
# PostgreSQL refuses NUL in the run record and the memory of written fields. Names lose them, and only them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain_text(value: str | None) -> str:
    return _CONTROL.sub("", value or "").strip()


def company_frame(companies: Iterable[Company], filters: FilterConfig) -> pd.DataFrame:
    """The companies that pass the sync's company filter, one row each, ordered by id."""
    rows = [
        {
            "company_id": c.id,
            "identifier": c.identifier or "",
            "name": plain_text(c.name) or f"Company {c.id}",
            "status_id": c.status_id,
            "reason": company_reason(c, filters),
        }
        for c in companies
        if company_exclusion(c, filters) is None
    ]
    frame = pd.DataFrame(rows, columns=COMPANY_COLUMNS)
    return frame.drop_duplicates("company_id").sort_values("company_id", ignore_index=True)


CompanyLookup = dict[int, tuple[str, str]]  # company id -> (name, why it qualifies)


def company_lookup(companies: pd.DataFrame) -> CompanyLookup:
    return dict(zip(companies["company_id"], zip(companies["name"], companies["reason"], strict=True), strict=True))


def contact_rows(contacts: Iterable[Contact], companies: CompanyLookup, filters: FilterConfig) -> list[tuple]:
    """Compact rows (in CONTACT_COLUMNS order) for the contacts that pass the contact filter at `companies`.

    Contacts without a usable email stay in (with `email_problem` set): the plan reports them as skipped.
    """
    rows = []
    for contact in contacts:
        if contact_exclusion(contact, filters, companies) is not None:
            continue
        company_id = contact.company_id
        assert company_id is not None  # contact_exclusion guarantees it
        name, why = companies[company_id]
        email, problem = normalise_email(first_email(contact.communication_items))
        rows.append(
            (
                contact.id,
                plain_text(contact.first_name),
                plain_text(contact.last_name),
                name,
                company_id,
                email,
                email_key(email) if email else None,
                problem,
                contact_reason(contact, filters, name, why),
            )
        )
    return rows


def row_contact_id(row: tuple) -> int:
    """The contact id of a compact row from `contact_rows`."""
    return row[0]


def frame_from_contact_rows(rows: Iterable[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(rows), columns=CONTACT_COLUMNS)
    frame = frame.drop_duplicates("contact_id").sort_values("contact_id", ignore_index=True)
    return with_none(frame, ["email", "email_key", "email_problem"])


def contact_frame(contacts: Iterable[Contact], companies: pd.DataFrame, filters: FilterConfig) -> pd.DataFrame:
    """The contacts that pass the contact filter at the given companies, with email and reason."""
    return frame_from_contact_rows(contact_rows(contacts, company_lookup(companies), filters))
