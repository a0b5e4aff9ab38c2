"""Building ConnectWise `conditions` text from typed values, so configuration can never inject query text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

Value = int | bool | str


def literal(value: Value) -> str:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    raise TypeError(f"cannot put a {type(value).__name__} into a ConnectWise condition")


def field_name(name: str) -> str:
    parts = name.split("/")
    if not all(part.isidentifier() for part in parts):
        raise ValueError(f"{name!r} is not a ConnectWise field name")
    return name


def equals(name: str, value: Value) -> str:
    return f"{field_name(name)}={literal(value)}"


def in_list(name: str, values: Iterable[int]) -> str:
    ids = sorted({int(v) for v in values})
    if not ids:
        raise ValueError("an `in` condition needs at least one value")
    return f"{field_name(name)} in ({','.join(str(i) for i in ids)})"


def all_of(clauses: Sequence[str]) -> str:
    return " and ".join(clauses)


def chunk_ids_for_url(
    ids: Sequence[int], *, fixed_length: int, max_length: int, max_ids: int | None = None
) -> list[list[int]]:
    """Split ids so that each request URL stays under `max_length` characters (and, if given, each chunk
    holds at most `max_ids` ids).

    `fixed_length` is the URL without the id list; each id costs its digits plus an encoded comma (3).
    """
    budget = max_length - fixed_length
    if budget < 20:
        raise ValueError("max URL length leaves no room for company ids")
    chunks: list[list[int]] = []
    current: list[int] = []
    used = 0
    for company_id in ids:
        cost = len(str(company_id)) + 3
        if current and (used + cost > budget or (max_ids is not None and len(current) >= max_ids)):
            chunks.append(current)
            current, used = [], 0
        current.append(company_id)
        used += cost
    if current:
        chunks.append(current)
    return chunks
