"""Reading everyone in Encharge for a run: one read, judged by `sync.listing_quality`, that fails only when it is
plainly broken.

A live account changes while it is read, and that never blocks a run: a person the read missed costs work
left for the next run, never a wrong write (see `sync.listing_quality`). What does fail the run, before anything is
written, is a read that cannot be a read of the account: an error, the same people over and over, a listing
that never ends, or nobody at all while `peopleCount` says there are people. An empty read is first tried
again without the steadying parameters (`sort`, `ignoreAnonymous`), in case those are what emptied it: an
account of anonymous visitors only reads as empty with `ignoreAnonymous`, and is fine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.errors import UntrustworthyReadError
from marketing_pipeline.sync.listing_quality import ListingQuality, assess

NOT_WRITTEN = "so nothing was written"


@dataclass(frozen=True)
class EnchargeRead:
    """Everyone the run's read saw, each once, and what the read was like."""

    quality: ListingQuality

    @property
    def people(self) -> list[dict]:
        return self.quality.people


def read_everyone(client: EnchargeClient) -> EnchargeRead:
    quality = _judged(assess(client.read_listing()))
    counted = max(quality.count_before or 0, quality.count_after or 0)
    if quality.people_read == 0 and counted:
        plain = _judged(assess(client.read_listing(steady=False)))
        if plain.people_read == 0:
            raise UntrustworthyReadError(
                f"Encharge listed nobody (GET /people/all, with and without sort and ignoreAnonymous) although "
                f"peopleCount is {counted:,}, {NOT_WRITTEN}"
            )
        dropped = "with sort and ignoreAnonymous Encharge listed nobody; read again without them"
        quality = replace(plain, dropped=[*plain.dropped, dropped])
    return EnchargeRead(quality)


def _judged(quality: ListingQuality) -> ListingQuality:
    if quality.broken:
        raise UntrustworthyReadError(f"Encharge's list of people is broken, {NOT_WRITTEN}: {quality.broken}")
    return quality
