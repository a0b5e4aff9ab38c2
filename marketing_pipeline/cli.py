"""`marketing-pipeline`: everything the Dagster UI cannot do, for people (tables) and scripts (`--json`).

The seed's REST endpoints map here: GET /syncs -> `syncs list`, GET /syncs/:id -> `syncs show`,
PATCH /syncs/:id -> `syncs update`, POST /syncs/:id/trigger -> `syncs trigger`,
GET /syncs/:id/runs -> `runs list`, GET /syncs/:id/runs/:runId -> `runs show`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click

from marketing_pipeline import settings
from marketing_pipeline.errors import InvalidSyncConfigError, MarketingPipelineError
from marketing_pipeline.store.cron import next_tick, validate_cron
from marketing_pipeline.store.models import Sync, SyncRun
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.sync.outcome import describe_run

DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}


def _store() -> SyncStore:
    return SyncStore(settings.database_url())


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _duration(run: SyncRun) -> str:
    seconds = run.duration_seconds
    if seconds is None:
        return "-"
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _next_run(sync: Sync) -> datetime | None:
    if not sync.enabled or not sync.schedule or sync.problems:
        return None
    return next_tick(sync.schedule, settings.schedule_timezone(), datetime.now(timezone.utc))


def _sync_json(store: SyncStore, sync: Sync) -> dict[str, Any]:
    last = store.last_run(sync)
    next_run = _next_run(sync)
    return {
        **sync.to_json_dict(),
        "status": "Active" if sync.enabled else "Paused",
        "lastRun": last.to_json_dict() | {"result": describe_run(last)} if last else None,
        "nextRunAt": next_run.isoformat() if next_run else None,
        "timezone": settings.schedule_timezone(),
    }


def _card(store: SyncStore, sync: Sync) -> str:
    last = store.last_run(sync)
    next_run = _next_run(sync)
    badge = "Active" if sync.enabled else "Paused"
    lines = [f"{sync.name}  [{badge}]", f"  key: {sync.key}   id: {sync.id}   tag: {sync.tag_name}"]
    if sync.description:
        lines.append(f"  {sync.description}")
    lines.append(f"  Schedule: {sync.schedule or 'none'} ({settings.schedule_timezone()})")
    lines.append(f"  Last run: {_when(last.started_at) + ' - ' + describe_run(last) if last else 'never'}")
    lines.append(f"  Next run: {next_run.strftime('%Y-%m-%d %H:%M %Z') if next_run else '-'}")
    for problem in sync.problems:
        lines.append(f"  ! {problem}")
    return "\n".join(lines)


def _runs_table(runs: Sequence[SyncRun]) -> str:
    rows = [
        (
            _when(r.started_at),
            r.triggered_by + (" (dry run)" if r.dry_run else ""),
            _duration(r),
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
    headers = (
        "Date",
        "Trigger",
        "Duration",
        "Created",
        "Updated",
        "Removed",
        "Skipped",
        "Failed",
        "Status",
        "Run id",
    )
    return _table(headers, rows) if rows else "no runs yet"


DEBUG_ENV = "MARKETING_PIPELINE_DEBUG"


class CliGroup(click.Group):
    """Errors end the command with one line on stderr and exit code 1; a traceback only on request."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MarketingPipelineError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            click.echo(
                f"error: unexpected {type(exc).__name__}: {first} (set {DEBUG_ENV}=1 for the traceback)", err=True
            )
            sys.exit(1)


@click.group(cls=CliGroup)
@click.version_option(package_name="marketing-pipeline")
def main() -> None:
    """Keep an Encharge audience in step with ConnectWise PSA, with Dagster."""


@main.command()
def init() -> None:
    """Create or upgrade the tables and add the first sync (safe to run again)."""
    from marketing_pipeline.store.seed import initialise_store
    from marketing_pipeline.trigger import ensure_dagster_home

    result = initialise_store(settings.database_url())
    home = ensure_dagster_home()
    registered = _register_partitions()
    from marketing_pipeline.store.database import safe_url

    click.echo(f"store: {safe_url(settings.database_url())} (migrated)")
    click.echo(f"Dagster home: {home}")
    click.echo("first sync: " + ("created" if result.created_first_sync else "already there"))
    if result.keys_assigned:
        click.echo(f"keys given to syncs without one: {', '.join(result.keys_assigned)}")
    if registered:
        click.echo(f"Dagster partitions added: {', '.join(registered)}")
    click.echo(f"{len(result.syncs)} sync(s)")


