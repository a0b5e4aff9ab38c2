"""A faithful fake of ConnectWise PSA REST 3.0 `GET /company/companies` and `/company/contacts`, the setup
lists behind their ids (`/company/companies/types`, `/company/companies/statuses`, `/company/contacts/types`),
`GET /system/info`, and the public `GET /login/companyinfo/{companyId}`. Where the real API's behaviour is
unconfirmed, `modes` (see `cw_modes.py`) switch between the plausible behaviours.
"""

from __future__ import annotations

import base64
import bisect
import copy
import re
import threading
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from marketing_pipeline.sandbox.cw_conditions import (
    BoolOp,
    Comparison,
    ConditionError,
    fields_in,
    lookup,
    matcher,
    parse,
)
from marketing_pipeline.sandbox.cw_modes import DEFAULT_CODEBASE, ConnectWiseModes, ModeError
from marketing_pipeline.sandbox.dataset import reference_lists
from marketing_pipeline.sandbox.server import Request, Response, SandboxServer

CODEBASE = DEFAULT_CODEBASE
API_ROOT = f"/{CODEBASE}/apis/3.0/"
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
ENDPOINTS = {
    "company/companies": "companies",
    "company/contacts": "contacts",
    "company/companies/types": "company_types",
    "company/companies/statuses": "company_statuses",
    "company/contacts/types": "contact_types",
}
SYSTEM_INFO = {
    "version": "v2025.1.104512",
    "isCloud": True,
    "serverTimeZone": "GMT Standard Time",
    "cloudRegion": "EU",
    "licenseBits": [],
    "maxWorkFlowRecordsAllowed": 500,
}
# Condition fields kept elsewhere in a record: ConnectWise filters on `lastUpdated`, which it shows in `_info`.
ALIASES = {"lastupdated": "_info/lastUpdated"}
# A trailing `id > N` (what a read paged by key adds): split off, so a query's selection is computed once.
KEYSET = re.compile(r"^(?P<base>.*?)(?:\s+and\s+)?(?<![\w/])id\s*>\s*(?P<after>\d+)\s*$", re.IGNORECASE | re.DOTALL)
PROXY_429 = (
    b"<html><head><title>429 Too Many Requests</title></head><body><center><h1>429 Too Many Requests</h1>"
    b"</center><hr><center>cloudflare</center></body></html>"
)


def _paths(record: Any, prefix: str = "") -> tuple[set[str], set[str]]:
    """(scalar paths, array fields) of a record, lower-cased, for checking condition field names."""
    scalars: set[str] = set()
    arrays: set[str] = set()
    if not isinstance(record, dict):
        return scalars, arrays
    for key, value in record.items():
        if key == "_info":
            continue
        path = f"{prefix}{key}".lower()
        if isinstance(value, dict):
            scalars.add(path)
            sub_scalars, _ = _paths(value, path + "/")
            scalars |= sub_scalars
        elif isinstance(value, list):
            arrays.add(path)
        else:
            scalars.add(path)
    return scalars, arrays


def _error(status: int, code: str, message: str) -> Response:
    return Response(status, {"code": code, "message": message, "errors": None})


