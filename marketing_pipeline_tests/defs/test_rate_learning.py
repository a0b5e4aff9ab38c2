"""The sync against an Encharge with an unpublished rate limit: it learns the limit without a storm of
429s, spends no request more than it must (429s aside), remembers the rate, and starts the next run there."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import dagster as dg
import pytest

from marketing_pipeline.defs.resources import EnchargeResource
from marketing_pipeline.launch.partition_registry import register_sync_partitions
from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
from marketing_pipeline.sandbox.dataset import expected_audience, generate, new_person
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.pipeline import Pipeline, asset_metadata, pipeline_resources

AUDIENCE, PEOPLE, LIMIT, BURST = 150, 5000, 30, 10


@pytest.fixture
def limited(sqlite_url: str, instance: dg.DagsterInstance) -> Iterator[Pipeline]:
    from marketing_pipeline.store.seed import initialise_store

    data = generate(AUDIENCE, encharge="empty")
    rng = random.Random(5)
    readers = [new_person(f"r{i}@readers.example.net", "R", f"{i}", "", [], rng=rng) for i in range(PEOPLE - AUDIENCE)]
    initialise_store(sqlite_url)
    store = SyncStore(sqlite_url)
    register_sync_partitions(instance, store)
    with ConnectWiseSandbox(data.companies, data.contacts) as cw, EnchargeSandbox(readers) as en:
        en.modes.configure({"hidden_limit_per_second": LIMIT, "hidden_limit_burst": BURST})
        boxes = Sandboxes(dataset=data, connectwise=cw, encharge=en)
        env = boxes.env()
        resources = pipeline_resources(boxes, sqlite_url)
        resources["encharge"] = EnchargeResource(
            base_url=env["ENCHARGE_BASE_URL"], api_key=env["ENCHARGE_REST_API_KEY"], timeout_seconds=5
        )
        yield Pipeline(store=store, boxes=boxes, instance=instance, resources=resources)


def encharge_figures(boxes: Sandboxes) -> tuple[int, int]:
    """(requests the server answered, requests it refused with 429)."""
    refused = boxes.encharge.throttled
    return boxes.encharge.request_count() - refused, refused


def test_it_learns_the_hidden_limit_and_starts_the_next_run_there(limited: Pipeline) -> None:
    boxes = limited.boxes
    audience = len(expected_audience(boxes.dataset))
    cold = limited.run()
    assert cold.success
    answered, refused = encharge_figures(boxes)
    # The fewest: peopleCount, every page, lookups of the addresses to create, the creates, a tag call each.
    fewest = 1 + (PEOPLE - AUDIENCE) // 100 + 1 + math.ceil(audience / 20) + math.ceil(audience / 100) + audience
    assert fewest <= answered <= 1.05 * fewest
    assert refused / (answered + refused) < 0.03
    learned = limited.store.learned_rate("encharge")
    assert learned is not None and learned.limit_seen and 0.5 * LIMIT <= learned.per_second <= 1.1 * LIMIT
    assert limited.store.learned_rate("connectwise") is None  # no limiter on ConnectWise here: nothing learned

    row = limited.last_run()
    assert row is not None
    throughput = row.details["throughput"]
    assert throughput["encharge"]["requests"] == answered + refused
    assert throughput["encharge"]["throttled"] == refused
    assert throughput["encharge"]["rateLearned"] == pytest.approx(learned.per_second, abs=0.1)
    assert throughput["connectwise"]["requests"] == boxes.connectwise.request_count()
    people = asset_metadata(cold, "encharge_people")
    assert people["requests"] == boxes.encharge.request_count("GET", "/people/all") + 2  # peopleCount twice
    assert people["rate_reached_per_second"] > 0

    # The next run starts at the learned rate: with a start of 1 a second and nothing remembered, its 50
    # pages would leave it at about 11 a second.
    boxes.encharge.clear_log()
    slow_start = limited.resources["encharge"].model_copy(update={"start_requests_per_second": 1.0})
    steady = limited.with_resource("encharge", slow_start).run()
    assert steady.success
    answered, refused = encharge_figures(boxes)
    assert answered == 2 + len(boxes.encharge.people) // 100 + 1 and refused == 0  # peopleCount twice, the pages
    assert asset_metadata(steady, "encharge_people")["rate_learned_per_second"] >= 0.95 * learned.per_second
    assert limited.store.last_run(limited.store.get_sync(SYNC_KEY)).details["throughput"]["encharge"] == {
        "requests": answered,
        "throttled": 0,
        "throttledShare": 0.0,
        "rateReached": asset_metadata(steady, "encharge_people")["rate_reached_per_second"],
        "rateLearned": asset_metadata(steady, "encharge_people")["rate_learned_per_second"],
    }
