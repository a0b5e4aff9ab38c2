"""The learned request rates in `MarketingApiRate`, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pytest

from marketing_pipeline.store.repository import SyncStore


def test_a_learned_rate_is_remembered_per_api_and_replaced(store: SyncStore) -> None:
    assert store.learned_rate("encharge") is None
    store.record_learned_rate("encharge", 87.5)
    store.record_learned_rate("connectwise", 14.0)
    assert (store.learned_rate("encharge"), store.learned_rate("connectwise")) == (87.5, 14.0)
    store.record_learned_rate("encharge", 42.0)
    assert store.learned_rate("encharge") == 42.0


@pytest.mark.parametrize("nothing", [None, 0.0, -3.0, math.nan, math.inf])
def test_nothing_learned_leaves_the_memory_alone(store: SyncStore, nothing: float | None) -> None:
    store.record_learned_rate("encharge", 30.0)
    store.record_learned_rate("encharge", nothing)
    assert store.learned_rate("encharge") == 30.0


def test_an_unknown_api_is_refused(store: SyncStore) -> None:
    with pytest.raises(ValueError, match="no API 'mailchimp'"):
        store.record_learned_rate("mailchimp", 10.0)
