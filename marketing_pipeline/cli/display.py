"""How syncs and runs read on a terminal: the specification's cards and run-history table, and `--json`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import click

from marketing_pipeline import settings
from marketing_pipeline.store.models import Sync, SyncRun
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.sync.clock import readable
from marketing_pipeline.sync.outcome import summary_line
from marketing_pipeline.sync.schedule import next_tick
from marketing_pipeline.transport.redact import scrub


def echo(text: str = "", *, err: bool = False) -> None:
    """What the CLI prints goes through here: secrets and URL credentials are hidden, whatever the text."""
    click.echo(scrub(text), err=err)


def emit_json(data: Any) -> None:
    echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def when(value: datetime | None) -> str:
    """Every time on a card or table in one zone, the schedules' own (run records keep naive UTC)."""
    return readable(value, settings.schedule_timezone())


def duration(run: SyncRun) -> str:
    seconds = run.duration_seconds
    if seconds is None:
        return "-"
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns two spaces apart, each header underlined by exactly its column's width. By hand:
    rich's and tabulate's nearest formats pad headers or separators differently, which would change output."""
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def describe_run(run: SyncRun) -> str:
    """The card's "last run" text, e.g. "85 synced, 1 new, 0 removed" or "Failed: ..."."""
    if run.status == "failed":
        return f"Failed: {run.error_message or 'unknown error'}"
    if run.status == "running":
        return "Running"
    text = summary_line(run.counts)
    if run.dry_run:
        details = run.details if isinstance(run.details, dict) else {}
        return str(details.get("summary") or f"Dry run ({text})")
    return text


def next_run(sync: Sync) -> datetime | None:
    """The next tick, or None; a row no schedule can be built from shows "-" rather than fail the listing."""
    if not sync.enabled or not sync.schedule or sync.problems:
        return None
    try:
        return next_tick(sync.schedule, settings.schedule_timezone(), datetime.now(timezone.utc))
    except (ValueError, OverflowError):  # croniter's errors are ValueErrors
        return None


def status_badge(sync: Sync) -> str:
    return "Active" if sync.enabled else "Paused"


def sync_json(store: SyncStore, sync: Sync) -> dict[str, Any]:
    last = store.last_run(sync)
    upcoming = next_run(sync)
    return {
        **sync.to_json_dict(),
        "status": status_badge(sync),
        "lastRun": last.to_json_dict() | {"result": describe_run(last)} if last else None,
        "nextRunAt": upcoming.isoformat() if upcoming else None,
        "timezone": settings.schedule_timezone(),
    }


def tag_ownership(store: SyncStore, sync: Sync) -> dict[str, Any]:
    """Whether the sync may take its tag from carriers it did not tag (issue 22), for `syncs show`."""
    adoption = store.tag_adoption(sync)
    owned = adoption.owns(sync.tag_name)
    return {
        "adoptExistingTag": adoption.adopt_existing,
        "ownsTag": owned,
        "adoptedAt": adoption.adopted_at.isoformat() if owned and adoption.adopted_at else None,
        "adoptedHow": adoption.adopted_how if owned and adoption.adopted_tag else None,
    }


def ownership_line(store: SyncStore, sync: Sync) -> str:
    owned = tag_ownership(store, sync)
    if owned["adoptExistingTag"]:
        return "  Tag: adopts the tag's existing carriers (--adopt-existing-tag): whoever leaves the audience loses it"
    if owned["ownsTag"]:
        return f"  Tag: owned since {when(store.tag_adoption(sync).adopted_at)} ({owned['adoptedHow']})"
    return (
        "  Tag: not yet owned: a run that would untag people this sync never tagged waits for approval "
        "(--approve HASH) or --adopt-existing-tag"
    )


def card(store: SyncStore, sync: Sync) -> str:
    last = store.last_run(sync)
    upcoming = next_run(sync)
    lines = [f"{sync.name}  [{status_badge(sync)}]", f"  key: {sync.key}   id: {sync.id}   tag: {sync.tag_name}"]
    if sync.description:
        lines.append(f"  {sync.description}")
    lines.append(f"  Schedule: {sync.schedule or 'none'} ({settings.schedule_timezone()})")
    lines.append(f"  Last run: {when(last.started_at) + ' - ' + describe_run(last) if last else 'never'}")
    lines.append(f"  Next run: {when(upcoming)}")
    for problem in sync.problems:
        lines.append(f"  ! {problem}")
    return "\n".join(lines)


RUN_HEADERS = ("Date", "Trigger", "Duration", "Created", "Updated", "Removed", "Skipped", "Failed", "Status", "Run id")


def runs_table(runs: Sequence[SyncRun]) -> str:
    rows = [
        (
            when(r.started_at),
            r.started_by + (" (dry run)" if r.dry_run else ""),
            duration(r),
            r.contacts_created,
            r.contacts_updated,
            r.contacts_removed,
            r.contacts_skipped,
            r.contacts_failed,
            r.status,
            r.id,
        )
        for r in runs
    ]
    return table(RUN_HEADERS, rows) if rows else "no runs yet"


def run_details_table(run: SyncRun) -> str:
    """The per-contact rows of a run record, or an empty string when it has none."""
    details = run.details if isinstance(run.details, dict) else {}
    contacts = details.get("contacts") or []
    lines = []
    if contacts:
        rows = [
            (
                c.get("action"),
                c.get("status"),
                c.get("email") or c.get("contactId"),
                c.get("error") or c.get("changes") or c.get("reason"),
            )
            for c in contacts
        ]
        lines.append("\n" + table(("Action", "Status", "Email / contact", "Detail"), rows))
    if details.get("truncated"):
        lines.append(f"... and {details['truncated']} more (only the first rows are kept)")
    return "\n".join(lines)
