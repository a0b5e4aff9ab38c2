"""The fewest requests a ConnectWise read could take with the client's query shape, for the benchmark and
the scale tests: kept beside the client so the bound changes with the shape.

The shape: one query per company type, and per contact type one query per chunk of company ids (as many
as a URL holds), each read in pages. Whatever the chunking, a type's contacts take at least
ceil(contacts / page size) requests, and at least one per chunk; without `childConditions` (refused or
ignored) there is one stream, of every active contact at the qualifying companies. After each read, one
more query asks what changed while it ran (`lastUpdated`): at least one request, more on a busy account.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from marketing_pipeline.connectwise import conditions as cond
from marketing_pipeline.connectwise import queries as q
from marketing_pipeline.connectwise.client import CONTACT_FIELDS, MAX_URL_LENGTH
from marketing_pipeline.sync.audience import company_frame
from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.records import Company

RECHECK = 1  # the query of what changed during a read, when nothing did


def chunks_needed(base_url: str, company_ids: Iterable[int], type_id: int | None, *, page_size: int = 1000) -> int:
    """How many chunks of company ids the URL length forces on one contact stream."""
    narrowings = [q.condition("inactiveFlag", "inactiveFlag=false")]
    if type_id is not None:
        narrowings.append(q.has_type(type_id))
    fixed = q.url_length_without_ids(
        base_url + "company/contacts", narrowings, fields=CONTACT_FIELDS, page_size=page_size
    )
    return len(cond.chunk_ids_for_url(sorted(company_ids), fixed_length=fixed, max_length=MAX_URL_LENGTH))


def fewest_requests(
    base_url: str,
    companies_per_type: Mapping[int | None, int],
    contacts_per_type: Mapping[int | None, int],
    qualifying_ids: Iterable[int],
    *,
    page_size: int = 1000,
) -> int:
    """Requests for the companies (one stream per type) and the contacts (one stream per type, chunked),
    each read followed by its query of what changed during it; a key of None stands for the one stream read
    without `childConditions`. Empty `companies_per_type`: the contacts read alone."""
    ids = sorted(qualifying_ids)
    total = sum(max(1, math.ceil(n / page_size)) for n in companies_per_type.values())
    total += RECHECK if companies_per_type else 0
    if not ids:
        return total
    for type_id, n in contacts_per_type.items():
        total += max(math.ceil(n / page_size), chunks_needed(base_url, ids, type_id, page_size=page_size))
    return total + RECHECK


def stream_sizes(
    companies: Iterable[dict[str, Any]],
    contacts: Iterable[dict[str, Any]],
    filters: FilterConfig,
    *,
    child_conditions: bool = True,
) -> tuple[dict[int | None, int], dict[int | None, int], list[int]]:
    """From raw ConnectWise records: companies per company-type stream, contacts per contact-type stream
    (what the server-side narrowings let through) and the qualifying company ids."""
    companies = list(companies)
    narrowed = [
        c
        for c in companies
        if not c.get("deletedFlag") and (c.get("status") or {}).get("id") in filters.company_statuses
    ]
    qualifying = company_frame([Company.model_validate(c) for c in companies], filters)["company_id"].tolist()
    at = set(qualifying)
    active = [c for c in contacts if not c.get("inactiveFlag") and (c.get("company") or {}).get("id") in at]

    def per_type(records: list[dict[str, Any]], types: list[int]) -> dict[int | None, int]:
        if not child_conditions:
            return {None: len(records)}
        return {t: sum(1 for r in records if t in {x.get("id") for x in r.get("types") or []}) for t in set(types)}

    return per_type(narrowed, filters.company_types), per_type(active, filters.contact_types), qualifying
