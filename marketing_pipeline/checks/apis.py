"""The checks of the two APIs (I/O): ConnectWise's site and codebase, keys and clientId, the API member's
security role, and the names behind each sync's ids; Encharge's key and account. Each makes a few small
requests, with one retry and a short timeout, and writes nothing anywhere."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, ValidationError

from marketing_pipeline import settings
from marketing_pipeline.checks.verdicts import Finding, SetupLists, Status, filter_ids_verdict, record_names, skipped
from marketing_pipeline.connectwise import codebase as cb
from marketing_pipeline.connectwise.client import ConnectWiseClient
from marketing_pipeline.connectwise.responses import ROLE, SERVICE, FieldCensus
from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.errors import ApiAuthError, ApiError, MarketingPipelineError
from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.records import Company, Contact
from marketing_pipeline.transport.http import HttpTransport, RetrySettings

# A check answers quickly: short timeouts, two attempts (a run uses MARKETING_HTTP_TIMEOUT_SECONDS and _MAX_ATTEMPTS).
TIMEOUT_SECONDS = 15.0
RETRY = RetrySettings(max_attempts=2, base_delay=0.5, max_delay=2.0)
SAMPLE = 50  # records per page of the security role's sample
API_HOSTS = (
    "your region's api- host: api-na, api-eu, api-au, api-aus or api-za.myconnectwise.net; "
    "api-staging.connectwisedev.com for staging"
)
CONNECTWISE_HOSTS = ("myconnectwise.net", "connectwisedev.com")
SETUP_LISTS = {
    "company_types": "company/companies/types",
    "company_statuses": "company/companies/statuses",
    "contact_types": "company/contacts/types",
}


@dataclass(frozen=True)
class SyncFilter:
    """A sync whose ids to look up: its key, its filter, and where it came from."""

    key: str
    filters: FilterConfig
    note: str = ""  # e.g. "as `init` will create it" when the store has no rows yet


def timed(check: Callable[[], Finding]) -> Finding:
    started = time.perf_counter()
    finding = check()
    return replace(finding, seconds=time.perf_counter() - started)


def unreachable(error: str) -> str | None:
    """Why a host could not be reached, in a word, from a transport error's text (None: it answered)."""
    text = error.lower()
    for marker, reason in (
        ("name or service not known", "no such host"),
        ("nodename nor servname", "no such host"),
        ("temporary failure in name resolution", "no such host"),
        ("nameresolution", "no such host"),
        ("connection refused", "connection refused"),
        ("certificate", "its TLS certificate was refused"),
        ("ssl", "TLS failed"),
        ("timed out", "timed out"),
        ("timeout", "timed out"),
        ("connectionerror", "no connection"),
    ):
        if marker in text:
            return reason
    return None


# --- ConnectWise ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    base_url: str  # the REST base to use: CW_BASE_URL, or the one companyinfo names
    company_id: str


