"""Tag names: the one rule for which names a sync may use, and for when two spellings are the same tag.

Encharge's help ("Tags", help.encharge.io/article/96-tags) says it "supports letters, numbers, spaces,
dashes, and underscores in tags", and its API reads a comma as the separator between tags (`POST /tags`:
"use a comma-separated list"). It says nothing about letter case, length, or what happens to spaces at
either end. So a sync's tag must be one Encharge can neither refuse nor rewrite under any reading:
- only ASCII letters, digits, dashes, underscores and single spaces between words (the strict reading of
  "letters": a server that keeps only ASCII letters, or trims or collapses spaces, would rewrite others);
- 1 to `MAX_TAG_LENGTH` characters (no limit is documented: this one is ours).
Whether Encharge tells `News` from `news` is undocumented, so two spellings that differ only in case are
the same tag here everywhere (plan, store, brake, alerts): the sync treats whichever spelling a person
carries as its tag, and moves people to the sync's own spelling where Encharge keeps both (see
`sync.plan`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MAX_TAG_LENGTH = 100
TAG_RULE = (
    "an Encharge tag may hold only letters A-Z and a-z, digits 0-9, dashes (-), underscores (_) and single "
    f"spaces between words, 1 to {MAX_TAG_LENGTH} characters (no comma: Encharge reads it as a separator)"
)
_ALLOWED = re.compile(r"[A-Za-z0-9_-]+( [A-Za-z0-9_-]+)*")


def tag_problem(tag: Any) -> str | None:
    """Why Encharge could refuse or rewrite this tag name, or None when it is a valid tag."""
    if not isinstance(tag, str) or not tag:
        return "is empty"
    if "," in tag:
        return "contains a comma, which Encharge reads as a separator between tags"
    if tag != tag.strip():
        return "has a space at one end, which Encharge may trim"
    if len(tag) > MAX_TAG_LENGTH:
        return f"is {len(tag)} characters long (at most {MAX_TAG_LENGTH})"
    if "  " in tag:
        return "has two spaces in a row, which Encharge may collapse"
    if not _ALLOWED.fullmatch(tag):
        odd = sorted({c for c in tag if not (c.isascii() and (c.isalnum() or c in " -_"))})
        return "contains " + ", ".join(repr(c) for c in odd)
    return None


def tag_key(tag: Any) -> str:
    """What makes two spellings the same tag: trimmed, any case. ('' for anything that is not a name.)"""
    return tag.strip().lower() if isinstance(tag, str) else ""


def same_tag(a: Any, b: Any) -> bool:
    return bool(tag_key(a)) and tag_key(a) == tag_key(b)


def spellings_of(tag: str, carried: Iterable[str]) -> tuple[str, ...]:
    """The spellings of `tag` among a person's tags (sorted): empty when the person does not carry it."""
    key = tag_key(tag)
    return tuple(sorted({t for t in carried if isinstance(t, str) and t.strip().lower() == key})) if key else ()
