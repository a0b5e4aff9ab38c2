"""From ConnectWise records to the two tables the pipeline passes on: qualifying companies and contacts."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from marketing_pipeline.connectwise.models import Company, Contact
from marketing_pipeline.store.models import FilterConfig
from marketing_pipeline.sync.emails import email_key, first_email, normalise_email
from marketing_pipeline.sync.filters import (
    company_exclusion,
    company_reason,
    contact_exclusion,
    contact_reason,
)
from marketing_pipeline.sync.frames import with_none

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


def _text(value: str | None) -> str:
    return (value or "").strip()


def company_frame(companies: Iterable[Company], filters: FilterConfig) -> pd.DataFrame:
    """The companies that pass the sync's company filter, one row each, ordered by id."""
    rows = [
        {
            "company_id": c.id,
            "identifier": c.identifier or "",
            "name": _text(c.name) or f"Company {c.id}",
            "status_id": c.status_id,
            "reason": company_reason(c, filters),
        }
        for c in companies
        if company_exclusion(c, filters) is None
    ]
    frame = pd.DataFrame(rows, columns=COMPANY_COLUMNS)
    return frame.drop_duplicates("company_id").sort_values("company_id", ignore_index=True)


def contact_frame(contacts: Iterable[Contact], companies: pd.DataFrame, filters: FilterConfig) -> pd.DataFrame:
    """The contacts that pass the contact filter at the given companies, with email and reason.

    Contacts without a usable email stay in (with `email_problem` set): the plan reports them as skipped.
    """
    names = dict(zip(companies["company_id"], companies["name"], strict=True))
    whys = dict(zip(companies["company_id"], companies["reason"], strict=True))
    rows = []
    seen: set[int] = set()
    for contact in contacts:
        if contact.id in seen or contact_exclusion(contact, filters, names) is not None:
            continue
        seen.add(contact.id)
        company_id = contact.company_id
        assert company_id is not None  # contact_exclusion guarantees it
        email, problem = normalise_email(first_email(contact.communication_items))
        rows.append(
            {
                "contact_id": contact.id,
                "first_name": _text(contact.first_name),
                "last_name": _text(contact.last_name),
                "company": names[company_id],
                "company_id": company_id,
                "email": email,
                "email_key": email_key(email) if email else None,
                "email_problem": problem,
                "reason": contact_reason(contact, filters, names[company_id], whys[company_id]),
            }
        )
    frame = pd.DataFrame(rows, columns=CONTACT_COLUMNS).sort_values("contact_id", ignore_index=True)
    return with_none(frame, ["email", "email_key", "email_problem"])