def _site_finding() -> tuple[Finding, Site | None]:
    company = settings.value_or_default(settings.CW_COMPANY_ID)
    configured = settings.value(settings.CW_BASE_URL)
    try:
        if configured:
            base = settings.http_url(settings.CW_BASE_URL, configured)
            base = base if base.endswith("/") else base + "/"
            root = cb.root_of(base)
        else:
            root = cb.site_root(settings.value_or_default(settings.CW_SITE))
    except MarketingPipelineError as exc:
        return Finding("connectwise.site", Status.FIX, f"{exc}; {API_HOSTS}"), None
    transport = HttpTransport(service=SERVICE, base_url=root, headers={}, timeout=TIMEOUT_SECONDS, retry=RETRY)
    try:
        body = transport.json(transport.request("GET", f"{root}/login/companyinfo/{quote(company, safe='')}"))
        found = cb.codebase_named(body, root, company)
    except ApiError as exc:
        problem = _companyinfo_problem(exc, root, company, configured)
        if configured:  # the base was given: companyinfo only confirms it (an on-premises server may lack it)
            message = f"companyinfo did not confirm the codebase ({problem}); using CW_BASE_URL as configured"
            return Finding("connectwise.site", Status.WARN, message), Site(base, company)
        return Finding("connectwise.site", Status.FIX, problem), None
    finally:
        transport.close()
    host = urlsplit(root).hostname or ""
    api_host = not host.endswith(CONNECTWISE_HOSTS) or host.startswith("api-")
    if configured:
        named = cb.codebase_of(base)
        if named != found:
            return Finding(
                "connectwise.site",
                Status.WARN,
                f"CW_BASE_URL names codebase {named or '(none)'} but companyinfo now names {found}: unset CW_BASE_URL "
                "(CW_SITE finds the codebase, and follows ConnectWise's upgrades)",
                details={"codebase": found, "configured": named},
            ), Site(base, company)
        return Finding(
            "connectwise.site",
            Status.OK,
            f"company {company!r} on codebase {found} at {root} (CW_BASE_URL, as companyinfo names it)",
            details={"codebase": found},
        ), Site(base, company)
    site = Site(cb.base_url(root, found), company)
    if not api_host:
        return Finding(
            "connectwise.site",
            Status.WARN,
            f"company {company!r} on codebase {found} at {root}, but API calls belong on {API_HOSTS}",
            details={"codebase": found},
        ), site
    return Finding(
        "connectwise.site",
        Status.OK,
        f"company {company!r} on codebase {found} at {root} (from companyinfo)",
        details={"codebase": found},
    ), site


def _companyinfo_problem(exc: ApiError, root: str, company: str, configured: str | None) -> str:
    where = "CW_BASE_URL" if configured else f"CW_SITE, {API_HOSTS}"
    reason = unreachable(str(exc)) if exc.status is None else None
    if reason:
        return f"cannot reach {root} ({reason}): check {where}"
    if exc.status == 404:
        return (
            f"companyinfo at {root} knows no company {company!r} (HTTP 404): check CW_COMPANY_ID (the company "
            f"you log in to ConnectWise with) and {where}"
        )
    if exc.status is not None:
        return f"companyinfo at {root} answered HTTP {exc.status} for company {company!r}: check {where}"
    return str(exc)


def _client(site: Site) -> ConnectWiseClient:
    return ConnectWiseClient(
        base_url=site.base_url,
        company_id=site.company_id,
        public_key=settings.secret(settings.CW_PUBLIC_KEY, settings.value(settings.CW_PUBLIC_KEY)),
        private_key=settings.secret(settings.CW_PRIVATE_KEY, settings.value(settings.CW_PRIVATE_KEY)),
        client_id=settings.secret(settings.CW_CLIENT_ID, settings.value(settings.CW_CLIENT_ID)),
        timeout=TIMEOUT_SECONDS,
        retry=RETRY,
    )


def _missing_credentials() -> list[str]:
    problems = []
    for name, where in (
        (settings.CW_PUBLIC_KEY, "an API member's keys (ConnectWise: System > Members > API Members)"),
        (settings.CW_PRIVATE_KEY, "an API member's keys (ConnectWise: System > Members > API Members)"),
        (settings.CW_CLIENT_ID, "the integration's clientId (register it on the ConnectWise Developer Network)"),
    ):
        raw = settings.value(name)
        if raw is None:
            problems.append(f"{name} is not set: {where}")
            continue
        try:
            settings.secret(name, raw)
        except MarketingPipelineError as exc:
            problems.append(str(exc))
    return problems