class ConnectWiseSandbox(SandboxServer):
    name = "connectwise-sandbox"

    def __init__(
        self,
        companies: list[dict[str, Any]],
        contacts: list[dict[str, Any]],
        *,
        company_id: str = "sandbox",
        public_key: str = "sandbox-public",
        private_key: str = "sandbox-private",
        client_id: str = "00000000-0000-4000-8000-000000000000",
        port: int = 0,
        host: str = "127.0.0.1",
        child_conditions: str = "apply",
        indexed: bool = False,
        lookups: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        """`lookups`: the setup lists (`company_types`, `company_statuses`, `contact_types`); by default the
        names behind the generated dataset's ids."""
        super().__init__(port=port, host=host)
        self.modes = ConnectWiseModes(child_conditions="refuse" if child_conditions == "reject" else child_conditions)
        self.modes.validate()
        self.companyinfo_calls: list[tuple[str, bool]] = []  # (company id asked for, whether it carried auth)
        # Benchmarks: cache each query's selection (all its pages reuse it) and index contacts by company,
        # as a database would. Call `invalidate()` after changing `data`.
        self.indexed = indexed
        self._selections: dict[tuple[str, ...], tuple[list[dict[str, Any]], list[int]]] = {}
        self._by_company: dict[Any, list[dict[str, Any]]] | None = None
        self._index_lock = threading.Lock()
        self._contact_pages = 0  # contact list requests answered, for the modes' changes while paging
        self.data = {"companies": companies, "contacts": contacts, **(lookups or reference_lists())}
        self.company_id = company_id
        self.public_key = public_key
        self.private_key = private_key
        self.client_id = client_id
        self._fields: dict[str, tuple[set[str], set[str]]] = {}
        for name, records in self.data.items():
            scalars: set[str] = set()
            arrays: set[str] = set()
            for record in records[:200]:
                s, a = _paths(record)
                scalars |= s
                arrays |= a
            # Array fields declared by the schema even if the sample has them null.
            arrays |= {"types"} | ({"communicationitems"} if name == "contacts" else set())
            scalars -= arrays
            self._fields[name] = (scalars, arrays)

    @property
    def api_root(self) -> str:
        return f"/{self.modes.codebase}/apis/3.0/"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}{self.api_root}"

    @property
    def child_conditions(self) -> str:
        return self.modes.child_conditions

    def set_modes(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Switch modes (over HTTP: `POST /_sandbox/modes`). `deleted_companies` marks companies deleted."""
        settings = dict(settings)
        deleted = settings.pop("deleted_companies", None)
        if settings.pop("reset", False):
            self.modes = ConnectWiseModes()
        self.modes.configure(settings)
        if {"deactivate_while_paging", "move_while_paging", "retype_while_paging", "change_after"} & set(settings):
            with self._index_lock:
                self._contact_pages = 0  # `change_after` counts from now
        if deleted is not None:
            self.delete_companies(deleted)
        self.invalidate()
        return self.modes.as_json()

    def control(self, request: Request) -> Response | None:
        if request.path != "/_sandbox/modes":
            return None
        if request.method != "POST":
            return Response(200, self.modes.as_json())
        try:
            return Response(200, self.set_modes(request.json() or {}))
        except (ModeError, TypeError, ValueError) as exc:
            return _error(400, "InvalidObject", str(exc))

    def delete_companies(self, ids: Any) -> None:
        """Mark companies deleted, as ConnectWise keeps them (`deletedFlag: true`) and still returns them."""
        wanted = {int(i) for i in ids}
        for company in self.data["companies"]:
            if company.get("id") in wanted:
                company.update(deletedFlag=True, dateDeleted="2026-09-30T12:00:00Z", deletedBy="admin")
        self.invalidate()

    def move_codebase(self, codebase: str) -> None:
        """A ConnectWise upgrade: the API moves to a new codebase, the old one answers 404."""
        self.set_modes({"codebase": codebase})

    def env(self) -> dict[str, str]:
        return {
            "CW_BASE_URL": self.base_url,
            "CW_COMPANY_ID": self.company_id,
            "CW_PUBLIC_KEY": self.public_key,
            "CW_PRIVATE_KEY": self.private_key,
            "CW_CLIENT_ID": self.client_id,
        }

    def fault_body(self, status: int) -> Any:
        if status == 429:
            return {
                "error": "ConnectWiseAPI",
                "message": "Too many requests. Please try again in 30 seconds.",
            }
        return {
            "code": "ServerError",
            "message": f"An error occurred (injected HTTP {status})",
            "errors": None,
        }

    def _authorised(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{self.company_id}+{self.public_key}:{self.private_key}".encode()).decode()
        if header != f"Basic {expected}":
            return _error(401, "Unauthorized", "UserNotAuthenticated")
        if request.headers.get("clientId") != self.client_id:
            return _error(401, "Unauthorized", "A valid clientId header is required")
        return None

    def _companyinfo(self, request: Request) -> Response:
        asked = request.path.removeprefix("/login/companyinfo/").strip("/")
        self.companyinfo_calls.append((asked, "Authorization" in request.headers))
        if asked.lower() != self.company_id.lower():
            return _error(404, "NotFound", f"No company {asked}")
        codebase = self.modes.codebase
        return Response(
            200,
            {
                "CompanyName": "Sandbox",
                "Codebase": f"{codebase}/",
                "VersionCode": codebase.replace("_", "."),
                "CompanyID": self.company_id,
                "IsCloud": "True",
            },
        )

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/login/companyinfo/"):
            return self._companyinfo(request)
        with self._index_lock:
            throttled = self.modes.proxy_429 > 0
            if throttled:
                self.modes.proxy_429 -= 1
        if throttled:
            return Response(429, raw=PROXY_429, content_type="text/html")
        root = self.api_root
        if not request.path.startswith(root):
            return _error(404, "NotFound", f"No endpoint at {request.path}")
        denied = self._authorised(request)
        if denied:
            return denied
        if request.method != "GET":
            return _error(405, "MethodNotAllowed", "Only GET is supported by the sandbox")
        route = request.path[len(root) :].strip("/")
        if route == "system/info":
            return Response(200, SYSTEM_INFO)
        counting = route.endswith("/count")
        endpoint = ENDPOINTS.get(route.removesuffix("/count"))
        if endpoint is None:
            return _error(404, "NotFound", f"No endpoint at {request.path}")
        params = {k.lower(): v for k, v in request.query.items()}
        forward = self.modes.forward_only and request.headers.get("pagination-type", "").lower() == "forward-only"
        try:
            page = 1 if counting else int(params.get("page", 1))
            after = int(params["pageid"]) if forward and params.get("pageid") else None
        except ValueError:
            return _error(400, "InvalidObject", "page, pageSize and pageId must be integers")
        if forward and params.get("orderby"):
            return _error(400, "InvalidObject", "orderBy is not allowed with forward-only pagination")
        try:
            self._refuse(request.query, page if page > 1 or not self._continues(params) else 2)
            records = self._select(endpoint, request.query, after)
        except ConditionError as exc:
            return _error(400, "ApiFindCondition", str(exc))
        if counting:
            return Response(200, {"count": len(records)})
        response = self._page(request, records, endpoint, forward)
        if endpoint == "contacts":
            self._contact_answered()
        return response

    @staticmethod
    def _continues(params: dict[str, str]) -> bool:
        """A request past a read's first page: paged by key (`id > N`) or forward-only (`pageId`)."""
        return bool(params.get("pageid")) or bool(KEYSET.match(params.get("conditions", "").strip()))

    def _contact_answered(self) -> None:
        """After the `change_after`-th contacts request, the changes the modes ask for happen (an edit
        stamps `_info.lastUpdated`, as ConnectWise does)."""
        with self._index_lock:
            self._contact_pages += 1
            if self._contact_pages != self.modes.change_after or not self.modes.changes_pending():
                return
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            contacts = {c["id"]: c for c in self.data["contacts"]}
            companies = {c["id"]: c for c in self.data["companies"]}
            edits: list[tuple[int, dict[str, Any]]] = [
                (i, {"inactiveFlag": True}) for i in self.modes.deactivate_while_paging
            ]
            for contact_id, company_id in self.modes.move_while_paging:
                company = companies[company_id]
                ref = {"id": company["id"], "identifier": company["identifier"], "name": company["name"]}
                edits.append((contact_id, {"company": ref}))
            for contact_id, type_ids in self.modes.retype_while_paging:
                types = [{"id": t, "name": f"Type {t}", "_info": {}} for t in type_ids]
                edits.append((contact_id, {"types": types}))
            for contact_id, change in edits:
                contact = contacts[contact_id]
                contact.update(change)
                contact.setdefault("_info", {})["lastUpdated"] = now
            self.modes.deactivate_while_paging, self.modes.move_while_paging, self.modes.retype_while_paging = (
                [],
                [],
                [],
            )
            self._selections.clear()
            self._by_company = None

    def _refuse(self, query: dict[str, str], page: int) -> None:
        """The modes' refusals: childConditions, and conditions naming an unrecognised field."""
        if not self.modes.refuses(page):
            return
        params = {k.lower(): v for k, v in query.items()}
        child = params.get("childconditions", "").strip()
        if child and self.modes.child_conditions == "refuse":
            raise ConditionError("childConditions are not supported on this endpoint")
        refused = {f.lower() for f in self.modes.unrecognised}
        for name in ("conditions", "childconditions"):
            text = params.get(name, "").strip()
            if text and refused:
                named = next((f for f in fields_in(parse(text)) if f.lower() in refused), None)
                if named is not None:
                    raise ConditionError(f"{named} is not a recognized name.")

    def invalidate(self) -> None:
        self._selections.clear()
        self._by_company = None

    def _candidates(self, endpoint: str, conditions: str) -> list[dict[str, Any]]:
        """With `indexed`, narrow contacts to the companies named by a top-level `company/id in (...)`."""
        records = self.data[endpoint]
        if not self.indexed or endpoint != "contacts" or not conditions:
            return records
        tree = parse(conditions)
        parts = tree.parts if isinstance(tree, BoolOp) and tree.op == "and" else (tree,)
        ids = next(
            (p.value for p in parts if isinstance(p, Comparison) and p.field.lower() == "company/id" and p.op == "in"),
            None,
        )
        if ids is None:
            return records
        with self._index_lock:  # concurrent requests must never see a half-built index
            if self._by_company is None:
                index: dict[Any, list[dict[str, Any]]] = {}
                for record in records:
                    index.setdefault((record.get("company") or {}).get("id"), []).append(record)
                self._by_company = index
            by_company = self._by_company
        found = [r for company_id in ids for r in by_company.get(company_id, [])]
        return sorted(found, key=lambda r: r["id"])

    def _select(self, endpoint: str, query: dict[str, str], after: int | None = None) -> list[dict[str, Any]]:
        """The records a query selects, in its order; past `after` (forward-only's `pageId`, or a trailing
        `id > N` in `conditions`, both "id above N") when given."""
        params = {k.lower(): v for k, v in query.items()}
        conditions = params.get("conditions", "").strip()
        keyset = KEYSET.match(conditions)
        if keyset:
            conditions = keyset.group("base").strip()
            after = max(after or 0, int(keyset.group("after")))
            params["conditions"] = conditions
        if after is not None and params.get("orderby", "").strip().lower() not in ("", "id asc", "id"):
            records = self._filter(endpoint, {**params, "conditions": _and(conditions, f"id > {after}")})
            return records
        if after is not None:
            params["orderby"] = "id asc"  # forward-only is always by id; so is a keyset read
        key = (endpoint, *(params.get(k, "") for k in ("conditions", "childconditions", "orderby")))
        if self.indexed and key in self._selections:
            records, ids = self._selections[key]
        else:
            records = self._filter(endpoint, params)
            ids = [r["id"] for r in records] if after is not None or self.indexed else []
            if self.indexed:
                self._selections[key] = (records, ids)
        if after is None:
            return records
        ids = ids or [r["id"] for r in records]
        return records[bisect.bisect_right(ids, after) :]

    def _filter(self, endpoint: str, params: dict[str, str]) -> list[dict[str, Any]]:
        scalars, arrays = self._fields[endpoint]
        records = self._candidates(endpoint, params.get("conditions", "").strip())
        if params.get("conditions", "").strip():
            keep = matcher(
                params["conditions"], scalar_fields=scalars, array_fields=arrays, child=False, aliases=ALIASES
            )
            records = [r for r in records if keep(r)]
        if params.get("childconditions", "").strip() and self.modes.child_conditions == "apply":
            keep = matcher(params["childconditions"], scalar_fields=scalars, array_fields=arrays, child=True)
            records = [r for r in records if keep(r)]
        order = params.get("orderby", "").strip()
        if order:
            name, _, direction = order.partition(" ")
            if name.lower() not in scalars:
                raise ConditionError(f"{name} is not a recognized name.")
            records = sorted(
                records,
                key=lambda r: (lookup(r, name) is None, lookup(r, name) or 0),
                reverse=direction.strip().lower() == "desc",
            )
        return records

    def _page(self, request: Request, records: list[dict[str, Any]], endpoint: str, forward: bool) -> Response:
        params = {k.lower(): v for k, v in request.query.items()}
        try:
            page = 1 if forward else int(params.get("page", 1))
            size = int(params.get("pagesize", DEFAULT_PAGE_SIZE))
        except ValueError:
            return _error(400, "InvalidObject", "page and pageSize must be integers")
        if page < 1 or size < 1:
            return _error(400, "InvalidObject", "page and pageSize must be positive")
        size = min(size, MAX_PAGE_SIZE)
        start = (page - 1) * size
        chunk = records[start : start + size]
        fields = [f.strip() for f in params.get("fields", "").split(",") if f.strip()]
        body = [self._project(r, fields, arrays=not self.modes.fields_without_arrays) for r in chunk]
        if endpoint == "contacts" and self.modes.blank_company:
            body = [{k: v for k, v in r.items() if k != "company"} for r in body]
        hidden = {name.lower() for name in self.modes.hidden_fields.get(endpoint, [])}
        if hidden:
            body = [{k: v for k, v in r.items() if k.lower() not in hidden} for r in body]
        if self.modes.omit_nulls:
            body = [_without_nulls(r) for r in body]
        if forward:
            more = len(records) > size
            link = f'<{self._forward_url(request, chunk[-1]["id"])}>; rel="next"' if more and chunk else ""
            return Response(200, body, headers={"Link": link} if link else {})
        last = max(1, -(-len(records) // size))
        return Response(200, body, headers={"Link": self._links(request, page, last)} if last > 1 else {})

    def _forward_url(self, request: Request, last_id: int) -> str:
        base = {k: v for k, v in request.query.items() if k.lower() not in ("page", "pageid")}
        return f"{self.root_url}{request.path}?{urlencode({**base, 'pageId': last_id})}"

    def _links(self, request: Request, page: int, last: int) -> str:
        base = {k: v for k, v in request.query.items() if k.lower() != "page"}

        def url(n: int) -> str:
            return f"<{self.root_url}{request.path}?{urlencode({**base, 'page': n})}>"

        links = []
        if page < last:
            links.append(f'{url(page + 1)}; rel="next"')
        if page > 1:
            links.append(f'{url(page - 1)}; rel="prev"')
        links.append(f'{url(1)}; rel="first"')
        links.append(f'{url(last)}; rel="last"')
        return ", ".join(links)

    @staticmethod
    def _project(record: dict[str, Any], fields: list[str], arrays: bool = True) -> dict[str, Any]:
        if not fields:
            return copy.deepcopy(record)
        out: dict[str, Any] = {}
        for path in fields:
            parts = path.split("/")
            source: Any = record
            target = out
            for i, part in enumerate(parts):
                key = next((k for k in source if k.lower() == part.lower()), None) if isinstance(source, dict) else None
                if key is None:
                    break
                if i == len(parts) - 1:
                    if arrays or not isinstance(source[key], list):
                        target[key] = source[key]
                else:
                    target = target.setdefault(key, {})
                    source = source[key]
        return out


def _and(conditions: str, clause: str) -> str:
    return f"{conditions} and {clause}" if conditions else clause


def _without_nulls(value: Any) -> Any:
    """A record as a serializer that leaves out null values writes it."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