def _register_partitions() -> list[str]:
    import dagster as dg

    from marketing_pipeline.defs.partitions import register_sync_partitions

    with dg.DagsterInstance.get() as instance:
        return register_sync_partitions(instance, _store())


@main.group()
def syncs() -> None:
    """List, show, change and trigger sync automations."""


@syncs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the seed's field names).")
def syncs_list(as_json: bool) -> None:
    """Every sync with its status, last run and next scheduled run."""
    store = _store()
    items = store.list_syncs()
    if as_json:
        _emit_json([_sync_json(store, s) for s in items])
        return
    if not items:
        click.echo("no syncs: run `marketing-pipeline init`")
    click.echo("\n\n".join(_card(store, s) for s in items))


@syncs.command("show")
@click.argument("sync_ref", metavar="SYNC")
@click.option("--json", "as_json", is_flag=True)
def syncs_show(sync_ref: str, as_json: bool) -> None:
    """One sync (by id, key or name) and its last 10 runs."""
    store = _store()
    sync = store.get_sync(sync_ref)
    runs = store.list_runs(sync, limit=10)
    if as_json:
        _emit_json({**_sync_json(store, sync), "runs": [r.to_json_dict() for r in runs]})
        return
    click.echo(_card(store, sync))
    click.echo("\nLast runs:\n" + _runs_table(runs))


def _friendly_cron(daily: bool, weekly: str | None, monthly: int | None, at: str | None) -> str | None:
    chosen = sum([daily, weekly is not None, monthly is not None])
    if chosen == 0:
        if at:
            raise InvalidSyncConfigError("--at goes with --daily, --weekly or --monthly")
        return None
    if chosen > 1:
        raise InvalidSyncConfigError("choose one of --daily, --weekly and --monthly")
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", at or "06:00")
    if not match:
        raise InvalidSyncConfigError(f"--at {at!r} is not a time like 06:00")
    hour, minute = int(match.group(1)), int(match.group(2))
    if daily:
        return f"{minute} {hour} * * *"
    if weekly is not None:
        day = DAYS.get(weekly.strip().lower()[:3])
        if day is None:
            raise InvalidSyncConfigError(f"--weekly {weekly!r} is not a day (mon, tue, ... sun)")
        return f"{minute} {hour} * * {day}"
    assert monthly is not None
    if not 1 <= monthly <= 28:
        raise InvalidSyncConfigError("--monthly takes a day from 1 to 28 (every month has it)")
    return f"{minute} {hour} {monthly} * *"


@syncs.command("update")
@click.argument("sync_ref", metavar="SYNC")
@click.option("--schedule", help="A five-field cron expression, e.g. '0 6 * * 1'.")
@click.option("--enable/--disable", "enabled", default=None, help="Resume or pause the sync.")
@click.option("--daily", is_flag=True, help="Every day (with --at).")
@click.option("--weekly", metavar="DAY", help="Every week on DAY (mon..sun), with --at.")
@click.option("--monthly", type=int, metavar="DAY", help="Every month on DAY (1-28), with --at.")
@click.option("--at", "at", metavar="HH:MM", help="Time of day for --daily/--weekly/--monthly (default 06:00).")
@click.option(
    "--dagster-url",
    envvar="DAGSTER_WEBSERVER_URL",
    metavar="URL",
    help="A running webserver (e.g. http://127.0.0.1:3000) to reload and update at once.",
)
@click.option("--json", "as_json", is_flag=True)
def syncs_update(
    sync_ref: str,
    schedule: str | None,
    enabled: bool | None,
    daily: bool,
    weekly: str | None,
    monthly: int | None,
    at: str | None,
    dagster_url: str | None,
    as_json: bool,
) -> None:
    """Change a sync's schedule and/or pause or resume it (validated before anything is written)."""
    friendly = _friendly_cron(daily, weekly, monthly, at)
    if friendly and schedule:
        raise InvalidSyncConfigError("give either --schedule or --daily/--weekly/--monthly, not both")
    cron = friendly or schedule
    if cron is None and enabled is None:
        raise InvalidSyncConfigError(
            "nothing to change: give --schedule, --daily/--weekly/--monthly, --enable or --disable"
        )
    if cron is not None:
        validate_cron(cron)
    store = _store()
    sync = store.update_sync(sync_ref, schedule=cron, enabled=enabled)
    dagster_note = (
        "Dagster re-reads the row at every tick, so pausing takes effect now. A new cron takes effect when the "
        "code location reloads (Deployment > Reload in the UI, or give --dagster-url)."
    )
    if dagster_url and sync.key:
        from marketing_pipeline.defs.schedules import schedule_name
        from marketing_pipeline.webserver import DagsterWebserver

        try:
            state = DagsterWebserver(dagster_url).apply_sync_change(schedule_name(sync.key))
        except MarketingPipelineError as exc:
            click.echo(f"warning: saved, but Dagster was not updated: {exc}", err=True)
        else:
            dagster_note = (
                f"Dagster: code location reloaded; schedule {state.name} is {state.status} at '{state.cron}'"
                if state.status
                else f"Dagster: code location reloaded; {sync.name} has no schedule"
            )
    if as_json:
        _emit_json(_sync_json(store, sync))
        return
    click.echo(_card(store, sync))
    click.echo("\n" + dagster_note)


