"""Correctness and request counts at scale (5,000 contacts in CI; the benchmark goes to 100,000)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator

import dagster as dg
import pytest

from marketing_pipeline.connectwise.bounds import fewest_requests, stream_sizes
from marketing_pipeline.launch.partition_registry import register_sync_partitions
from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
from marketing_pipeline.sandbox.dataset import TAG, apply_churn, expected_audience, generate, new_person
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import FIRST_SYNC
from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline_tests.support import adopt_first_sync
from marketing_pipeline_tests.support.pipeline import Pipeline, pipeline_resources

pytestmark = pytest.mark.slow  # 5,000 contacts

AUDIENCE, CONTACTS, PEOPLE = 2000, 5000, 5000
SEED = FilterConfig.model_validate(FIRST_SYNC["filter_config"])


@pytest.fixture
def at_scale(sqlite_url: str, instance: dg.DagsterInstance) -> Iterator[Pipeline]:
    from marketing_pipeline.store.seed import initialise_store

    data = generate(AUDIENCE, companies=300, other_contacts=CONTACTS - AUDIENCE, encharge="empty")
    rng = random.Random(3)
    readers = [
        new_person(f"reader{i}@readers.example.net", "R", f"{i}", "", ["blog"], rng=rng)
        for i in range(PEOPLE - AUDIENCE)
    ]
    initialise_store(sqlite_url)
    adopt_first_sync(sqlite_url)  # an existing install: the first sync owns its tag
    store = SyncStore(sqlite_url)
    register_sync_partitions(instance, store)
    with ConnectWiseSandbox(data.companies, data.contacts, indexed=True) as cw, EnchargeSandbox(readers) as en:
        boxes = Sandboxes(dataset=data, connectwise=cw, encharge=en)
        yield Pipeline(store=store, boxes=boxes, instance=instance, resources=pipeline_resources(boxes, sqlite_url))


def counts(boxes: Sandboxes) -> dict[str, int]:
    return {
        "cw_companies": boxes.connectwise.request_count("GET", "company/companies"),
        "cw_contacts": boxes.connectwise.request_count("GET", "company/contacts"),
        "people_pages": boxes.encharge.request_count("GET", "/people/all"),
        "lookups": boxes.encharge.requests["GET /v1/people"],
        "upserts": boxes.encharge.requests["POST /v1/people"],
        "tag_calls": boxes.encharge.requests["POST /v1/tags"] + boxes.encharge.requests["DELETE /v1/tags"],
        "writes": boxes.encharge.request_count("POST") + boxes.encharge.request_count("DELETE"),
    }


def check_state(boxes: Sandboxes) -> None:
    people = boxes.encharge.people.values()
    tagged = {p["email"].lower() for p in people if TAG in p["tags"]}
    assert tagged == expected_audience(boxes.dataset)
    assert sum("blog" in p["tags"] for p in people) == PEOPLE - AUDIENCE


def test_cold_steady_and_churn_at_5000_contacts(at_scale: Pipeline) -> None:
    boxes: Sandboxes = at_scale.boxes
    audience = len(expected_audience(boxes.dataset))
    qualifying = 300

    assert at_scale.run().success
    check_state(boxes)
    cold = counts(boxes)
    assert cold["cw_companies"] == math.ceil(qualifying / 1000) + 1  # and what changed while they were read
    # one query per contact type (childConditions documents one comparison), chunked by URL length
    sizes = stream_sizes(boxes.dataset.companies, boxes.dataset.contacts, SEED)
    bound = fewest_requests(boxes.connectwise.base_url, {}, sizes[1], sizes[2])
    assert len(sizes[1]) == 3 and len(sizes[2]) == qualifying
    assert bound <= cold["cw_contacts"] <= math.ceil(1.05 * bound) + 1, cold
    assert cold["people_pages"] == (PEOPLE - AUDIENCE) // 100 + 1
    assert cold["lookups"] == math.ceil(audience / 20)  # every address to create, looked up first
    assert cold["upserts"] == math.ceil(audience / 100)  # creates in batches, without tags
    assert cold["tag_calls"] == audience  # then one POST /tags per new person
    assert cold["writes"] == cold["upserts"] + cold["tag_calls"]

    boxes.encharge.clear_log()
    boxes.connectwise.clear_log()
    assert at_scale.run().success
    steady = counts(boxes)
    assert steady["writes"] == 0 and steady["lookups"] == 0
    assert steady["people_pages"] == (PEOPLE - AUDIENCE + audience) // 100 + 1
    check_state(boxes)

    # 1% churn: renamed, left and joined contacts.
    assert apply_churn(boxes.dataset, 21, seed=9) == {"renamed": 7, "left": 7, "joined": 7}
    boxes.connectwise.invalidate()
    boxes.encharge.clear_log()
    assert at_scale.run().success
    check_state(boxes)
    churn = counts(boxes)
    assert churn["lookups"] == 1  # the seven joiners' addresses
    assert churn["writes"] == 1 + 1 + 7 + 7  # an update batch, a create batch, seven new people tagged, seven untagged
    run = at_scale.store.last_run(at_scale.store.get_sync("managed-client-newsletter"))
    assert (run.contacts_created, run.contacts_updated, run.contacts_removed) == (7, 7, 7)