def _keys_finding(site: Site) -> tuple[Finding, ConnectWiseClient | None]:
    problems = _missing_credentials()
    if problems:
        return Finding("connectwise.keys", Status.FIX, "; ".join(problems)), None
    client = _client(site)
    try:
        info = client.system_info()
    except ApiAuthError as exc:
        if exc.status == 403:  # authenticated; only the role refuses this endpoint
            return Finding("connectwise.keys", Status.OK, "keys and clientId accepted (GET /system/info: 403)"), client
        client.close()
        return Finding("connectwise.keys", Status.FIX, str(exc)), None
    except ApiError as exc:
        client.close()
        reason = unreachable(str(exc)) if exc.status is None else None
        message = f"cannot reach {site.base_url} ({reason})" if reason else str(exc)
        return Finding("connectwise.keys", Status.FIX, message), None
    version = info.get("version") or "unknown version"
    cloud = f", cloud {info.get('cloudRegion')}" if info.get("isCloud") and info.get("cloudRegion") else ""
    return Finding(
        "connectwise.keys",
        Status.OK,
        f"keys and clientId accepted for company {site.company_id!r} (ConnectWise {version}{cloud})",
        details={"version": info.get("version"), "cloudRegion": info.get("cloudRegion")},
    ), client


def _sample(client: ConnectWiseClient, path: str, model: type[BaseModel]) -> tuple[int, list[str]]:
    """(records read, deciding fields no record carries) for one page; a malformed record is an ApiError."""
    page = client.first_page(path, SAMPLE)
    for raw in page:
        try:
            model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            ident = raw.get("id") if isinstance(raw, dict) else None
            raise ApiError(
                f"{SERVICE}: GET /{path} returned a malformed record (id {ident!r}): "
                f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            ) from None
    census = FieldCensus(path, model.DECIDING_FIELDS)  # type: ignore[attr-defined]
    census.add(page)
    return len(page), census.missing_everywhere()


def _role_finding(client: ConnectWiseClient) -> Finding:
    read: dict[str, int] = {}
    hidden: list[str] = []
    for kind, path, model in (("companies", "company/companies", Company), ("contacts", "company/contacts", Contact)):
        try:
            count, missing = _sample(client, path, model)
        except ApiError as exc:
            return Finding("connectwise.role", Status.FIX, str(exc))
        read[kind] = count
        hidden += [f"`{name}` on {kind}" for name in missing]
    details = {"read": read, "hidden": hidden}
    if hidden:
        return Finding(
            "connectwise.role",
            Status.FIX,
            f"{ROLE} hides {', '.join(hidden)} (no record of the {read['companies']} companies and "
            f"{read['contacts']} contacts read carries it): let it see companies and contacts (Companies > Company "
            "Maintenance and Contacts, inquire level All); without it nobody can be placed in an audience",
            details=details,
        )
    if not read["companies"] or not read["contacts"]:
        empty = "companies" if not read["companies"] else "contacts"
        return Finding(
            "connectwise.role",
            Status.WARN,
            f"ConnectWise returned no {empty}: {ROLE} may hide them all, or the account has none",
            details=details,
        )
    fields = f"{', '.join(Company.DECIDING_FIELDS)}; {', '.join(Contact.DECIDING_FIELDS)}"
    return Finding(
        "connectwise.role",
        Status.OK,
        f"companies and contacts readable with every field the filter needs ({fields}: "
        f"{read['companies']} companies and {read['contacts']} contacts read)",
        details=details,
    )


def _setup_lists(client: ConnectWiseClient) -> SetupLists:
    raw = {name: client.setup_list(path) for name, path in SETUP_LISTS.items()}
    inactive = {r["id"] for r in raw["company_statuses"] if isinstance(r, dict) and r.get("inactiveFlag") is True}
    return SetupLists(
        company_types=record_names(raw["company_types"]),
        company_statuses=record_names(raw["company_statuses"]),
        contact_types=record_names(raw["contact_types"], label="description"),
        inactive_statuses=frozenset(i for i in inactive if isinstance(i, int)),
    )


