"""The sync job end to end against a ConnectWise sandbox in each of its modes (the behaviours public
documentation does not settle): the Encharge audience is exactly right, or the run fails clearly with
zero writes to Encharge. Quick runs on the 86-contact dataset with pages of 10; then, marked slow, runs
on 4,000 contacts where every contact query is several pages of 1,000."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from marketing_pipeline.defs.resources import ConnectWiseResource
from marketing_pipeline.launch.partition_registry import register_sync_partitions
from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
from marketing_pipeline.sandbox.dataset import TAG, Dataset, expected_audience, first_email, generate
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import initialise_store
from marketing_pipeline_tests.support import adopt_first_sync
from marketing_pipeline_tests.support.convergence import assert_converged
from marketing_pipeline_tests.support.pipeline import Pipeline, asset_metadata, pipeline_resources, step_failure


def tagged(boxes: Sandboxes) -> set[str]:
    return {p["email"].lower() for p in boxes.encharge.people.values() if TAG in p["tags"]}


tagged_emails = tagged


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
    adopt_first_sync(sqlite_url)  # an existing install: the first sync owns its tag
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


# --- a ConnectWise that changes while it is read ---------------------------------------------------------


def types_of(contact: dict[str, Any]) -> set[int]:
    return {t["id"] for t in contact.get("types") or []}


def email_of(contact: dict[str, Any]) -> str:
    return (first_email(contact) or "").strip().lower()


def stream_of(data: Dataset, type_id: int) -> list[dict[str, Any]]:
    """The contacts one query per type reads for `type_id`, in the order it reads them (by id)."""
    at = {c["company"]["id"] for c in data.contacts if c["id"] in set(data.manifest.passing_contact_ids)}
    return sorted(
        (
            c
            for c in data.contacts
            if not c["inactiveFlag"] and (c["company"] or {}).get("id") in at and type_id in types_of(c)
        ),
        key=lambda c: c["id"],
    )


def removed_emails(boxes: Sandboxes) -> set[str]:
    """Whose tag the sync took (DELETE /tags goes by person id)."""
    bodies = [json.loads(body) for method, path, body in boxes.encharge.log if (method, path) == ("DELETE", "/v1/tags")]
    return {boxes.encharge.people[b["id"]]["email"].lower() for b in bodies}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "modes",
    [
        pytest.param({}, id="lastUpdated honoured"),
        pytest.param(
            {"unrecognised": ["lastUpdated"]}, id="lastUpdated refused: a second read", marks=pytest.mark.slow
        ),
        pytest.param(
            {"omit_nulls": True, "forward_only": False},
            id="null keys left out, no forward-only",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_contacts_that_change_while_connectwise_is_paged_never_cost_anyone_else_the_tag(
    pipeline: Pipeline, modes: dict[str, Any]
) -> None:
    """Pages of 10, read one request at a time: after the first page of the type-2 query, a contact on that
    page is deactivated (page numbers would then skip the 11th of the query, who carries the tag), one is
    moved to another company and one loses the type whose query comes last (so no query reads it). Only
    the deactivated contact loses the tag; the others keep it, and the audience is right."""
    boxes = pipeline.boxes
    data, m = boxes.dataset, boxes.dataset.manifest
    tagged = m.in_sync | m.updates
    page = 10
    second = stream_of(data, 2)
    follower = second[page]
    gone = next(c for c in second[:page] if email_of(c) in tagged)  # on the query's first page, with the tag
    follower["types"] = [t for t in follower["types"] if t["id"] == 2]  # read by the type-2 query alone
    assert email_of(follower) in tagged  # the one page numbers would skip, and who carries the tag
    moved = next(c for c in stream_of(data, 21)[page:] if email_of(c) in m.in_sync and types_of(c) == {21})
    retyped = next(c for c in reversed(stream_of(data, 21)) if email_of(c) in m.in_sync and types_of(c) == {21})
    assert moved["id"] != retyped["id"]
    elsewhere = next(c["id"] for c in data.companies if c["id"] != moved["company"]["id"] and c["id"] in {101, 102})
    first_stream = len(stream_of(data, 1))
    if modes.get("omit_nulls"):
        next(c for c in second if email_of(c) in m.in_sync)["lastName"] = None  # left out of the answer
    boxes.connectwise.set_modes(
        {
            **modes,
            "deactivate_while_paging": [gone["id"]],
            "move_while_paging": [[moved["id"], elsewhere]],
            "retype_while_paging": [[retyped["id"], [1]]],
            "change_after": first_stream // page + 1 + 1,  # the type-1 query's pages, then the type-2 query's first
        }
    )
    pipeline = pipeline.with_resource("connectwise", connectwise(boxes, page_size=page, max_concurrency=1))
    second_read = "unrecognised" in modes  # the fallback keeps what the first read saw: the deactivation waits a run

    result = pipeline.run()
    assert result.success, step_failure(result)
    leaving = {email_of(gone)}
    assert removed_emails(boxes) == m.tag_removals | (set() if second_read else leaving)
    contacts = asset_metadata(result, "cw_contacts")
    assert contacts["changed_during_read"] == (-1 if second_read else 3)
    assert bool(fallbacks(result)) == second_read  # null keys left out are no fallback
    if second_read:
        boxes.encharge.clear_log()
        assert pipeline.run().success
        assert removed_emails(boxes) == leaving
    assert tagged_emails(boxes) == m.audience - leaving
    run = pipeline.last_run()
    assert run is not None and run.details["reads"]["connectwise"]["contactsChangedDuringRead"] in (0, 3, None)

    boxes.encharge.clear_log()
    steady = pipeline.run()
    assert steady.success and pipeline.writes() == 0
