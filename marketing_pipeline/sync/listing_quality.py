"""Reading everyone in Encharge while the account changes: where to read next, and what the read was like.

`GET /people/all` pages by offset, with no total and no cursor, and a live account changes while it is
read: people sign up (some anonymous, without an email), act (and, in an order by activity, move between
pages), are archived or deleted. A read of a busy account is never a snapshot, and the sync does not need
one: every write rests on positive evidence (a create on a lookup that found nobody, a tag removal on
having seen that very person carry the tag, an update on values seen or remembered), so a person the read
missed costs work left for the next run, never a wrong write. What the read must still do, and does here:

- cover every offset from 0 to the end. A page that comes back short (by mistake, or because the server
  caps `limit`) is followed by a read where it stopped; an empty page with people after it is read again
  (once, then the gap is reported); the end is an empty answer just past the last person, a short page
  that ends at or past `peopleCount`, or the last of `TAIL_PROBES` reads past a short last page;
- keep each person once, by id (the latest answer's version);
- say what it was like: people read, `peopleCount` before and after, people listed at two positions (the
  listing moved), pages that came back short, offsets it could not cover, whether the order was the one
  asked for, people counted but not listed (what it may have missed);
- refuse what is plainly broken: the same people over and over (offset ignored), a listing that never ends.

`ListingProgress` decides the requests (the client does them); `assess` judges the finished read.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

STALE_PAGES_BROKEN = 2  # full pages that list nobody new before the read is "the same page over and over"
REFETCHES = 1  # an empty page with people after it is asked for again this often before it is a gap
# Reads just past a short last page, to find whether more follow (a server that caps `limit`, people who
# signed up while the account was read): at most this many, so that a stream of sign-ups, each joining the
# end as the read reaches it, cannot keep the read going; whoever signs up after is the next run's.
TAIL_PROBES = 2
MAX_PAGES_WITHOUT_COUNT = 100_000


def person_id(person: Mapping[str, Any]) -> str | None:
    value = person.get("id")
    return None if value in (None, "") else str(value)


def is_anonymous(person: Mapping[str, Any]) -> bool:
    """No email: nothing the sync can match or write to (Encharge's anonymous visitors)."""
    email = person.get("email")
    return not (isinstance(email, str) and email.strip())


@dataclass(frozen=True)
class PeoplePage:
    """One answer of `GET /people/all`: the offset asked for and the people it held."""

    offset: int
    people: list[dict[str, Any]]


@dataclass(frozen=True)
class ListingRead:
    """What one read of everyone saw: every answer in the order it arrived, the counts around it, the
    offsets it could not cover, why it stopped early if it was plainly broken, and how it asked."""

    page_size: int
    count_before: int | None
    count_after: int | None
    answers: list[PeoplePage]
    gaps: list[tuple[int, int]] = field(default_factory=list)  # [start, end) offsets not covered
    broken: str | None = None
    sort: str | None = None  # e.g. "createdAt asc", as asked
    ignore_anonymous: bool = False  # as asked
    dropped: list[str] = field(default_factory=list)  # parameters Encharge refused, in the operator's words


class ListingProgress:
    """Where the next requests of one read go, as answers arrive. Not thread-safe: the client feeds it
    from the one thread that submits requests and collects their answers.

    Pages are asked for at multiples of the page size, up to what `peopleCount` says and, concurrently,
    `concurrency` at a time; past the count, one at a time until a full page shows more, then the window
    widens again. The *frontier* is the first offset no answer covers: the read goes on there until it
    reaches the end.
    """

    def __init__(self, page_size: int, people_count: int | None, concurrency: int = 4) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.size = page_size
        self.count = people_count
        self.concurrency = max(1, concurrency)
        self.horizon = ((people_count or 0) // page_size + 1) * page_size  # read ahead below this offset
        self.answers: list[PeoplePage] = []
        self.asked: Counter[int] = Counter()
        self.gaps: list[tuple[int, int]] = []
        self.broken: str | None = None
        self.seen: set[str] = set()
        self._stale: list[int] = []
        self._longest: dict[int, int] = {}  # offset -> the most people an answer there held
        self._offsets: list[int] = []  # answered offsets, sorted
        self._short: list[int] = []  # offsets answered with fewer people than asked, sorted
        self._folded = 0  # answered offsets (by index) already folded into the frontier
        self._frontier = 0
        self._short_end = False  # the frontier is where a short page ended
        self._tail_probes = 0
        # A read that needs three times the requests its count implies (or, without a count, a hundred
        # thousand: ten million people) is not reading a listing that ends.
        expected = (people_count // page_size + 1) if people_count is not None else MAX_PAGES_WITHOUT_COUNT // 3
        self._request_limit = 3 * expected + 10

    # --- answers -----------------------------------------------------------------------------------

    def asking(self, offset: int) -> None:
        self.asked[offset] += 1

    def record(self, offset: int, people: list[dict[str, Any]]) -> None:
        self.answers.append(PeoplePage(offset, people))
        ids = [pid for pid in map(person_id, people) if pid is not None]
        fresh = [pid for pid in ids if pid not in self.seen]
        self.seen.update(ids)
        if len(people) >= self.size and not fresh:
            self._stale.append(offset)
            if len(self._stale) >= STALE_PAGES_BROKEN:
                at = " and ".join(str(o) for o in sorted(self._stale))
                self.broken = (
                    f"full pages at offsets {at} listed nobody new: Encharge answers the same people over and "
                    "over (offset ignored?)"
                )
        if len(people) < self.size:
            bisect.insort(self._short, offset)
            # The listing probably ends here (nobody at all, or fewer than asked where `peopleCount` says no
            # more follow): no reading ahead past it. A full page beyond widens the window again.
            ends = not people or self.count is None or offset + len(people) >= self.count
            if offset > self._frontier and ends:
                self.horizon = min(self.horizon, offset + (self.size if people else 0))
        elif offset + self.size >= self.horizon and bisect.bisect_left(self._short, offset + self.size) == len(
            self._short
        ):
            self.horizon = offset + self.size * (1 + self.concurrency)  # more than counted: widen again
        if offset not in self._longest:
            index = bisect.bisect_left(self._offsets, offset)
            self._offsets.insert(index, offset)
            if index < self._folded:
                self._folded += 1
            self._longest[offset] = len(people)
        else:
            self._longest[offset] = max(self._longest[offset], len(people))
        if offset <= self._frontier < offset + self._longest[offset]:
            self._reach(offset + self._longest[offset], self._longest[offset])
        self._advance()
        if self.broken is None and sum(self.asked.values()) > self._request_limit:
            self.broken = (
                f"the listing did not end after {sum(self.asked.values())} requests for {len(self.seen)} people"
            )

    def _reach(self, end: int, held: int) -> None:
        if end > self._frontier:
            self._frontier = end
            self._short_end = held < self.size  # a page that held fewer than asked ended here
        elif end == self._frontier and held < self.size:
            self._short_end = True

    def _advance(self) -> None:
        """Fold every answer that starts at or before the frontier into it."""
        while self._folded < len(self._offsets) and self._offsets[self._folded] <= self._frontier:
            offset = self._offsets[self._folded]
            self._reach(offset + self._longest[offset], self._longest[offset])
            self._folded += 1

    # --- what next ----------------------------------------------------------------------------------

    @property
    def frontier(self) -> int:
        return self._frontier

    def _people_after(self, offset: int) -> int | None:
        """The first answered offset past `offset` that held people, if any."""
        index = bisect.bisect_right(self._offsets, offset)
        return next((o for o in self._offsets[index:] if self._longest[o] > 0), None)

    def next_offsets(self, in_flight: Collection[int]) -> list[int]:
        """The offsets to ask for now (none when the read is over or must wait for answers in flight)."""
        if self.broken is not None:
            return []
        wanted: list[int] = []
        while True:
            at = self._frontier
            if at in in_flight:
                break
            if at in self._longest:  # an empty answer exactly at the frontier
                later = self._people_after(at)
                if later is None:
                    break  # the end, once the answers in flight agree
                if self.asked[at] <= REFETCHES:
                    wanted.append(at)  # an empty page before people: ask again
                    break
                self.gaps.append((at, later))
                self._frontier = later
                self._advance()
                continue
            if not self._short_end or self._people_after(at) is not None:
                wanted.append(at)  # past a full page, or a short page before the end: read on from here
            elif any(offset > at for offset in in_flight):
                wanted.append(at)  # a short page, and answers past it still to come: read on meanwhile
            elif not self._ends_here():
                self._tail_probes += 1
                wanted.append(at)  # past a short last page: does anyone follow?
            break
        room = self.concurrency - len(in_flight) - len(wanted)
        offset = (self._frontier // self.size + 1) * self.size
        while room > 0 and offset < self.horizon:
            if offset not in self.asked and offset not in in_flight and offset not in wanted:
                wanted.append(offset)
                room -= 1
            offset += self.size
        return wanted[: max(1, self.concurrency - len(in_flight))] if wanted else []

    def _ends_here(self) -> bool:
        """The last page came back short here, and `peopleCount` says the listing is no longer, or the
        reads past it found only a trickle of newcomers as many times as a read goes looking."""
        if self.count is not None and self._frontier >= self.count:
            return True
        return self._tail_probes >= TAIL_PROBES

    def result(
        self, count_after: int | None, *, sort: str | None = None, ignore_anonymous: bool = False
    ) -> ListingRead:
        return ListingRead(
            page_size=self.size,
            count_before=self.count,
            count_after=count_after,
            answers=list(self.answers),
            gaps=list(self.gaps),
            broken=self.broken,
            sort=sort,
            ignore_anonymous=ignore_anonymous,
        )


# --- what the read was like ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingQuality:
    """A finished read, judged: the people (each once) and what the operator should know about the read."""

    people: list[dict[str, Any]]
    count_before: int | None
    count_after: int | None
    requests: int
    moved: int  # people listed at two positions: the listing moved while it was read
    short_pages: int  # answers with fewer people than asked, before the end
    not_covered: int  # offsets no answer covered (gaps), so people there may have been missed
    anonymous: int  # people without an email in the listing (ignoreAnonymous not honoured, or no userId)
    order_as_asked: bool | None  # None when no order was asked for, or the answers cannot tell
    broken: str | None
    dropped: list[str] = field(default_factory=list)

    @property
    def people_read(self) -> int:
        return len(self.people)

    @property
    def unlisted(self) -> int:
        """People `peopleCount` counts that the read did not list: archived or anonymous people it leaves
        out, and people who signed up, moved or were missed while it was read. An upper bound of what the
        read may have missed (when the count counts everyone)."""
        count = self.count_after if self.count_after is not None else self.count_before
        return max(0, (count or 0) - self.people_read)

    @property
    def unusual(self) -> bool:
        return bool(
            self.moved
            or self.short_pages
            or self.not_covered
            or self.unlisted
            or self.order_as_asked is False
            or self.dropped
            or self.count_before != self.count_after
        )

    def note(self) -> str | None:
        """One line for the operator when the read was not a plain one; None when it was."""
        if not self.unusual:
            return None
        counts = f"peopleCount {_count(self.count_before)} before, {_count(self.count_after)} after"
        parts = [f"read {self.people_read:,} people ({counts})"]
        if self.moved:
            parts.append(f"{self.moved:,} listed twice at different positions (the listing moved while it was read)")
        if self.order_as_asked is False:
            parts.append("Encharge did not list them in the order asked for (createdAt), so people who act may move")
        if self.short_pages:
            parts.append(f"{self.short_pages:,} page(s) came back short and the read went on where each stopped")
        if self.not_covered:
            parts.append(f"{self.not_covered:,} offset(s) stayed empty although people followed")
        if self.dropped:
            parts.append("; ".join(self.dropped))
        if self.unlisted or self.not_covered:
            parts.append(
                f"up to {max(self.unlisted, self.not_covered):,} people may not have been seen (archived, "
                "anonymous, or signed up or moved during the read): each is looked up before any create, and "
                "keeps the sync's tag until a read sees it"
            )
        return "Encharge: " + "; ".join(parts)

    def as_details(self) -> dict[str, Any]:
        """For the run's details and the asset's metadata (camelCase, as the run record's other fields)."""
        return {
            "peopleRead": self.people_read,
            "peopleCountBefore": self.count_before,
            "peopleCountAfter": self.count_after,
            "requests": self.requests,
            "listedTwice": self.moved,
            "shortPages": self.short_pages,
            "notCovered": self.not_covered,
            "anonymous": self.anonymous,
            "orderAsAsked": self.order_as_asked,
            "unlisted": self.unlisted,
            "parametersDropped": list(self.dropped),
            "note": self.note(),
        }


def _count(value: int | None) -> str:
    return "not given" if value is None else f"{value:,}"


def assess(read: ListingRead) -> ListingQuality:
    """The people of a read, each once (the latest answer's version), and what the read was like."""
    people: dict[str, dict[str, Any]] = {}
    latest: dict[str, int] = {}  # where each person was last listed
    positions: dict[str, set[int]] = {}
    for answer in read.answers:
        for index, person in enumerate(answer.people):
            pid = person_id(person)
            if pid is None:
                continue  # nothing can address a person without an id
            people[pid] = person
            latest[pid] = answer.offset + index
            positions.setdefault(pid, set()).add(answer.offset + index)
    # A short page before the end: people were listed a whole page or more past where it was asked.
    with_people = sorted(a.offset for a in read.answers if a.people)
    short = sum(
        1
        for a in read.answers
        if len(a.people) < read.page_size
        and bisect.bisect_left(with_people, a.offset + read.page_size) < len(with_people)
    )
    return ListingQuality(
        people=[people[pid] for pid in sorted(people, key=latest.__getitem__)],
        count_before=read.count_before,
        count_after=read.count_after,
        requests=len(read.answers),
        moved=sum(1 for where in positions.values() if len(where) > 1),
        short_pages=short,
        not_covered=sum(end - start for start, end in read.gaps),
        anonymous=sum(1 for person in people.values() if is_anonymous(person)),
        order_as_asked=_order_as_asked(read.sort, read.answers),
        broken=read.broken,
        dropped=list(read.dropped),
    )


def _order_as_asked(sort: str | None, answers: list[PeoplePage]) -> bool | None:
    """Whether each answer lists its people in the order asked for (`createdAt asc` or `desc`). Each
    answer is one slice of the listing at one moment; across answers, people may have moved in between."""
    if not sort:
        return None
    name, _, direction = sort.partition(" ")
    descending = direction.strip().lower() == "desc"
    judged = False
    for answer in answers:
        values = [person.get(name) for person in answer.people]
        if len(values) < 2 or not all(isinstance(v, str) for v in values):
            continue
        judged = True
        pairs = itertools.pairwise(values)
        if not all((a >= b) if descending else (a <= b) for a, b in pairs):
            return False
    return True if judged else None
