"""The ConnectWise sandbox itself: conditions, paging, fields, auth and errors, over HTTP."""

from __future__ import annotations

import base64

import pytest
import requests

from marketing_pipeline.sandbox.cw_conditions import ConditionError, compare, matcher, parse
from marketing_pipeline.sandbox.launch import Sandboxes


def get(boxes: Sandboxes, path: str, auth: bool = True, **params: object) -> requests.Response:
    env = boxes.connectwise.env()
    headers = {}
    if auth:
        token = base64.b64encode(
            f"{env['CW_COMPANY_ID']}+{env['CW_PUBLIC_KEY']}:{env['CW_PRIVATE_KEY']}".encode()
        ).decode()
        headers = {"Authorization": f"Basic {token}", "clientId": env["CW_CLIENT_ID"]}
    return requests.get(env["CW_BASE_URL"] + path, params=params, headers=headers, timeout=10)


def test_auth_is_required(sandboxes: Sandboxes) -> None:
    response = get(sandboxes, "company/companies", auth=False)
    assert response.status_code == 401
    assert response.json()["code"] == "Unauthorized"


def test_default_page_size_and_link_headers(sandboxes: Sandboxes) -> None:
    first = get(sandboxes, "company/contacts")
    assert len(first.json()) == 25
    assert 'rel="next"' in first.headers["Link"] and "page=2>" in first.headers["Link"]
    last_page = -(-len(sandboxes.dataset.contacts) // 25)
    last = get(sandboxes, "company/contacts", page=last_page)
    assert 'rel="next"' not in last.headers["Link"] and 'rel="prev"' in last.headers["Link"]
    assert get(sandboxes, "company/contacts", page=last_page + 1).json() == []


def test_page_size_is_capped_at_1000(sandboxes: Sandboxes) -> None:
    assert len(get(sandboxes, "company/contacts", pageSize=5000).json()) == len(sandboxes.dataset.contacts)


def test_conditions_fields_order_and_count(sandboxes: Sandboxes) -> None:
    rows = get(
        sandboxes,
        "company/companies",
        conditions='status/id in (1,19) and name like "%Ltd%"',
        fields="id,name,status/id",
        orderBy="id desc",
        pageSize=1000,
    ).json()
    assert rows and all(set(r) <= {"id", "name", "status"} for r in rows)
    assert all(set(r["status"]) == {"id"} for r in rows)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)
    count = get(sandboxes, "company/companies/count", conditions='status/id in (1,19) and name like "%Ltd%"')
    assert count.json() == {"count": len(rows)}


