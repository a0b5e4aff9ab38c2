"""Reading everyone in Encharge until the read can be trusted, or giving up before anything is written.

A read that `sync.listing` finds inconsistent, or whose count differs and has not yet repeated itself, is
read again, up to `MAX_READS` reads in all. If none can be trusted the run fails, naming what was
inconsistent, and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.errors import UntrustworthyReadError
from marketing_pipeline.sync.listing import ListingCheck, check_listing, verdict

MAX_READS = 3


@dataclass(frozen=True)
class TrustedListing:
    people: list[dict[str, Any]]
    people_count: int | None
    reads: int
    note: str | None  # why a count that differs was accepted, when it was


def read_everyone(client: EnchargeClient, max_reads: int = MAX_READS) -> TrustedListing:
    checks: list[ListingCheck] = []
    for _ in range(max(1, max_reads)):
        listing = client.read_listing()
        checks.append(check_listing(listing))
        outcome = verdict(checks)
        if outcome.trusted:
            return TrustedListing(
                people=listing.people, people_count=listing.people_count, reads=len(checks), note=outcome.note
            )
    raise UntrustworthyReadError(
        f"Encharge's list of people could not be trusted after {len(checks)} reads, so nothing was written: "
        f"{verdict(checks).reason}"
    )
