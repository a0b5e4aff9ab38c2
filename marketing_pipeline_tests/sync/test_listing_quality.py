"""Reading everyone in Encharge while it changes: where the next requests go (`ListingProgress`, driven here
against simulated listings, answered in either order), and what a finished read was like (`assess`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from marketing_pipeline.sync.listing_quality import (
    TAIL_PROBES,
    ListingProgress,
    ListingRead,
    PeoplePage,
    assess,
)

SIZE = 10


def people(start: int, stop: int, **extra: object) -> list[dict]:
    return [
        {"id": f"p{i}", "email": f"p{i}@x.com", "createdAt": f"2026-01-01T00:{i:04d}", **extra}
        for i in range(start, stop)
    ]


def everyone(listing: list[dict]) -> Callable[[int], list[dict]]:
    return lambda offset: listing[offset : offset + SIZE]


def drive(
    answer: Callable[[int], list[dict]],
    count: int | None,
    *,
    concurrency: int = 4,
    newest_first: bool = False,
    after: Callable[[], None] | None = None,
) -> ListingProgress:
    """Ask and answer until the read is over: the oldest request answered first, or the newest (answers
    arriving out of order); `after` runs after each answer (the account changing between page reads)."""
    progress = ListingProgress(SIZE, count, concurrency)
    in_flight: list[int] = []
    while True:
        for offset in progress.next_offsets(set(in_flight)):
            progress.asking(offset)
            in_flight.append(offset)
        if not in_flight:
            return progress
        offset = in_flight.pop(-1 if newest_first else 0)
        progress.record(offset, answer(offset))
        if after:
            after()


def read_of(progress: ListingProgress, count_after: int | None = None) -> ListingRead:
    return progress.result(count_after if count_after is not None else progress.count, sort="createdAt asc")


def ids(progress: ListingProgress) -> list[str]:
    return sorted((p["id"] for p in assess(read_of(progress)).people), key=lambda i: int(i[1:]))


@pytest.mark.parametrize("newest_first", [False, True])
@pytest.mark.parametrize("n", [0, 1, 9, 10, 11, 25, 40])
def test_a_quiet_account_is_read_in_the_fewest_requests(n: int, newest_first: bool) -> None:
    progress = drive(everyone(people(0, n)), n, newest_first=newest_first)
    assert ids(progress) == [f"p{i}" for i in range(n)]
    assert sum(progress.asked.values()) == n // SIZE + 1  # every page, the last one short (or empty)
    quality = assess(read_of(progress))
    assert quality.note() is None and not quality.unusual and quality.broken is None


def test_without_a_count_the_read_widens_after_a_full_page() -> None:
    progress = drive(everyone(people(0, 55)), None)
    assert len(ids(progress)) == 55
    # page 0 alone, then four at a time (the last window overshoots by up to three empty pages), then the
    # reads past the short page
    assert sum(progress.asked.values()) <= 55 // SIZE + 1 + 3 + TAIL_PROBES


def test_a_count_too_low_costs_requests_never_people() -> None:
    progress = drive(everyone(people(0, 73)), 12)
    assert len(ids(progress)) == 73


def test_a_count_too_high_stops_at_the_first_empty_answer() -> None:
    progress = drive(everyone(people(0, 23)), 500, concurrency=2)
    assert len(ids(progress)) == 23
    assert sum(progress.asked.values()) <= 6  # not the 51 pages the count suggests


@pytest.mark.parametrize("newest_first", [False, True])
def test_a_short_page_mid_listing_is_read_on_from_where_it_stopped(newest_first: bool) -> None:
    listing = people(0, 35)
    short = {10}

    def answer(offset: int) -> list[dict]:
        page = listing[offset : offset + SIZE]
        return page[: len(page) // 2] if short and offset in short and not short.remove(offset) else page

    progress = drive(answer, 35, newest_first=newest_first)
    assert ids(progress) == [f"p{i}" for i in range(35)]  # nobody missed, nobody looks new
    quality = assess(read_of(progress))
    assert quality.short_pages == 1 and quality.not_covered == 0 and "came back short" in (quality.note() or "")


def test_an_empty_page_before_people_is_asked_for_again_once() -> None:
    listing = people(0, 30)
    empty = {0}

    def answer(offset: int) -> list[dict]:
        return [] if offset in empty and not empty.discard(offset) else listing[offset : offset + SIZE]

    progress = drive(answer, 30)
    assert ids(progress) == [f"p{i}" for i in range(30)] and progress.asked[0] == 2
    assert assess(read_of(progress)).not_covered == 0


def test_an_offset_that_stays_empty_is_a_gap_the_read_reports() -> None:
    listing = people(0, 30)
    progress = drive(lambda offset: [] if offset == 10 else listing[offset : offset + SIZE], 30)
    assert ids(progress) == [f"p{i}" for i in (*range(10), *range(20, 30))]
    assert progress.gaps == [(10, 20)] and progress.asked[10] == 2
    quality = assess(read_of(progress))
    assert quality.not_covered == 10
    assert "up to 10 people may not have been seen" in (quality.note() or "")


def test_a_server_that_caps_the_page_size_is_read_whole() -> None:
    listing = people(0, 47)
    progress = drive(lambda offset: listing[offset : offset + SIZE // 2], 47)  # every answer half a page
    assert len(ids(progress)) == 47
    assert sum(progress.asked.values()) <= 2 * (47 // SIZE + 1) + 1


def test_people_deleted_while_paging_shift_the_rest_forward_and_cost_only_missed_people() -> None:
    listing = people(0, 40)
    served: list[int] = []

    def answer(offset: int) -> list[dict]:
        page = listing[offset : offset + SIZE]
        served.append(offset)
        if len(served) == 1:
            del listing[0]  # after the first page: everyone after moves up by one
        return page

    progress = drive(answer, 40, concurrency=1)
    assert "p10" not in ids(progress) and len(ids(progress)) == 39  # p10 slipped by; no one twice


def test_sign_ups_that_join_the_end_cannot_keep_the_read_going() -> None:
    listing = people(0, 30)
    joined = iter(range(1000, 10_000))

    def sign_up() -> None:
        listing.extend(people(next(joined), next(joined)))  # newcomers, oldest first

    progress = drive(everyone(listing), 30, after=sign_up)
    assert {f"p{i}" for i in range(30)} <= set(ids(progress))
    assert sum(progress.asked.values()) <= 30 // SIZE + 1 + TAIL_PROBES


def test_sign_ups_without_a_count_stop_after_the_tail_probes() -> None:
    listing = people(0, 25)
    joined = iter(range(1000, 10_000, 2))

    def sign_up() -> None:
        first = next(joined)
        listing.extend(people(first, first + 2))

    progress = drive(everyone(listing), None, after=sign_up)
    assert {f"p{i}" for i in range(25)} <= set(ids(progress)) and progress.broken is None


def test_an_order_by_activity_moves_people_and_the_read_says_so() -> None:
    listing = people(0, 40)

    def act() -> None:
        listing.insert(0, listing.pop())  # the least recently active acts: to the front, unread

    act()  # someone acted before the read: the most recent first
    progress = drive(everyone(listing), 40, concurrency=1, after=act)
    quality = assess(read_of(progress))
    assert quality.people_read < 40 and quality.moved > 0  # missed some, saw others twice
    assert quality.order_as_asked is False
    assert "listed twice" in (quality.note() or "")


def test_the_same_page_over_and_over_is_broken() -> None:
    listing = people(0, 10)
    progress = drive(lambda _offset: list(listing), 500)  # offset ignored
    assert progress.broken is not None and "the same people over and over" in progress.broken
    assert sum(progress.asked.values()) <= 6  # stopped at once, not after 51 pages
    assert assess(read_of(progress)).broken == progress.broken


def test_a_listing_that_never_ends_is_broken() -> None:
    counter = iter(range(10**9))

    def endless(offset: int) -> list[dict]:
        start = next(counter) * SIZE
        return people(start, start + SIZE)  # always new people, full pages

    progress = drive(endless, 20)
    assert progress.broken is not None and "did not end" in progress.broken


# --- assess -------------------------------------------------------------------------------------------------


def read(*answers: tuple[int, list[dict]], before: int | None = None, after: int | None = None) -> ListingRead:
    pages = [PeoplePage(offset, list(found)) for offset, found in answers]
    return ListingRead(page_size=SIZE, count_before=before, count_after=after, answers=pages, sort="createdAt asc")


def test_each_person_once_the_latest_answer_winning() -> None:
    old = {"id": "a", "email": "a@x.com", "lastName": "Old"}
    new = {"id": "a", "email": "a@x.com", "lastName": "New"}
    quality = assess(read((0, [old]), (0, [new]), before=1, after=1))
    assert quality.people == [new] and quality.moved == 0  # the same position: not a moved listing


def test_people_without_an_id_are_left_out_and_anonymous_people_are_counted() -> None:
    quality = assess(read((0, [{"email": "x@x.com"}, {"id": "v1"}, {"id": "v2", "email": " "}]), before=3, after=3))
    assert [p["id"] for p in quality.people] == ["v1", "v2"] and quality.anonymous == 2


def test_counted_but_not_listed_is_what_the_read_may_have_missed() -> None:
    quality = assess(read((0, people(0, 7)), before=9, after=10))
    assert quality.unlisted == 3
    note = quality.note() or ""
    assert note.startswith("Encharge: read 7 people (peopleCount 9 before, 10 after)")
    assert "up to 3 people may not have been seen" in note and "looked up before any create" in note
    details = quality.as_details()
    assert (details["peopleRead"], details["peopleCountBefore"], details["peopleCountAfter"]) == (7, 9, 10)
    assert details["unlisted"] == 3 and details["note"] == note


def test_an_order_that_is_not_the_one_asked_for_is_noticed() -> None:
    backwards = list(reversed(people(0, 5)))
    assert assess(read((0, backwards), before=5, after=5)).order_as_asked is False
    assert assess(read((0, people(0, 5)), before=5, after=5)).order_as_asked is True
    no_dates = [{"id": "a", "email": "a@x.com"}, {"id": "b", "email": "b@x.com"}]
    assert assess(read((0, no_dates), before=2, after=2)).order_as_asked is None


def test_a_plain_read_has_no_note() -> None:
    quality = assess(read((0, people(0, 10)), (10, people(10, 13)), before=13, after=13))
    assert (quality.people_read, quality.short_pages, quality.moved, quality.note()) == (13, 0, 0, None)


def test_page_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ListingProgress(0, None)