def test_child_conditions_on_arrays(sandboxes: Sandboxes) -> None:
    rows = get(sandboxes, "company/companies", childConditions="types/id=35", pageSize=1000).json()
    assert rows and all(any(t["id"] == 35 for t in r["types"]) for r in rows)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"conditions": "invoiceDate > [2026-01-01T00:00:00Z]"}, "invoiceDate is not a recognized name."),
        ({"conditions": "types/id = 48"}, "types/id is not a recognized name."),
        ({"conditions": "name = "}, "Unexpected end"),
        ({"conditions": '(name = "x"'}, "Unexpected end of condition"),
        ({"conditions": "name ~ 1"}, "Unexpected character"),
        ({"childConditions": "status/id = 1"}, "status/id is not a recognized name."),
    ],
)
def test_bad_conditions_get_connectwise_errors(sandboxes: Sandboxes, params: dict, message: str) -> None:
    response = get(sandboxes, "company/companies", **params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "ApiFindCondition" and message in body["message"]


def test_unknown_endpoint(sandboxes: Sandboxes) -> None:
    assert get(sandboxes, "service/tickets").status_code == 404


@pytest.mark.parametrize(
    "text, record, expected",
    [
        ("a = 1 and b = 2 or c = 3", {"a": 0, "b": 2, "c": 3}, True),
        ("a = 1 and (b = 2 or c = 3)", {"a": 0, "b": 2, "c": 3}, False),
        ('NAME LIKE "fr*"', {"name": "Fred"}, True),
        ('name not like "fr%"', {"name": "Fred"}, False),
        ('name contains "RED"', {"name": "Fred"}, True),
        ('name not contains "x"', {"name": "Fred"}, True),
        ("id not in (1, 2)", {"id": 3}, True),
        ("id >= 3 AND id < 4", {"id": 3}, True),
        ("flag = True", {"flag": True}, True),
        ("value != null", {"value": None}, False),
        ("when > [2026-01-01T00:00:00Z]", {"when": None}, False),
        ('name = "say \\"hi\\""', {"name": 'say "hi"'}, True),
    ],
)
def test_condition_language(text: str, record: dict, expected: bool) -> None:
    keep = matcher(
        text, scalar_fields={"a", "b", "c", "name", "id", "flag", "value", "when"}, array_fields=set(), child=False
    )
    assert keep(record) is expected


def test_parser_errors() -> None:
    for text in ("", "a =", "a in 1", "a = 1 b = 2", "a = [not-a-date]"):
        with pytest.raises(ConditionError):
            parse(text)
    with pytest.raises(ConditionError):
        compare("x", "<", 1)


def modes(boxes: Sandboxes, **settings: object) -> requests.Response:
    return requests.post(boxes.connectwise.root_url + "/_sandbox/modes", json=settings, timeout=10)


def test_modes_switch_over_http(sandboxes: Sandboxes) -> None:
    response = modes(sandboxes, child_conditions="refuse", refuse_from_page=2, unrecognised=["deletedFlag"])
    assert response.status_code == 200 and response.json()["refuse_from_page"] == 2
    assert get(sandboxes, "company/companies", childConditions="types/id=48", pageSize=5).status_code == 200
    refused = get(sandboxes, "company/companies", childConditions="types/id=48", pageSize=5, page=2)
    assert refused.status_code == 400 and refused.json()["code"] == "ApiFindCondition"
    named = get(sandboxes, "company/companies", conditions="deletedFlag=false", pageSize=5, page=3)
    assert named.json()["message"] == "deletedFlag is not a recognized name."
    assert modes(sandboxes, child_conditions="sometimes").status_code == 400
    assert modes(sandboxes, no_such_mode=True).status_code == 400
    assert modes(sandboxes, unrecognised="deletedFlag").status_code == 400
    assert modes(sandboxes, reset=True).json()["child_conditions"] == "apply"
    assert requests.post(sandboxes.connectwise.root_url + "/_sandbox/nothing", json={}, timeout=10).status_code == 404


def test_child_conditions_ignored(sandboxes: Sandboxes) -> None:
    modes(sandboxes, child_conditions="ignore")
    rows = get(sandboxes, "company/companies", childConditions="types/id=35", pageSize=1000).json()
    assert len(rows) == len(sandboxes.dataset.companies)


def test_fields_without_arrays_and_blank_companies(sandboxes: Sandboxes) -> None:
    modes(sandboxes, fields_without_arrays=True, blank_company=True)
    rows = get(sandboxes, "company/contacts", fields="id,company,types,firstName", pageSize=3).json()
    assert [set(r) for r in rows] == [{"id", "firstName"}] * 3
    full = get(sandboxes, "company/contacts", pageSize=3).json()
    assert all("types" in r and "company" not in r for r in full)


def test_deleted_companies_are_kept_and_returned(sandboxes: Sandboxes) -> None:
    first = sandboxes.dataset.companies[0]["id"]
    modes(sandboxes, deleted_companies=[first])
    rows = get(sandboxes, "company/companies", conditions=f"id={first}").json()
    assert rows[0]["deletedFlag"] is True and rows[0]["dateDeleted"]
    assert get(sandboxes, "company/companies", conditions=f"id={first} and deletedFlag=false").json() == []


def test_a_proxy_429_is_html_without_retry_after(sandboxes: Sandboxes) -> None:
    modes(sandboxes, proxy_429=1)
    throttled = get(sandboxes, "company/companies")
    assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    assert throttled.headers["Content-Type"] == "text/html" and throttled.text.startswith("<html>")
    assert get(sandboxes, "company/companies").status_code == 200


def test_companyinfo_names_the_codebase_and_follows_a_move(sandboxes: Sandboxes) -> None:
    cw = sandboxes.connectwise
    info = requests.get(f"{cw.root_url}/login/companyinfo/SANDBOX", timeout=10)
    assert info.json()["Codebase"] == "v2025_1/"
    old = cw.env()["CW_BASE_URL"]
    modes(sandboxes, codebase="v2025_2")
    assert requests.get(f"{cw.root_url}/login/companyinfo/sandbox", timeout=10).json()["Codebase"] == "v2025_2/"
    assert get(sandboxes, "company/companies").status_code == 200  # env() follows the move
    assert requests.get(old + "company/companies", timeout=10).status_code == 404
    assert requests.get(f"{cw.root_url}/login/companyinfo/nobody", timeout=10).status_code == 404
    assert modes(sandboxes, codebase="../v1").status_code == 400


# --- a ConnectWise that changes while it is read; forward-only paging; null keys ---------------------------


def ids_of(response: requests.Response) -> list[int]:
    return [r["id"] for r in response.json()]


def test_page_numbers_skip_a_record_when_an_earlier_one_is_deactivated_and_paging_by_key_does_not(
    sandboxes: Sandboxes,
) -> None:
    """Why the client pages by key: the hazard of the issue, in the sandbox that reproduces it."""
    active = "inactiveFlag=false"
    everyone = ids_of(get(sandboxes, "company/contacts", conditions=active, orderBy="id asc", pageSize=1000))
    modes(sandboxes, deactivate_while_paging=[everyone[3]], change_after=1)
    first = ids_of(get(sandboxes, "company/contacts", conditions=active, orderBy="id asc", pageSize=10))
    by_number = ids_of(get(sandboxes, "company/contacts", conditions=active, orderBy="id asc", pageSize=10, page=2))
    assert first == everyone[:10] and by_number[0] == everyone[11]  # everyone[10] was skipped
    by_key = ids_of(
        get(sandboxes, "company/contacts", conditions=f"{active} and id > {first[-1]}", orderBy="id asc", pageSize=10)
    )
    assert by_key[0] == everyone[10]
    # the edit is stamped, so a read can ask what changed while it ran
    changed = ids_of(get(sandboxes, "company/contacts", conditions="lastUpdated >= [2026-11-01T00:00:00Z]"))
    assert changed == [everyone[3]]


def test_contacts_move_and_change_type_while_paged(sandboxes: Sandboxes) -> None:
    contact = sandboxes.dataset.contacts[0]
    other = sandboxes.dataset.companies[1]
    modes(sandboxes, move_while_paging=[[contact["id"], other["id"]]], retype_while_paging=[[contact["id"], [21]]])
    get(sandboxes, "company/contacts", pageSize=1)
    [moved] = get(sandboxes, "company/contacts", conditions=f"id={contact['id']}").json()
    assert moved["company"]["id"] == other["id"] and [t["id"] for t in moved["types"]] == [21]
    assert moved["_info"]["lastUpdated"] > "2026-11-01T00:00:00Z"
    assert modes(sandboxes, move_while_paging=[[1, "x"]]).status_code == 400


def test_forward_only_paging_as_the_developer_guide_describes_it(sandboxes: Sandboxes) -> None:
    env = sandboxes.connectwise.env()
    token = base64.b64encode(f"{env['CW_COMPANY_ID']}+{env['CW_PUBLIC_KEY']}:{env['CW_PRIVATE_KEY']}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "clientId": env["CW_CLIENT_ID"], "pagination-type": "forward-only"}
    url = env["CW_BASE_URL"] + "company/contacts"
    first = requests.get(url, params={"pageSize": 10}, headers=headers, timeout=10)
    assert ids_of(first) == sorted(ids_of(first)) and "pageId=" in first.headers["Link"]
    after = ids_of(first)[-1]
    second = requests.get(url, params={"pageSize": 10, "pageId": after}, headers=headers, timeout=10)
    assert min(ids_of(second)) > after
    refused = requests.get(url, params={"orderBy": "id desc"}, headers=headers, timeout=10)
    assert refused.status_code == 400  # orderBy is not allowed with forward-only paging
    modes(sandboxes, forward_only=False)  # a server without it: the header is ignored, pages are numbered
    ignored = requests.get(url, params={"pageSize": 10, "pageId": after}, headers=headers, timeout=10)
    assert ids_of(ignored) == ids_of(first) and "page=2" in ignored.headers["Link"]


def test_null_keys_are_left_out_when_asked(sandboxes: Sandboxes) -> None:
    modes(sandboxes, omit_nulls=True)
    rows = get(sandboxes, "company/contacts", pageSize=1000).json()
    assert rows and all(None not in r.values() for r in rows)
    assert any("communicationItems" not in r for r in rows)  # the contact with no communication items