@syncs.command("trigger")
@click.argument("sync_ref", metavar="SYNC")
@click.option("--dry-run", is_flag=True, help="Compute and show the plan; write nothing to Encharge.")
@click.option("--force", is_flag=True, help="Apply even if the safety brake would stop it.")
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON.")
def syncs_trigger(sync_ref: str, dry_run: bool, force: bool, as_json: bool) -> None:
    """Run a sync now through Dagster (it shows in the UI's run history) and wait for it."""
    from marketing_pipeline.trigger import trigger_sync

    result = trigger_sync(_store(), sync_ref, dry_run=dry_run, force=force)
    if as_json:
        _emit_json(
            {
                "dagsterRunId": result.dagster_run_id,
                "success": result.success,
                "run": result.run.to_json_dict() if result.run else None,
                "error": result.error,
            }
        )
    elif result.run is not None:
        click.echo(f"{describe_run(result.run)}  (run {result.run.id}, Dagster run {result.dagster_run_id})")
    else:
        click.echo(f"Failed: {result.error} (Dagster run {result.dagster_run_id})")
    if not result.success or result.run is None or result.run.status != "completed":
        sys.exit(1)


@main.group()
def runs() -> None:
    """Run history."""


@runs.command("list")
@click.argument("sync_ref", metavar="SYNC")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True)
def runs_list(sync_ref: str, limit: int, offset: int, as_json: bool) -> None:
    """A sync's runs, newest first."""
    store = _store()
    sync = store.get_sync(sync_ref)
    items = store.list_runs(sync, limit=limit, offset=offset)
    if as_json:
        _emit_json(
            {
                "total": store.count_runs(sync),
                "limit": limit,
                "offset": offset,
                "runs": [r.to_json_dict() for r in items],
            }
        )
        return
    click.echo(_runs_table(items))


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True)
def runs_show(run_id: str, as_json: bool) -> None:
    """One run (by its id or its Dagster run id) with its per-contact details."""
    run = _store().get_run(run_id)
    if as_json:
        _emit_json(run.to_json_dict())
        return
    click.echo(_runs_table([run]))
    click.echo(f"\nResult: {describe_run(run)}")
    details = run.details if isinstance(run.details, dict) else {}
    contacts = details.get("contacts") or []
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
        click.echo("\n" + _table(("Action", "Status", "Email / contact", "Detail"), rows))
    if details.get("truncated"):
        click.echo(f"... and {details['truncated']} more (only the first rows are kept)")


def _env_lines(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}='{v}'" for k, v in env.items())


