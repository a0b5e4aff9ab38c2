"""`marketing-pipeline syncs`: the specification's cards, the Settings modal and "Sync Now"."""

from __future__ import annotations

import sys

import click

from marketing_pipeline.cli.display import card, describe_run, echo, emit_json, runs_table, sync_json
from marketing_pipeline.errors import InvalidSyncConfigError, MarketingPipelineError, one_line
from marketing_pipeline.store.repository import open_store
from marketing_pipeline.sync.schedule import Frequency, ScheduleChoiceError, cron_for, validate_cron

FLAG_OF_PART = {"time": "--at", "frequency": "--daily/--weekly/--monthly"}
DAGSTER_FOLLOWS = (
    "Dagster re-reads the row at every tick, so pausing takes effect now; the schedule's toggle in the UI "
    "follows within a minute. A new schedule reaches the UI within a minute when the daemon has "
    "DAGSTER_WEBSERVER_URL (else press Reload on the Deployment page, or give --dagster-url)."
)


@click.group()
def syncs() -> None:
    """List, show, change and trigger sync automations."""


@syncs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the specification's field names).")
def syncs_list(as_json: bool) -> None:
    """Every sync with its status, last run and next scheduled run."""
    store = open_store()
    items = store.list_syncs()
    if as_json:
        emit_json([sync_json(store, s) for s in items])
        return
    if not items:
        echo("no syncs: run `marketing-pipeline init`")
    echo("\n\n".join(card(store, s) for s in items))


@syncs.command("show")
@click.argument("sync_ref", metavar="SYNC")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the specification's field names).")
def syncs_show(sync_ref: str, as_json: bool) -> None:
    """One sync (by id, key or name) and its last 10 runs."""
    store = open_store()
    sync = store.get_sync(sync_ref)
    runs = store.list_runs(sync, limit=10)
    if as_json:
        emit_json({**sync_json(store, sync), "runs": [r.to_json_dict() for r in runs]})
        return
    echo(card(store, sync))
    echo("\nLast runs:\n" + runs_table(runs))


def cron_from_flags(daily: bool, weekly: str | None, monthly: int | None, at: str | None) -> str | None:
    """The cron of --daily / --weekly DAY / --monthly DAY [--at HH:MM], or None when none is given."""
    chosen: list[tuple[Frequency, str | int | None, str]] = [
        choice
        for choice in (("daily", None, "--daily"), ("weekly", weekly, "--weekly"), ("monthly", monthly, "--monthly"))
        if (choice[0] == "daily" and daily) or (choice[0] != "daily" and choice[1] is not None)
    ]
    if not chosen:
        if at:
            raise InvalidSyncConfigError("--at goes with --daily, --weekly or --monthly")
        return None
    if len(chosen) > 1:
        raise InvalidSyncConfigError("choose one of --daily, --weekly and --monthly")
    frequency, day, flag = chosen[0]
    try:
        return cron_for(frequency, day=day, at=at)
    except ScheduleChoiceError as exc:
        raise InvalidSyncConfigError(f"{FLAG_OF_PART.get(exc.part, flag)} {exc.detail}") from None


