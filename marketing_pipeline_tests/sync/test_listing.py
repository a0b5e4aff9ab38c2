"""When one read of everyone in Encharge can be trusted: each inconsistency, and what "agrees" means."""

from __future__ import annotations

from marketing_pipeline.sync.listing import PeopleListing, PeoplePage, check_listing, verdict

SIZE = 10


def people(start: int, stop: int) -> list[dict]:
    return [{"id": f"p{i}", "email": f"p{i}@x.com"} for i in range(start, stop)]


def listing(*pages: list[dict], count: int | None, probe: list[dict] | None = None) -> PeopleListing:
    read = [PeoplePage(i * SIZE, page) for i, page in enumerate(pages)]
    short = next((p for p in read if len(p.people) < SIZE), None)
    probe_page = PeoplePage(short.offset + len(short.people), probe) if probe is not None and short else None
    return PeopleListing(page_size=SIZE, people_count=count, pages=read, probe=probe_page)


def test_a_complete_read_is_trusted_at_once() -> None:
    check = check_listing(listing(people(0, 10), people(10, 15), count=15))
    assert check.complete and check.read == 15
    assert verdict([check]).trusted and verdict([check]).note is None


def test_an_empty_account() -> None:
    assert check_listing(listing([], count=0)).complete


def test_a_short_page_before_the_end_is_found() -> None:
    check = check_listing(listing(people(0, 5), people(10, 20), people(20, 22), count=22))
    assert not check.sound
    assert (
        "the page at offset 0 held 5 people where 10 were asked, yet the page at offset 10 was not empty"
        in (check.problems[0])
    )
    assert not verdict([check]).trusted


def test_an_empty_first_page_is_found() -> None:
    check = check_listing(listing([], people(10, 20), people(20, 25), count=25))
    assert not check.sound and "offset 0 held 0 people" in check.problems[0]


def test_people_after_the_last_page_are_found_by_the_probe() -> None:
    # A server that caps `limit` below the page size: every page is short, so the read looks over at once.
    check = check_listing(listing(people(0, 5), count=None, probe=people(5, 10)))
    assert not check.sound and "Encharge caps `limit`" in check.problems[0]
    assert check_listing(listing(people(0, 5), count=None, probe=[])).sound


def test_a_person_listed_twice_is_a_shifted_read() -> None:
    # Someone was added at the front while paging: the last of page 0 shows again at the top of page 1.
    check = check_listing(listing(people(0, 10), people(9, 19), people(19, 21), count=21))
    assert not check.sound
    assert "1 person id(s) listed twice: p9 (offsets 0 and 10)" in check.problems[0]


def test_two_people_sharing_an_address_up_to_case_are_not_an_inconsistency() -> None:
    page = [{"id": "a", "email": "ann@x.com"}, {"id": "b", "email": "ANN@x.com"}]
    assert check_listing(listing(page, count=2)).complete


def test_a_read_that_misses_someone_disagrees_with_the_count() -> None:
    # A deletion while paging shifts offsets: one person slips between pages, and the count shows it.
    check = check_listing(listing(people(0, 10), people(11, 20), count=20, probe=[]))
    assert check.sound and not check.complete
    result = verdict([check])
    assert not result.trusted and result.reason == "read 19 people but peopleCount is 20"


def test_a_difference_that_repeats_exactly_is_the_accounts_and_is_trusted() -> None:
    # peopleCount counts 3 archived people the listing leaves out: two identical reads in a row.
    first = check_listing(listing(people(0, 10), people(10, 17), count=20, probe=[]))
    second = check_listing(listing(people(0, 10), people(10, 17), count=20, probe=[]))
    assert not verdict([first]).trusted
    result = verdict([first, second])
    assert result.trusted
    assert "3 counted people are not listed" in (result.note or "")


def test_a_difference_that_does_not_repeat_is_not_trusted() -> None:
    first = check_listing(listing(people(0, 10), people(11, 20), count=20, probe=[]))
    second = check_listing(listing(people(0, 10), people(10, 19), count=20, probe=[]))
    result = verdict([first, second])
    assert not result.trusted
    assert result.reason == "read 19 people but peopleCount is 20; and consecutive reads listed different people"


def test_a_sound_read_after_an_inconsistent_one_still_needs_the_count_or_a_twin() -> None:
    bad = check_listing(listing(people(0, 5), people(10, 20), people(20, 22), count=22))
    differs = check_listing(listing(people(0, 10), people(10, 17), count=20, probe=[]))
    assert not verdict([bad, differs]).trusted
    assert verdict([bad, check_listing(listing(people(0, 10), people(10, 20), people(20, 22), count=22))]).trusted


def test_without_a_count_two_identical_reads_are_needed() -> None:
    first = check_listing(listing(people(0, 10), people(10, 14), count=None, probe=[]))
    assert not verdict([first]).trusted
    result = verdict([first, check_listing(listing(people(0, 10), people(10, 14), count=None, probe=[]))])
    assert result.trusted and "no peopleCount" in (result.note or "")


def test_more_people_than_asked_for_is_a_problem() -> None:
    check = check_listing(listing(people(0, 12), count=12))
    assert not check.sound and "more than 10" in check.problems[0]


def test_the_reason_names_only_what_is_wrong() -> None:
    bad = check_listing(listing(people(0, 5), people(10, 20), people(20, 22), count=5))
    assert verdict([bad]).reason == (
        "the page at offset 0 held 5 people where 10 were asked, yet the page at offset 10 was not empty"
    )
