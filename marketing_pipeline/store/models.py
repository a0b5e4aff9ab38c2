"""Typed views of the two tables. Field names are the seed's (camelCase in JSON, snake_case in Python)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from marketing_pipeline.errors import InvalidSyncConfigError

RunStatus = Literal["running", "completed", "failed"]
TriggeredBy = Literal["manual", "schedule", "backfill"]


class CamelModel(BaseModel):
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


def validate_tag_name(tag: str, *, sync_name: str) -> str:
    cleaned = tag.strip() if isinstance(tag, str) else ""
    if not cleaned:
        raise InvalidSyncConfigError(f"sync {sync_name!r}: tagName is empty")
    if "," in cleaned:
        raise InvalidSyncConfigError(
            f"sync {sync_name!r}: tagName {tag!r} contains a comma, which Encharge reads as a tag separator"
        )
    return cleaned


class Sync(CamelModel):
    """A sync automation. `filter_config` is None (and `problems` says why) when its row does not parse."""

    id: str
    key: str | None
    name: str
    description: str | None
    source_type: str
    dest_type: str
    filter_config: FilterConfig | None
    tag_name: str
    schedule: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime
    problems: list[str] = Field(default_factory=list)

    @property
    def label(self) -> str:
        return self.key or self.name

    def require_runnable(self) -> FilterConfig:
        """The filter, or a clear error when the row cannot drive a sync."""
        if self.problems or self.filter_config is None:
            raise InvalidSyncConfigError("; ".join(self.problems) or f"sync {self.name!r}: no filterConfig")
        return self.filter_config


class SyncCounts(CamelModel):
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


class SyncRun(CamelModel):
    id: str
    sync_id: str
    status: RunStatus
    triggered_by: str
    started_at: datetime
    completed_at: datetime | None
    contacts_total: int
    contacts_created: int
    contacts_updated: int
    contacts_removed: int
    contacts_skipped: int
    contacts_failed: int
    error_message: str | None
    details: Any | None
    dagster_run_id: str | None
    dry_run: bool | None

    @property
    def duration_seconds(self) -> float | None:
        if self.completed_at is None:
            return None
        return (self.completed_at - self.started_at).total_seconds()

    @property
    def counts(self) -> SyncCounts:
        return SyncCounts(
            contacts_total=self.contacts_total,
            contacts_created=self.contacts_created,
            contacts_updated=self.contacts_updated,
            contacts_removed=self.contacts_removed,
            contacts_skipped=self.contacts_skipped,
            contacts_failed=self.contacts_failed,
        )
