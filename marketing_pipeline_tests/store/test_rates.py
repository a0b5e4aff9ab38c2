"""The learned request rates in `MarketingApiRate`, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import update

from marketing_pipeline.store.database import connect
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.schema import marketing_api_rate
from marketing_pipeline.transport.rate import LearnedRate


def test_a_learned_rate_is_remembered_per_api_and_replaced(store: SyncStore) -> None:
    assert store.learned_rate("encharge") is None
    store.record_learned_rate("encharge", LearnedRate(87.5, limit_seen=True))
    store.record_learned_rate("connectwise", LearnedRate(14.0, limit_seen=False))
    assert (store.learned_rate("encharge"), store.learned_rate("connectwise")) == (
        LearnedRate(87.5, limit_seen=True),
        LearnedRate(14.0, limit_seen=False),
    )
    store.record_learned_rate("encharge", LearnedRate(42.0, limit_seen=False))
    assert store.learned_rate("encharge") == LearnedRate(42.0, limit_seen=False)


@pytest.mark.parametrize("nothing", [None, 0.0, -3.0, math.nan, math.inf])
def test_nothing_learned_leaves_the_memory_alone(store: SyncStore, nothing: float | None) -> None:
    store.record_learned_rate("encharge", LearnedRate(30.0, limit_seen=True))
    store.record_learned_rate("encharge", None if nothing is None else LearnedRate(nothing, limit_seen=True))
    assert store.learned_rate("encharge") == LearnedRate(30.0, limit_seen=True)


@pytest.mark.parametrize("written", [0.0, -1.0, math.inf])
def test_a_rate_written_by_someone_else_is_trusted_only_when_usable(store: SyncStore, written: float) -> None:
    store.record_learned_rate("encharge", LearnedRate(30.0, limit_seen=True))
    with connect(store.url) as conn:
        conn.execute(update(marketing_api_rate).values(requestsPerSecond=written))
    assert store.learned_rate("encharge") is None


def test_an_unknown_api_is_refused(store: SyncStore) -> None:
    with pytest.raises(ValueError, match="no API 'mailchimp'"):
        store.record_learned_rate("mailchimp", LearnedRate(10.0, limit_seen=False))
