"""Whether a read of everyone in Encharge can be trusted, before anything is written.

`GET /people/all` pages by offset, with no total and no cursor. A page that comes back short or empty by
mistake, or a person added or deleted while the pages are read, shifts the offsets: people are missed or
seen twice, and a person missed looks new. So each read is checked, in itself and against `peopleCount`:
- no person id is listed twice;
- no short or empty page is followed by a non-empty one, and nothing follows the last page (whenever the
  count does not confirm the end, the client reads one probe just past it);
- the number of people read agrees with `peopleCount`.

What "agrees" means: equal; or, when they differ (an account whose `peopleCount` counts people the listing
leaves out, archived people say, or one that gives no count), two reads in a row that are sound in
themselves, see exactly the same people and the same count. A difference that repeats exactly belongs to
the account, not to the read; a read that went wrong does not repeat itself person for person. People the
listing leaves out are never at risk from this rule: the lookup before create finds them, and the sync
never sends `tags` in an upsert, so no mistaken "create" can touch anyone's tags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_NAMED = 3  # people or pages named in one message


@dataclass(frozen=True)
class PeoplePage:
    offset: int
    people: list[dict[str, Any]]


@dataclass(frozen=True)
class PeopleListing:
    """One read of everyone: `peopleCount` as Encharge gave it (None when it would not), every page read
    in offset order (contiguous from 0), and the probe read just past the first short page, if any."""

    page_size: int
    people_count: int | None
    pages: list[PeoplePage]
    probe: PeoplePage | None = None

    @property
    def first_short(self) -> PeoplePage | None:
        return next((page for page in self.pages if len(page.people) < self.page_size), None)

    @property
    def people(self) -> list[dict[str, Any]]:
        """Everyone listed up to and including the first short page (later pages are a problem, not people)."""
        out: list[dict[str, Any]] = []
        for page in self.pages:
            out.extend(page.people)
            if len(page.people) < self.page_size:
                break
        return out


@dataclass(frozen=True)
class ListingCheck:
    """What one read looked like: the problems that make it untrustworthy in itself, how it compares with
    `peopleCount`, and who was in it (to compare with the next read)."""

    read: int
    people_count: int | None
    problems: list[str] = field(default_factory=list)
    ids: frozenset[str] = frozenset()

    @property
    def sound(self) -> bool:
        return not self.problems

    @property
    def complete(self) -> bool:
        """Sound, and exactly as many people as `peopleCount` says."""
        return self.sound and self.people_count == self.read

    def count_text(self) -> str:
        if self.people_count is None:
            return f"read {self.read} people (Encharge gave no peopleCount)"
        return f"read {self.read} people but peopleCount is {self.people_count}"


def _id(person: dict[str, Any]) -> str | None:
    value = person.get("id")
    return None if value in (None, "") else str(value)


def check_listing(listing: PeopleListing) -> ListingCheck:
    problems: list[str] = []
    size = listing.page_size
    short: PeoplePage | None = None
    for page in listing.pages:
        if len(page.people) > size:
            problems.append(f"the page at offset {page.offset} held {len(page.people)} people, more than {size}")
        if short is not None and page.people:
            problems.append(
                f"the page at offset {short.offset} held {len(short.people)} people where {size} were asked, "
                f"yet the page at offset {page.offset} was not empty"
            )
            break
        if short is None and len(page.people) < size:
            short = page
    probe = listing.probe
    if probe is not None and probe.people and short is not None:
        problems.append(
            f"the page at offset {short.offset} held {len(short.people)} people where {size} were asked, yet "
            f"more people followed at offset {probe.offset} (a short page, or Encharge caps `limit` below {size})"
        )

    people = listing.people
    offsets: dict[str, list[int]] = {}
    for page in listing.pages:
        for person in page.people:
            person_id = _id(person)
            if person_id is not None:
                offsets.setdefault(person_id, []).append(page.offset)
    twice = [(pid, where) for pid, where in offsets.items() if len(where) > 1]
    if twice:
        named = ", ".join(f"{pid} (offsets {' and '.join(map(str, where[:2]))})" for pid, where in twice[:MAX_NAMED])
        more = f" and {len(twice) - MAX_NAMED} more" if len(twice) > MAX_NAMED else ""
        problems.append(f"{len(twice)} person id(s) listed twice: {named}{more}; the listing shifted while it was read")

    ids = frozenset(pid for pid in map(_id, people) if pid is not None)
    return ListingCheck(read=len(people), people_count=listing.people_count, problems=problems, ids=ids)


@dataclass(frozen=True)
class Verdict:
    trusted: bool
    note: str | None  # when trusted although the count differs: what differs, for the run's metadata
    reason: str | None  # when not trusted: why, in one line


def verdict(checks: Sequence[ListingCheck]) -> Verdict:
    """Whether the last read (with the one before it) can be trusted."""
    last = checks[-1]
    if last.complete:
        return Verdict(True, None, None)
    previous = checks[-2] if len(checks) > 1 else None
    if (
        last.sound
        and previous is not None
        and previous.sound
        and previous.ids == last.ids
        and previous.read == last.read
        and previous.people_count == last.people_count
    ):
        if last.people_count is None:
            note = f"Encharge gave no peopleCount; two reads in a row listed the same {last.read} people"
        elif last.people_count > last.read:
            note = (
                f"peopleCount is {last.people_count} but two reads in a row listed the same {last.read} people: "
                f"{last.people_count - last.read} counted people are not listed (archived, say); they are "
                "found by the lookup before create, and the sync cannot see their tags to remove it"
            )
        else:
            note = f"peopleCount is {last.people_count} but two reads in a row listed the same {last.read} people"
        return Verdict(True, note, None)
    return Verdict(False, None, describe(checks))


def describe(checks: Sequence[ListingCheck]) -> str:
    last = checks[-1]
    parts = list(last.problems)
    if last.people_count != last.read:
        parts.append(last.count_text())
    if len(checks) > 1 and all(c.sound for c in checks[-2:]):
        parts.append("and consecutive reads listed different people")
    return "; ".join(parts)