def _ids_findings(client: ConnectWiseClient, syncs: Sequence[SyncFilter]) -> list[Finding]:
    started = time.perf_counter()
    try:
        lists = _setup_lists(client)
    except ApiError as exc:
        return [
            Finding(
                "connectwise.ids",
                Status.WARN,
                f"cannot read ConnectWise's setup lists, so the ids are unchecked (the sync itself does not need "
                f"them): {exc}",
                subject=sync.key,
                seconds=time.perf_counter() - started,
            )
            for sync in syncs
        ]
    lookups = time.perf_counter() - started
    findings = []
    for sync in syncs:
        finding = filter_ids_verdict(sync.key, sync.filters, lists)
        message = f"{finding.message} ({sync.note})" if sync.note and finding.status is Status.OK else finding.message
        findings.append(replace(finding, message=message, seconds=lookups / max(1, len(syncs))))
    return findings


def check_connectwise(syncs: Callable[[], Sequence[SyncFilter]]) -> list[Finding]:
    """Site, keys, role and ids, in that order: each needs the one before it."""
    started = time.perf_counter()
    site_finding, site = _site_finding()
    findings = [replace(site_finding, seconds=time.perf_counter() - started)]
    later = ("connectwise.keys", "connectwise.role", "connectwise.ids")
    if site is None:
        return [*findings, *(skipped(check, "needs the ConnectWise site") for check in later)]
    started = time.perf_counter()
    keys_finding, client = _keys_finding(site)
    findings.append(replace(keys_finding, seconds=time.perf_counter() - started))
    if client is None:
        return [*findings, *(skipped(check, "needs the ConnectWise keys") for check in later[1:])]
    with client:
        findings.append(timed(lambda: _role_finding(client)))
        findings += _ids_findings(client, syncs())
    return findings


# --- Encharge --------------------------------------------------------------------------------------------

ENDED = {"canceled", "cancelled", "trialexpired", "trial_expired", "expired"}


def _encharge_finding() -> Finding:
    raw = settings.value(settings.ENCHARGE_REST_API_KEY)
    if raw is None:
        return Finding(
            "encharge.account",
            Status.FIX,
            f"{settings.ENCHARGE_REST_API_KEY} is not set: take the API key from Encharge (Settings > API Keys)",
        )
    try:
        key = settings.secret(settings.ENCHARGE_REST_API_KEY, raw)
        base = settings.http_url(settings.ENCHARGE_BASE_URL, settings.value_or_default(settings.ENCHARGE_BASE_URL))
    except MarketingPipelineError as exc:
        return Finding("encharge.account", Status.FIX, str(exc))
    with EnchargeClient(base_url=base, api_key=key, timeout=TIMEOUT_SECONDS, retry=RETRY) as client:
        try:
            info: dict[str, Any] = client.account_info()
        except ApiAuthError as exc:
            hint = " (Settings > API Keys in Encharge)" if exc.status == 401 else ""
            return Finding("encharge.account", Status.FIX, f"{exc}{hint}")
        except ApiError as exc:
            reason = unreachable(str(exc)) if exc.status is None else None
            where = f"cannot reach {base} ({reason}): check {settings.ENCHARGE_BASE_URL}" if reason else str(exc)
            return Finding("encharge.account", Status.FIX, where)
    name = info.get("name") or info.get("site") or f"#{info.get('accountId')}"
    status = str(info.get("status") or "unknown status")
    count = info.get("peopleCount")
    people = f"{count:,} people" if isinstance(count, int) and count >= 0 else "no peopleCount"
    details = {"name": info.get("name"), "status": info.get("status"), "peopleCount": count}
    if status.lower().replace(" ", "") in ENDED:
        return Finding(
            "encharge.account",
            Status.FIX,
            f"account {name!r} is {status}: Encharge will refuse the sync's writes until it is active",
            details=details,
        )
    message = f"account {name!r} ({status}): {people}"
    if not isinstance(count, int):
        return Finding(
            "encharge.account",
            Status.WARN,
            f"{message}: without a count every run reads everyone twice to trust its read",
            details=details,
        )
    return Finding("encharge.account", Status.OK, message, details=details)


def check_encharge() -> list[Finding]:
    return [timed(_encharge_finding)]
