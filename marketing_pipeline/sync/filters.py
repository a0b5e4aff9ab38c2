"""The sync's ConnectWise rules, made exact.

A company qualifies when it is not deleted, its status is one of companyStatuses, it has at least one of
companyTypes and none of companyExcludeTypes. A contact qualifies when it is active, has at least one of
contactTypes and none of contactExcludeTypes, and works at a qualifying company.
"""

from __future__ import annotations

from collections.abc import Container

from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.records import Company, Contact


def company_exclusion(company: Company, filters: FilterConfig) -> str | None:
    """Why the company is out, or None when it qualifies."""
    if company.deleted_flag:
        return "deleted in ConnectWise"
    if company.status_id not in filters.company_statuses:
        return f"status {company.status_id} is not one of {filters.company_statuses}"
    types = company.type_ids
    if not types & set(filters.company_types):
        return f"has none of the types {filters.company_types}"
    excluded = sorted(types & set(filters.company_exclude_types))
    if excluded:
        return f"has excluded type(s) {excluded}"
    return None


def company_reason(company: Company, filters: FilterConfig) -> str:
    """Why a qualifying company is in, e.g. "Fully Managed, status Active"."""
    types = ", ".join(t.name or f"type {t.id}" for t in company.types if t.id in filters.company_types)
    status = company.status.name if company.status and company.status.name else company.status_id
    return f"{types}, status {status}"


def contact_exclusion(contact: Contact, filters: FilterConfig, qualifying_ids: Container[int]) -> str | None:
    """Why the contact is out, or None when it qualifies."""
    if contact.inactive_flag:
        return "inactive"
    if contact.company_id is None or contact.company_id not in qualifying_ids:
        return "not at a qualifying company"
    types = contact.type_ids
    if not types & set(filters.contact_types):
        return f"has none of the contact types {filters.contact_types}"
    excluded = sorted(types & set(filters.contact_exclude_types))
    if excluded:
        return f"has excluded contact type(s) {excluded}"
    return None


def contact_reason(contact: Contact, filters: FilterConfig, company_name: str, company_why: str) -> str:
    """A sentence a marketer reads: why this contact is in the audience."""
    types = ", ".join(t.name or f"type {t.id}" for t in contact.types if t.id in filters.contact_types)
    return f"{types} at {company_name} ({company_why})"
