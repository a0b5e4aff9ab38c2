"""Email addresses as the seed defines them: the first "Email" communication item, trimmed, matched
case-insensitively, and rejected with a reason when it is not a plausible address."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from marketing_pipeline.sync.records import CommunicationItem

EMAIL_TYPE = "email"
MAX_EMAIL_LENGTH = 254
MAX_LOCAL_LENGTH = 64
_LOCAL = re.compile(r"^[^\s@\"(),:;<>\[\]\\]+$")
_LABEL = re.compile(r"^(?!-)[^\s@\"(),:;<>\[\]\\.!#$%&'*+/=?^`{|}~_]+(?<!-)$")
# Control (NUL included), format (zero-width), surrogate, private-use and unassigned characters: no address
# has them, Encharge would store them as given, and PostgreSQL refuses NUL outright.
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn"}


def first_email(items: Iterable[CommunicationItem]) -> str | None:
    """The value of the first communication item whose type name is "Email" (any case), as given."""
    for item in items:
        if item.type is not None and (item.type.name or "").strip().lower() == EMAIL_TYPE:
            return item.value
    return None


def email_problem(address: str) -> str | None:
    """Why a trimmed address is not a plausible email, or None when it is."""
    if not address:
        return "email is empty"
    if any(unicodedata.category(c) in _INVISIBLE for c in address):
        return "email contains a control or invisible character"
    if len(address) > MAX_EMAIL_LENGTH:
        return f"email is longer than {MAX_EMAIL_LENGTH} characters"
    if address.count("@") != 1:
        return "email must contain exactly one @"
    local, domain = address.split("@")
    if not local:
        return "email has nothing before the @"
    if len(local) > MAX_LOCAL_LENGTH:
        return f"the part before the @ is longer than {MAX_LOCAL_LENGTH} characters"
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        return "the part before the @ contains characters an address cannot have"
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        return "the domain needs a dot and no empty parts"
    if not all(_LABEL.match(label) for label in labels):
        return "the domain contains characters a domain cannot have"
    if len(labels[-1]) < 2 or labels[-1].isdigit():
        return "the domain's last part is not a top-level domain"
    return None


def normalise_email(raw: str | None) -> tuple[str | None, str | None]:
    """(the trimmed address, None) when usable, else (None, the reason)."""
    if raw is None:
        return None, "no email address"
    address = raw.strip()
    if not address:
        return None, "no email address"
    problem = email_problem(address)
    if problem:
        return None, f"invalid email {address[:80]!r}: {problem}"
    return address, None


def email_key(address: str) -> str:
    """The matching key: addresses are compared case-insensitively."""
    return address.strip().lower()
