"""The sync's own vocabulary: a sync's ConnectWise filter and Encharge tag, how a run was started, and what
a run counts. Plain types with their validation rules; the store maps them to table columns."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from marketing_pipeline.errors import InvalidSyncConfigError
from marketing_pipeline.sync.tags import TAG_RULE, tag_problem

RunStatus = Literal["running", "completed", "failed"]
Trigger = Literal["manual", "schedule", "backfill"]
TRIGGERS: tuple[str, ...] = get_args(Trigger)


class CamelModel(BaseModel):
    """Field names are the original specification's: camelCase in JSON, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class FilterConfig(CamelModel):
    """The ConnectWise filter of one sync. Unknown keys are refused: a typo must not widen an audience."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid")

    company_types: list[StrictInt] = Field(min_length=1)
    company_exclude_types: list[StrictInt] = Field(default_factory=list)
    company_statuses: list[StrictInt] = Field(min_length=1)
    contact_types: list[StrictInt] = Field(min_length=1)
    contact_exclude_types: list[StrictInt] = Field(default_factory=list)


def describe_validation_error(exc: ValidationError, prefix: str) -> str:
    """One line: `prefix.field[0]: message` for the first problem, plus how many more there are."""
    errors = exc.errors()
    first = errors[0]
    location = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{location}: {first['msg']}{more}"


def parse_filter_config(raw: Any, *, sync_name: str) -> FilterConfig:
    try:
        return FilterConfig.model_validate(raw)
    except ValidationError as exc:
        raise InvalidSyncConfigError(f"sync {sync_name!r}: {describe_validation_error(exc, 'filterConfig')}") from None


def validate_tag_name(tag: Any, *, sync_name: str) -> str:
    """The tag as given, when Encharge can neither refuse nor rewrite it (`sync.tags`); else the rule."""
    problem = tag_problem(tag)
    if problem:
        raise InvalidSyncConfigError(f"sync {sync_name!r}: tagName {tag!r} {problem}; {TAG_RULE}")
    return tag


class SyncCounts(CamelModel):
    """A run's totals, as the MarketingSyncRun columns hold them."""

    contacts_total: int = 0
    contacts_created: int = 0
    contacts_updated: int = 0
    contacts_removed: int = 0
    contacts_skipped: int = 0
    contacts_failed: int = 0

    @field_validator("*")
    @classmethod
    def _non_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("counts cannot be negative")
        return value
