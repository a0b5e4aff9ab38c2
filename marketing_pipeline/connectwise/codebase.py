"""Where the ConnectWise REST API lives: `https://<site>/<codebase>apis/3.0/`.

The codebase (e.g. `v2025_1/`) changes when ConnectWise upgrades a cloud instance. The public, unauthenticated
`GET https://<site>/login/companyinfo/<companyId>` names it (Developer Guide, "Companyinfo"); its trailing
slash is kept. Sites are reached over https; plain http is accepted only for a loopback host (the sandbox).
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, urlsplit

from marketing_pipeline.errors import ApiError, SettingsError
from marketing_pipeline.transport.http import HttpTransport

API_PATH = "apis/3.0/"
CODEBASE = re.compile(r"^[A-Za-z0-9_.-]+/?$")
LOOPBACK_NAMES = {"localhost"}


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def site_root(site: str) -> str:
    """`https://host[:port]` for a site given as `host[:port]` or as a URL; http only for a loopback host."""
    text = site.strip().rstrip("/")
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if not parts.hostname or parts.path or parts.query or parts.fragment or parts.username:
        raise SettingsError(f"CW_SITE must be a host name such as api-eu.myconnectwise.net, not {site!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise SettingsError(f"CW_SITE must use https (plain http only reaches a loopback test server): {site!r}")
    if parts.scheme not in ("http", "https"):
        raise SettingsError(f"CW_SITE must be an https site, not {site!r}")
    return f"{parts.scheme}://{parts.netloc}"


def root_of(base_url: str) -> str:
    """The site of a configured base URL (`https://host/v2025_1/apis/3.0/` -> `https://host`)."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def codebase_of(base_url: str) -> str:
    """The codebase of a base URL, with its trailing slash (`v2025_1/`), or "" when it has none."""
    path = urlsplit(base_url).path.lstrip("/")
    head, _, _ = path.partition(API_PATH)
    return head


def base_url(root: str, codebase: str) -> str:
    return f"{root}/{codebase}{API_PATH}"


def discover_codebase(transport: HttpTransport, root: str, company_id: str) -> str:
    """The codebase `companyinfo` names for the company, with its trailing slash."""
    url = f"{root}/login/companyinfo/{quote(company_id, safe='')}"
    try:
        body = transport.json(transport.request("GET", url))
    except ApiError as exc:
        why = f"HTTP {exc.status}" if exc.status else str(exc)
        raise ApiError(
            f"ConnectWise: could not find the codebase of company {company_id!r} at {root} ({why}): check "
            "CW_SITE and CW_COMPANY_ID, or set CW_BASE_URL",
            status=exc.status,
        ) from None
    return codebase_named(body, root, company_id)


def codebase_named(body: object, root: str, company_id: str) -> str:
    """The codebase a companyinfo answer names, with its trailing slash; anything else is refused."""
    codebase = body.get("Codebase") if isinstance(body, dict) else None
    if not isinstance(codebase, str) or not CODEBASE.match(codebase.strip()) or ".." in codebase:
        raise ApiError(
            f"ConnectWise: {root}/login/companyinfo/{company_id} names no usable codebase ({codebase!r}): check "
            "CW_SITE and CW_COMPANY_ID, or set CW_BASE_URL"
        )
    codebase = codebase.strip()
    return codebase if codebase.endswith("/") else codebase + "/"
