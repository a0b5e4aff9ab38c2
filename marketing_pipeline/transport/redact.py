"""Keeping secrets out of every text we show, log or store. One module, used on every path: CLI output,
Python and Dagster logs, the event log, run records and the code server's warnings.

A secret takes many forms in a text: as given, with the whitespace an operator pasted around it, escaped by
`repr()` or JSON (a key with a newline, quoted in an exception), percent-encoded in a URL, split over lines.
Every form is hidden. Credentials in URLs (the password of `user:password@host`, and password-like query
parameters such as `?password=`) are hidden wherever a URL appears, whether or not we know the value.

Written by hand because no library does it: log scrubbers mask known patterns or fixed values; these are
the deployment's own secrets in every encoding they take, plus any URL's credentials.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from marketing_pipeline import settings

MASK = "***"
# Shorter values would hide innocent text (and are not credentials anyone should use).
MIN_SECRET_LENGTH = 4
# A piece of a secret split by a control character is hidden on its own only when it is this long.
MIN_PIECE_LENGTH = 8

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
_SENSITIVE_NAME = re.compile(r"pass|pwd|secret|token|api[-_]?key|credential|auth", re.IGNORECASE)
# `password=...` outside a URL (a libpq connection string, a log line).
_ASSIGNED_PASSWORD = re.compile(r"(?i)\b((?:ssl)?password|passwd|pwd)(\s*=\s*)(['\"]?)([^\s'\"&;,]+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def forms(secret: str) -> set[str]:
    """Every way `secret` may appear in a text."""
    found: set[str] = set()
    for value in {secret, secret.strip()}:
        found |= {value, repr(value)[1:-1], json.dumps(value)[1:-1], quote(value, safe=""), quote_plus(value)}
        found |= {piece for piece in _CONTROL.split(value) if len(piece) >= MIN_PIECE_LENGTH}
    return {form for form in found if len(form) >= MIN_SECRET_LENGTH}


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every form of every secret replaced by ***."""
    every = {form for secret in secrets if secret for form in forms(secret)}
    for form in sorted(every, key=len, reverse=True):  # longest first: a form may contain another
        text = text.replace(form, MASK)
    return text


def _split_authority(url: str) -> tuple[str, str, str]:
    """(scheme://, authority, the rest) of a URL, without parsing anything that could fail."""
    scheme, _, rest = url.partition("://")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return scheme + "://", rest[:end], rest[end:]


def redact_url(url: str) -> str:
    """The URL with the password of its user info and every password-like query parameter hidden; works on
    URLs that would not parse (a bad port, say)."""
    if "://" not in url:
        return url
    scheme, authority, rest = _split_authority(url)
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":" + MASK
        authority = f"{userinfo}@{host}"
    path, _, fragment = rest.partition("#")
    path, has_query, query = path.partition("?")
    if has_query:
        parameters = []
        for parameter in re.split(r"([&;])", query):
            name, equals, value = parameter.partition("=")
            sensitive = equals and value and _SENSITIVE_NAME.search(unquote_plus(name))
            parameters.append(f"{name}={MASK}" if sensitive else parameter)
        path = f"{path}?{''.join(parameters)}"
    return scheme + authority + path + (f"#{fragment}" if fragment else "")


def url_secrets(url: str | None) -> list[str]:
    """The credentials written in a URL (user-info password, password-like parameters), as written and decoded."""
    if not url or "://" not in url:
        return []
    _, authority, rest = _split_authority(url)
    found: list[str] = []
    if "@" in authority:
        userinfo = authority.rsplit("@", 1)[0]
        if ":" in userinfo:
            found.append(userinfo.split(":", 1)[1])
    query = rest.partition("#")[0].partition("?")[2]
    for parameter in re.split(r"[&;]", query):
        name, equals, value = parameter.partition("=")
        if equals and value and _SENSITIVE_NAME.search(unquote_plus(name)):
            found.append(value)
    return [form for value in found for form in {value, unquote(value), unquote_plus(value)} if form]


def redact_urls(text: str) -> str:
    """Every URL in a text with its credentials hidden, and any `password=...` outside a URL too."""
    text = _URL.sub(lambda match: redact_url(match.group(0)), text)
    return _ASSIGNED_PASSWORD.sub(lambda m: m.group(1) + m.group(2) + m.group(3) + MASK, text)


def known_secrets() -> list[str]:
    """Every secret this process is configured with: the API keys and IDs, their Basic-auth form, and the
    passwords in the database and webserver URLs."""
    env = settings.sensitive_environment()
    values = [value for name, value in env.items() if name not in settings.CREDENTIAL_URLS]
    for name in settings.CREDENTIAL_URLS:
        url = env.get(name) or ""
        # A password that also names the user, host or database (postgres:postgres@...) is hidden in URLs
        # only: hiding it everywhere would garble every message that names the database.
        values += [password for password in url_secrets(url) if password not in redact_url(url)]
    company = settings.value_or_default(settings.CW_COMPANY_ID)
    public, private = env.get(settings.CW_PUBLIC_KEY), env.get(settings.CW_PRIVATE_KEY)
    if public and private:
        for pair in {(public, private), (public.strip(), private.strip())}:
            values.append(base64.b64encode(f"{company}+{pair[0]}:{pair[1]}".encode()).decode())
    return values


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` safe to show, log or store: the configured secrets, `secrets`, and URL credentials hidden."""
    return redact_urls(redact(text, [*known_secrets(), *secrets]))


class RedactingFilter(logging.Filter):
    """Scrubs every record a logger or handler passes on (the message is formatted first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
