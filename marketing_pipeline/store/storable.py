"""Values every database we support can store, whatever a run met: PostgreSQL refuses NUL characters in
text and in json/jsonb, unpaired surrogates cannot be encoded at all, and jsonb has no NaN. Run records are
also kept free of secrets (read-only users see them), and an error message is one plain line. Times are
stored as Prisma stores them."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import Any

from marketing_pipeline.errors import one_line
from marketing_pipeline.transport.redact import scrub

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
MESSAGE_LIMIT = 2000
# No stored id, key or name holds these, and PostgreSQL refuses a NUL in a query: such a reference matches nothing.
NOT_A_NAME = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def utcnow() -> datetime:
    """Naive UTC with millisecond precision, as Prisma stores `DateTime` in `timestamp(3)`."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=(now.microsecond // 1000) * 1000)


def storable_text(text: str) -> str:
    return _UNSTORABLE.sub(REPLACEMENT, text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def storable_details(details: Any) -> Any:
    """JSON-ready run details that any database stores, with every secret hidden."""
    if details is None:
        return None
    cleaned = _clean(details)
    encoded = json.dumps(cleaned, ensure_ascii=False, default=str)
    scrubbed = scrub(encoded)
    if scrubbed == encoded:
        return json.loads(encoded)
    try:
        return json.loads(scrubbed)
    except ValueError:  # a secret's form spanned JSON syntax: hide it string by string instead
        return _scrub_strings(json.loads(encoded))


def _scrub_strings(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k): _scrub_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_strings(v) for v in value]
    return value


def storable_message(message: str | None) -> str | None:
    """An error message as a run record keeps it: one plain line, no class names, no secrets."""
    if message is None:
        return None
    return one_line(scrub(storable_text(message)), limit=MESSAGE_LIMIT) or "failed (no reason given)"