@syncs.command("update", short_help="Change a sync's schedule, or pause or resume it.")
@click.argument("sync_ref", metavar="SYNC")
@click.option("--schedule", help="A five-field cron expression, e.g. '0 6 * * 1'.")
@click.option("--enable", is_flag=True, help="Resume the sync.")
@click.option("--disable", is_flag=True, help="Pause the sync.")
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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the specification's field names).")
def syncs_update(
    sync_ref: str,
    schedule: str | None,
    enable: bool,
    disable: bool,
    daily: bool,
    weekly: str | None,
    monthly: int | None,
    at: str | None,
    dagster_url: str | None,
    as_json: bool,
) -> None:
    """Change a sync's schedule and/or pause or resume it (all or nothing: every value is checked before
    anything is written)."""
    if enable and disable:
        raise InvalidSyncConfigError("give --enable or --disable, not both")
    enabled = True if enable else False if disable else None
    friendly = cron_from_flags(daily, weekly, monthly, at)
    if friendly and schedule:
        raise InvalidSyncConfigError("give either --schedule or --daily/--weekly/--monthly, not both")
    cron = friendly or schedule
    if cron is None and enabled is None:
        raise InvalidSyncConfigError(
            "nothing to change: give --schedule, --daily/--weekly/--monthly, --enable or --disable"
        )
    if cron is not None:
        validate_cron(cron)
    webserver = None
    if dagster_url:
        from marketing_pipeline.launch.webserver import DagsterWebserver

        webserver = DagsterWebserver(dagster_url)  # a malformed URL is refused before anything is written
    store = open_store()
    sync = store.update_sync(sync_ref, schedule=cron, enabled=enabled)
    dagster_note = DAGSTER_FOLLOWS
    if webserver is not None and sync.key:
        from marketing_pipeline.defs.schedules import schedule_name

        try:
            state = webserver.apply_sync_change(schedule_name(sync.key))
        except MarketingPipelineError as exc:
            echo(f"warning: saved, but Dagster was not updated: {exc}", err=True)
        else:
            dagster_note = (
                f"Dagster: code location reloaded; schedule {state.name} is {state.status} at '{state.cron}'"
                if state.status
                else f"Dagster: code location reloaded; {sync.name} has no schedule"
            )
    if as_json:
        emit_json(sync_json(store, sync))
        return
    echo(card(store, sync))
    echo("\n" + dagster_note)


@syncs.command("trigger", short_help="Run a sync now through Dagster and wait for it.")
@click.argument("sync_ref", metavar="SYNC")
@click.option("--dry-run", is_flag=True, help="Compute and show the plan; write nothing to Encharge.")
@click.option("--force", is_flag=True, help="Apply even if the safety brake would stop it.")
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show each step and its counts on stderr as the run goes (default: only when stderr is a terminal "
    "and --json is not given).",
)
def syncs_trigger(sync_ref: str, dry_run: bool, force: bool, as_json: bool, progress: bool | None) -> None:
    """Run a sync now through Dagster (it shows in the UI's run history) and wait for it."""
    from marketing_pipeline.cli.progress import TerminalProgress
    from marketing_pipeline.launch.trigger import trigger_sync

    terminal = sys.stderr.isatty()
    show = progress if progress is not None else terminal and not as_json
    view = TerminalProgress(sys.stderr, live=terminal) if show else None
    result = trigger_sync(open_store(), sync_ref, dry_run=dry_run, force=force, progress=view)
    for problem in result.alerts.problems:
        click.echo(f"warning: {problem}", err=True)
    for outcome in result.alerts.outcomes:
        for delivery in outcome.deliveries:
            if not delivery.ok:
                click.echo(f"warning: alert not delivered: {delivery.error}", err=True)
        if view is not None and outcome.alert is not None:
            view.note(outcome.describe())
    if view is not None and result.alerts.note:
        view.note(result.alerts.note)
    if as_json:
        emit_json(
            {
                "dagsterRunId": result.dagster_run_id,
                "success": result.success,
                "run": result.run.to_json_dict() if result.run else None,
                "error": result.error,
            }
        )
    failed = not result.success or result.run is None or result.run.status != "completed"
    where = f"run {result.run.id}, " if result.run is not None else ""
    if failed:
        # A failure goes to stderr, like every error (the --json record above stays on stdout).
        error = result.error or (result.run.error_message if result.run else None) or "the run did not complete"
        echo(f"error: the sync failed: {one_line(error)} ({where}Dagster run {result.dagster_run_id})", err=True)
        sys.exit(1)
    if not as_json and result.run is not None:
        echo(f"{describe_run(result.run)}  ({where}Dagster run {result.dagster_run_id})")
