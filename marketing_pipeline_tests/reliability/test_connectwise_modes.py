"""The sync job end to end against a ConnectWise sandbox in each of its modes (the behaviours public
documentation does not settle): the Encharge audience is exactly right, or the run fails clearly with
zero writes to Encharge. Quick runs on the 86-contact dataset with pages of 10; then, marked slow, runs
on 4,000 contacts where every contact query is several pages of 1,000."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from marketing_pipeline.defs.resources import ConnectWiseResource
from marketing_pipeline.launch.partitions import register_sync_partitions
from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
from marketing_pipeline.sandbox.dataset import TAG, Dataset, expected_audience, generate
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline_tests.support.convergence import assert_converged
from marketing_pipeline_tests.support.pipeline import Pipeline, asset_metadata, pipeline_resources, step_failure


def tagged(boxes: Sandboxes) -> set[str]:
    return {p["email"].lower() for p in boxes.encharge.people.values() if TAG in p["tags"]}


def fallbacks(result: dg.ExecuteInProcessResult) -> str:
    return "".join(
        str(asset_metadata(result, a).get("connectwise_fallbacks", "")) for a in ("cw_companies", "cw_contacts")
    )


def connectwise(boxes: Sandboxes, **overrides: Any) -> ConnectWiseResource:
    env = boxes.connectwise.env()
    settings: dict[str, Any] = {
        "base_url": env["CW_BASE_URL"],
        "company_id": env["CW_COMPANY_ID"],
        "public_key": env["CW_PUBLIC_KEY"],
        "private_key": env["CW_PRIVATE_KEY"],
        "client_id": env["CW_CLIENT_ID"],
        "max_attempts": 3,
        "timeout_seconds": 2,
    }
    return ConnectWiseResource(**{**settings, **overrides})


def assert_failed_without_writes(pipeline: Pipeline, result: dg.ExecuteInProcessResult, says: str) -> None:
    assert not result.success
    assert says in step_failure(result)
    assert pipeline.writes() == 0
    run = pipeline.last_run()
    assert run is not None and run.status == "failed"
    assert says in (run.error_message or "") and "\n" not in (run.error_message or "")


# --- quick: the 86-contact dataset, pages of 10 -------------------------------------------------------


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "modes",
    [
        pytest.param({"child_conditions": "refuse", "refuse_from_page": 2}, id="childConditions refused from page 2"),
        pytest.param({"child_conditions": "ignore"}, id="childConditions ignored", marks=pytest.mark.slow),
        pytest.param(
            {"fields_without_arrays": True, "unrecognised": ["inactiveFlag"], "refuse_from_page": 2},
            id="fields left out, inactiveFlag refused",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_a_stricter_server_gives_the_same_audience(pipeline: Pipeline, modes: dict[str, Any]) -> None:
    boxes = pipeline.boxes
    before = boxes.encharge.snapshot()
    boxes.connectwise.set_modes(modes)
    result = pipeline.with_resource("connectwise", connectwise(boxes, page_size=10)).run()
    assert result.success
    assert_converged(boxes, before)
    assert fallbacks(result)  # what the server did not honour is in the assets' metadata


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_contacts_without_their_company_fail_with_zero_writes(pipeline: Pipeline) -> None:
    pipeline.boxes.connectwise.set_modes({"blank_company": True})
    result = pipeline.run()
    assert_failed_without_writes(pipeline, result, "security role")


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_the_codebase_comes_from_companyinfo_when_no_base_url_is_set(pipeline: Pipeline) -> None:
    boxes = pipeline.boxes
    before = boxes.encharge.snapshot()
    resource = connectwise(boxes, base_url="", site=boxes.connectwise.root_url)
    result = pipeline.with_resource("connectwise", resource).run()
    assert result.success
    assert_converged(boxes, before)
    assert boxes.connectwise.companyinfo_calls == [("sandbox", False)] * 2  # once per ConnectWise step


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_a_site_over_plain_http_is_refused_before_any_request(pipeline: Pipeline) -> None:
    resource = connectwise(pipeline.boxes, base_url="", site="http://api-eu.myconnectwise.net")
    result = pipeline.with_resource("connectwise", resource).run()
    assert_failed_without_writes(pipeline, result, "CW_SITE must use https")
    assert pipeline.boxes.connectwise.request_count() == 0


# --- slow: 4,000 contacts, several pages of 1,000 per query -------------------------------------------


@pytest.fixture(scope="module")
def large() -> Dataset:
    # 2,000 in the audience at 60 companies; type 2 alone is 1,200 contacts (two pages), and without
    # childConditions the contacts read is about 3,500 contacts (four pages).
    return generate(2000, companies=60, other_contacts=2000, encharge="empty")


@pytest.fixture
def at_scale(large: Dataset, sqlite_url: str, instance: dg.DagsterInstance) -> Iterator[Pipeline]:
    data = copy.deepcopy(large)
    initialise_store(sqlite_url)
    store = SyncStore(sqlite_url)
    register_sync_partitions(instance, store)
    with ConnectWiseSandbox(data.companies, data.contacts) as cw, EnchargeSandbox([]) as en:
        boxes = Sandboxes(dataset=data, connectwise=cw, encharge=en)
        yield Pipeline(store=store, boxes=boxes, instance=instance, resources=pipeline_resources(boxes, sqlite_url))


def some_qualifying_companies(data: Dataset, n: int) -> list[int]:
    passing = set(data.manifest.passing_contact_ids)
    return sorted({c["company"]["id"] for c in data.contacts if c["id"] in passing})[:n]


SCALE_MODES: dict[str, dict[str, Any]] = {
    "childConditions applied": {},
    "childConditions ignored": {"child_conditions": "ignore"},
    "childConditions refused": {"child_conditions": "refuse"},
    "childConditions refused from page 2": {"child_conditions": "refuse", "refuse_from_page": 2},
    "fields without arrays": {"fields_without_arrays": True},
    "inactiveFlag refused from page 2": {"unrecognised": ["inactiveFlag"], "refuse_from_page": 2},
    "company/id refused from page 2": {"unrecognised": ["company/id"], "refuse_from_page": 2},
    "deleted companies": {"deleted": 3},
    "deleted companies, deletedFlag refused": {"deleted": 3, "unrecognised": ["deletedFlag"]},
    "HTML 429 from a proxy": {"proxy_429": 2},
    "codebase moved": {"codebase": "v2025_2"},
}


@pytest.mark.slow
@pytest.mark.parametrize("modes", list(SCALE_MODES.values()), ids=list(SCALE_MODES))
def test_each_mode_at_scale_gives_exactly_the_audience(at_scale: Pipeline, modes: dict[str, Any]) -> None:
    boxes = at_scale.boxes
    data = boxes.dataset
    modes = dict(modes)
    deleted = some_qualifying_companies(data, modes.pop("deleted", 0))
    pipeline = at_scale.with_resource("connectwise", connectwise(boxes))  # base URL fixed before any move
    boxes.connectwise.set_modes({**modes, "deleted_companies": deleted})
    expected = expected_audience(data)
    assert len(expected) > 1000

    result = pipeline.run()

    assert result.success
    assert tagged(boxes) == expected
    assert len(boxes.encharge.people) == len(expected)  # nobody duplicated, nobody else created
    said = {"child_conditions", "unrecognised", "fields_without_arrays", "codebase"} & set(modes)
    assert bool(fallbacks(result)) == bool(said)  # what the server did not honour is in the metadata
    if modes.get("child_conditions") != "ignore":  # ignored: at most one wasted page per type
        contacts = boxes.connectwise.request_count("GET", "company/contacts")
        assert contacts <= 12, contacts


@pytest.mark.slow
def test_blank_companies_at_scale_fail_with_zero_writes(at_scale: Pipeline) -> None:
    at_scale.boxes.connectwise.set_modes({"blank_company": True, "fields_without_arrays": True})
    assert_failed_without_writes(at_scale, at_scale.run(), "security role")


@pytest.mark.slow
def test_a_proxy_that_keeps_throttling_fails_clearly_with_zero_writes(at_scale: Pipeline) -> None:
    pipeline = at_scale.with_resource("connectwise", connectwise(at_scale.boxes, max_attempts=2))
    at_scale.boxes.connectwise.set_modes({"proxy_429": 1000})
    result = pipeline.run()
    assert_failed_without_writes(pipeline, result, "HTTP 429")
    assert "HTML page" in step_failure(result) and "proxy" in step_failure(result)
