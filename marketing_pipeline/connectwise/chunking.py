"""How many company ids to put in each contacts request, so that requests come back as full pages.

A request's URL holds a limited number of company ids, and each chunk of ids ends on a partly filled
page. After the first chunk (as many ids as the URL allows), we know how many contacts a company
has, on average and how spread; the remaining chunks are sized to fill whole pages with a 99% chance
of not spilling onto one more page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

Z_99 = 2.33


def ids_per_chunk(
    first_chunk: Sequence[int], contacts_per_company: Mapping[int | None, int], *, page_size: int, url_max: int
) -> int:
    """Ids per request for the remaining chunks (never more than `url_max`, the URL-length limit).

    `contacts_per_company` counts the first chunk's contacts by company id (companies with none may be absent).
    """
    per_company = [contacts_per_company.get(company_id, 0) for company_id in first_chunk]
    if not per_company:
        return url_max
    mean = sum(per_company) / len(per_company)
    if mean <= 0:
        return url_max
    spread = math.sqrt(sum((c - mean) ** 2 for c in per_company) / len(per_company))
    pages = math.floor(url_max * mean / page_size)
    if pages < 1:
        return url_max  # even a full URL's worth of companies is under one page: the URL is the limit
    target = pages * page_size
    n = min(url_max, math.floor(target / mean))
    while n > 1 and n * mean + Z_99 * spread * math.sqrt(n) > target:
        n -= 1
    return max(1, n)
