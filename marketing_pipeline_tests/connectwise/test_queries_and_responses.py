"""The pure parts of the ConnectWise client: narrowings and refusals, the codebase and site rules, what
makes a page trustworthy, and how errors read."""

from __future__ import annotations

import pytest
import requests

from marketing_pipeline.connectwise import codebase as cb
from marketing_pipeline.connectwise import queries as q
from marketing_pipeline.connectwise.responses import FieldCensus, describe_connectwise_error, has_company, lacking
from marketing_pipeline.errors import ApiAuthError, SettingsError
from marketing_pipeline.transport.http import HttpTransport, RetrySettings

STATUS = q.condition("status/id", "status/id in (1,19)")
DELETED = q.condition("deletedFlag", "deletedFlag=false")
TYPE = q.has_type(48)


def test_narrowings_join_into_their_parameter() -> None:
    params = q.params([STATUS, DELETED, TYPE], fields="id,name", orderBy="id asc", page=None)
    assert params == {
        "conditions": "status/id in (1,19) and deletedFlag=false",
        "childConditions": "types/id=48",
        "fields": "id,name",
        "orderBy": "id asc",
    }
    assert q.params([], fields=None) == {}


@pytest.mark.parametrize(
    "message, expected",
    [
        ("ConnectWise answered HTTP 400 on /company/companies: deletedFlag is not a recognized name.", DELETED),
        ("DELETEDFLAG is not a recognized name.", DELETED),
        ("types/id is not a recognized name.", TYPE),
        ("status/id is not a recognized name.", STATUS),
        ("childConditions are not supported", TYPE),  # names no field: the least trusted goes
        ("bad request", TYPE),
        ("parentCompany/status/id is not a recognized name.", TYPE),  # not ours: a suffix is no match
    ],
)
def test_a_refusal_names_its_narrowing_or_drops_the_least_trusted(message: str, expected: q.Narrowing) -> None:
    assert q.refused(message, [STATUS, DELETED, TYPE]) == expected


def test_nothing_left_to_drop() -> None:
    assert q.refused("bad request", []) is None


def test_describe_elides_id_lists() -> None:
    assert q.describe(q.condition("company/id", "company/id in (1,2,3)")) == "`company/id in (...)` (conditions)"
    assert q.describe(TYPE) == "`types/id=48` (childConditions)"


@pytest.mark.parametrize(
    "site, root",
    [
        ("api-eu.myconnectwise.net", "https://api-eu.myconnectwise.net"),
        (" https://api-na.myconnectwise.net/ ", "https://api-na.myconnectwise.net"),
        ("http://127.0.0.1:8701", "http://127.0.0.1:8701"),
        ("http://localhost:8701", "http://localhost:8701"),
        ("http://[::1]:8701", "http://[::1]:8701"),
    ],
)
def test_sites_are_https_except_a_loopback_test_server(site: str, root: str) -> None:
    assert cb.site_root(site) == root


@pytest.mark.parametrize(
    "site",
    [
        "http://api-eu.myconnectwise.net",  # plain http to a real site: never
        "http://10.0.0.5",
        "ftp://api-eu.myconnectwise.net",
        "https://api-eu.myconnectwise.net/v2025_1/apis/3.0/",  # a base URL is not a site
        "https://user@api-eu.myconnectwise.net",
        "",
    ],
)
def test_bad_sites_are_refused(site: str) -> None:
    with pytest.raises(SettingsError, match="CW_SITE"):
        cb.site_root(site)


def test_base_urls_keep_the_codebase_slash() -> None:
    assert cb.base_url("https://h", "v2025_1/") == "https://h/v2025_1/apis/3.0/"
    assert cb.codebase_of("https://h/v2025_1/apis/3.0/") == "v2025_1/"
    assert cb.root_of("http://127.0.0.1:9/v4_6_release/apis/3.0/") == "http://127.0.0.1:9"


def test_lacking_and_blank_company() -> None:
    assert lacking({"id": 1, "Types": None}, ["id", "types", "communicationItems"]) == ["communicationItems"]
    assert lacking("not a record", ["id"]) == ["id"]
    assert has_company({"company": {"id": 3}})
    assert not has_company({"company": {"id": None, "name": "x"}})
    assert not has_company({"company": None}) and not has_company({})


def test_a_field_no_record_carries_is_refused() -> None:
    census = FieldCensus("contacts", ["types", "company"])
    census.add([{"types": [], "company": None}, {"types": None}])
    assert census.missing_everywhere() == ["company"]
    with pytest.raises(ApiAuthError, match=r"2 contacts and none carries `company`"):
        census.check()
    census.add([{"company": {"id": 1}}])
    census.check()
    FieldCensus("contacts", ["types"]).check()  # nothing read, nothing to say


def _response(status: int, body: bytes, content_type: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = content_type
    response.url = "https://h/v2025_1/apis/3.0/company/contacts?page=2"
    return response


def test_errors_read_well_even_from_a_proxy() -> None:
    html = describe_connectwise_error(_response(429, b"<html><body>429 Too Many</body></html>", "text/html"))
    assert str(html).startswith("ConnectWise kept throttling requests (HTTP 429 on /company/contacts: an HTML page")
    assert "CW_CONCURRENCY" in str(html) and "<html" not in str(html)
    json_429 = describe_connectwise_error(_response(429, b'{"error":"ConnectWiseAPI","message":"Too many"}', "j"))
    assert "Too many" in str(json_429)
    bad_gateway = describe_connectwise_error(_response(502, b"<!DOCTYPE html><p>Bad gateway</p>", "text/html"))
    assert "HTTP 502 on /company/contacts: an HTML page" in str(bad_gateway)
    assert describe_connectwise_error(_response(500, b"", "text/plain")).status == 500


def test_throttled_waits_without_retry_after_always_grow() -> None:
    transport = HttpTransport(
        service="x", base_url="https://h/", headers={}, timeout=1, retry=RetrySettings(base_delay=1, max_delay=8)
    )
    for attempt in range(5):
        ceiling = min(8, 2**attempt)
        waits = [transport._backoff(attempt, throttled=True) for _ in range(200)]
        assert min(waits) >= ceiling / 2 and max(waits) <= ceiling
    assert min(transport._backoff(3) for _ in range(200)) < 2  # other retries keep full jitter
