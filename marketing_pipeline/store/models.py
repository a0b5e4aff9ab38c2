"""Typed views of the two tables' rows, built from the sync core's domain types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from marketing_pipeline.errors import InvalidSyncConfigError
from marketing_pipeline.sync.domain import CamelModel, FilterConfig, RunStatus, SyncCounts


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


class SyncRun(CamelModel):
    """A run record: Prisma's row, and what we know of it (None for runs the NestJS app recorded itself)."""

    id: str
    sync_id: str
    status: RunStatus
    triggered_by: str  # the specification's word: manual or schedule
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
    trigger: str | None = None  # ours, finer: manual, schedule or backfill
    dagster_instance: str | None = None  # the Dagster instance it was launched from (its run storage's id)
    dagster_home: str | None = None  # that instance's DAGSTER_HOME

    @property
    def started_by(self) -> str:
        """How the run was started, in the finest words known."""
        return self.trigger or self.triggered_by

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
