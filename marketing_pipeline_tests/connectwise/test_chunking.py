from __future__ import annotations

from collections import Counter

from marketing_pipeline.connectwise.chunking import ids_per_chunk
from marketing_pipeline.connectwise.conditions import chunk_ids_for_url


def test_dense_companies_get_chunks_that_fill_a_page() -> None:
    first = list(range(230))
    contacts = [cid for cid in first for _ in range(7)]  # 7 contacts each, no spread
    n = ids_per_chunk(first, Counter(contacts), page_size=1000, url_max=230)
    assert n == 142  # 142 * 7 = 994 <= 1000


def test_spread_leaves_a_margin() -> None:
    first = list(range(200))
    contacts = [cid for cid in first for _ in range(2 if cid % 2 else 12)]  # mean 7, spread 5
    n = ids_per_chunk(first, Counter(contacts), page_size=1000, url_max=200)
    assert 100 < n < 142 and n * 7 + 2.33 * 5 * n**0.5 <= 1000


def test_sparse_companies_are_limited_by_the_url_only() -> None:
    first = list(range(300))
    assert ids_per_chunk(first, Counter([1, 2, 3]), page_size=1000, url_max=300) == 300
    assert ids_per_chunk(first, Counter(), page_size=1000, url_max=300) == 300
    assert ids_per_chunk([], Counter(), page_size=1000, url_max=300) == 300


def test_very_dense_companies_get_several_pages_per_chunk() -> None:
    first = list(range(100))
    contacts = [cid for cid in first for _ in range(50)]  # 5,000 contacts: 5 pages
    assert ids_per_chunk(first, Counter(contacts), page_size=1000, url_max=100) == 100


def test_chunks_respect_both_limits() -> None:
    ids = list(range(1000, 3000))
    chunks = chunk_ids_for_url(ids, fixed_length=200, max_length=1700, max_ids=150)
    assert [i for c in chunks for i in c] == ids
    assert max(len(c) for c in chunks) == 150
    assert all(200 + sum(len(str(i)) + 3 for i in c) <= 1700 for c in chunks)