@main.command()
@click.option("--size", default=86, show_default=True, help="Contacts that pass the seed's filter.")
@click.option("--cw-port", default=8701, show_default=True)
@click.option("--encharge-port", default=8702, show_default=True)
@click.option(
    "--state-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the Encharge sandbox keeps its people (default: $DAGSTER_HOME/sandbox/encharge.json).",
)
@click.option("--print-env", is_flag=True, help="Only print the environment variables, then exit.")
def sandbox(size: int, cw_port: int, encharge_port: int, state_file: Path | None, print_env: bool) -> None:
    """Serve both sandbox APIs on loopback until interrupted, and print how to point the pipeline at them."""
    from marketing_pipeline.sandbox.launch import running_sandboxes, sandbox_env

    if print_env:
        click.echo(_env_lines(sandbox_env(cw_port, encharge_port)))
        return
    state = state_file or settings.dagster_home().resolve() / "sandbox" / "encharge.json"
    with running_sandboxes(size=size, cw_port=cw_port, encharge_port=encharge_port, state_file=state) as boxes:
        click.echo(f"ConnectWise sandbox: {boxes.connectwise.base_url}")
        click.echo(f"Encharge sandbox:    {boxes.encharge.base_url}  (state: {state})")
        click.echo("\nPoint the pipeline at them (e.g. in another terminal, before `dagster dev`):\n")
        click.echo(_env_lines(boxes.env()))
        click.echo("\nCtrl-C stops the sandboxes.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("stopped")


@main.command()
@click.option("--size", default=86, show_default=True, help="Contacts that pass the seed's filter.")
def demo(size: int) -> None:
    """The newcomer's one command: sandboxes, init, a sync through Dagster, and what it did."""
    from marketing_pipeline.sandbox.launch import running_sandboxes
    from marketing_pipeline.store.seed import FIRST_SYNC, initialise_store
    from marketing_pipeline.trigger import ensure_dagster_home, trigger_sync

    # The demo never touches a configured instance or database: it keeps to ./.dagster_home.
    os.environ["DAGSTER_HOME"] = str(Path.cwd() / settings.DEFAULT_DAGSTER_HOME)
    home = ensure_dagster_home()
    os.environ[settings.MARKETING_DATABASE_URL] = f"sqlite:///{home / 'marketing.db'}"
    state = home / "sandbox" / "encharge.json"
    state.unlink(missing_ok=True)  # each demo starts from the same overlapping audience
    with running_sandboxes(size=size, state_file=state) as boxes:
        os.environ.update(boxes.env())
        initialise_store(settings.database_url())
        store = _store()
        manifest = boxes.dataset.manifest
        key = str(FIRST_SYNC["key"])
        click.echo(f"Dagster home: {home}")
        click.echo(f"Sandboxes: ConnectWise {boxes.connectwise.base_url}, Encharge {boxes.encharge.base_url}")
        click.echo(
            f"ConnectWise: {len(boxes.dataset.companies)} companies, {len(boxes.dataset.contacts)} contacts"
            f" ({len(manifest.passing_contact_ids)} pass the filter); Encharge: "
            f"{len(boxes.dataset.people)} people\n"
        )
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("dry run", lambda: trigger_sync(store, key, dry_run=True)),
            ("first sync", lambda: trigger_sync(store, key)),
            ("second sync (nothing changed)", lambda: trigger_sync(store, key)),
        ]
        for label, step in steps:
            boxes.encharge.clear_log()
            started = time.perf_counter()
            result = step()
            writes = boxes.encharge.request_count("POST") + boxes.encharge.request_count("DELETE")
            text = describe_run(result.run) if result.run else f"Failed: {result.error}"
            click.echo(f"{label:<32} {text}  [{writes} write requests, {time.perf_counter() - started:.1f}s]")
            if not result.success:
                sys.exit(1)
        sync = store.get_sync(key)
        click.echo("\n" + _runs_table(store.list_runs(sync, limit=3)))
    click.echo(
        "\nSee it in the Dagster UI (same instance, same data), from this folder:\n"
        "  terminal 1:  .venv/bin/marketing-pipeline sandbox\n"
        '  terminal 2:  eval "$(.venv/bin/marketing-pipeline sandbox --print-env)"; '
        f"DAGSTER_HOME={home} .venv/bin/dagster dev\n"
        "  then open http://127.0.0.1:3000 (Assets > marketing_sync, or Automation for the schedule)"
    )


if __name__ == "__main__":
    main()
