"""`marketing-pipeline syncs`: the specification's cards, the Settings modal and "Sync Now"."""

from __future__ import annotations

import contextlib
import shlex
import sys

import click

from marketing_pipeline import settings
from marketing_pipeline.cli.display import (
    card,
    describe_run,
    echo,
    emit_json,
    ownership_line,
    runs_table,
    sync_json,
    tag_ownership,
)
from marketing_pipeline.cli.sync_flags import (
    filter_from_options,
    filter_options,
    schedule_from_options,
    schedule_options,
)
from marketing_pipeline.errors import InvalidSyncConfigError, MarketingPipelineError, one_line
from marketing_pipeline.store.repository import open_store

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
        emit_json(
            {
                **sync_json(store, sync),
                "tagOwnership": tag_ownership(store, sync),
                "runs": [r.to_json_dict() for r in runs],
            }
        )
        return
    echo(card(store, sync))
    echo(ownership_line(store, sync))
    echo("\nLast runs:\n" + runs_table(runs))


@syncs.command("create", short_help="Add a sync (its partition and schedule appear in Dagster by themselves).")
@click.argument("name")
@click.option(
    "--tag",
    "tag",
    required=True,
    help="The Encharge tag this sync owns (no other sync may use it, in any case): letters, digits, dashes, "
    "underscores and single spaces between words, at most 100 characters.",
)
@click.option("--description", help="Shown on the sync's card.")
@filter_options
@schedule_options
@click.option("--disabled", is_flag=True, help="Create it paused.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the specification's field names).")
def syncs_create(
    name: str,
    tag: str,
    description: str | None,
    filter_json: str | None,
    schedule: str | None,
    daily: bool,
    weekly: str | None,
    monthly: int | None,
    at: str | None,
    disabled: bool,
    as_json: bool,
    **filter_flags: tuple[int, ...],
) -> None:
    """Add a sync: NAME, its tag, its ConnectWise filter (--filter JSON or the filter flags) and, optionally,
    a schedule. Everything is checked before anything is written."""
    filter_config = filter_from_options(filter_json, filter_flags)
    if filter_config is None:
        raise InvalidSyncConfigError(
            "a sync needs a filter: give --filter JSON, or --company-type, --company-status and --contact-type"
        )
    cron = schedule_from_options(schedule, daily, weekly, monthly, at)
    store = open_store()
    sync = store.create_sync(
        name=name,
        filter_config=filter_config,
        tag_name=tag,
        schedule=cron,
        enabled=not disabled,
        description=description,
    )
    partition_note = register_partition_now()
    if as_json:
        emit_json(sync_json(store, sync))
        return
    echo(card(store, sync))
    echo("\n" + partition_note + " " + SCHEDULE_APPEARS)


SCHEDULE_APPEARS = (
    "Its schedule appears in the UI within a minute when the daemon has DAGSTER_WEBSERVER_URL (else press "
    "Reload on the Deployment page)."
)


def register_partition_now() -> str:
    """Add the new sync's partition to the Dagster instance at once (the registry sensor would within a
    minute); a note either way."""
    from marketing_pipeline.launch.partition_registry import register_sync_partitions_in_home

    try:
        added = register_sync_partitions_in_home()
    except Exception as exc:  # the row is written; the registry sensor adds the partition later
        return f"Dagster: partition not added yet ({one_line(str(exc))}); the registry sensor adds it."
    return f"Dagster: partition {', '.join(added)} added." if added else "Dagster: partition already there."


@syncs.command("update", short_help="Change a sync's schedule, name, tag or filter, or pause or resume it.")
@click.argument("sync_ref", metavar="SYNC")
@schedule_options
@click.option("--enable", is_flag=True, help="Resume the sync.")
@click.option("--disable", is_flag=True, help="Pause the sync.")
@click.option("--name", help="A new name.")
@click.option("--description", help="A new description ('' clears it).")
@click.option(
    "--tag",
    "tag",
    help="A new Encharge tag (no other sync may use it, in any case; the rule of --tag in `syncs create`). A "
    "change in case only moves everyone to the new spelling, through the brake.",
)
@click.option(
    "--adopt-existing-tag/--no-adopt-existing-tag",
    "adopt",
    default=None,
    help="Let the sync take its tag from carriers it never tagged (by hand, a previous owner) when they are not "
    "in its audience, without approving a plan; --no-adopt-existing-tag takes that back.",
)
@filter_options
@click.option(
    "--dagster-url",
    envvar=settings.DAGSTER_WEBSERVER_URL,
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
    name: str | None,
    description: str | None,
    tag: str | None,
    adopt: bool | None,
    filter_json: str | None,
    **filter_flags: tuple[int, ...],
) -> None:
    """Change a sync's schedule, name, description, tag or filter, and/or pause or resume it (all or
    nothing: every value is checked before anything is written)."""
    if enable and disable:
        raise InvalidSyncConfigError("give --enable or --disable, not both")
    enabled = True if enable else False if disable else None
    cron = schedule_from_options(schedule, daily, weekly, monthly, at)
    changes_filter = filter_json is not None or any(filter_flags.values())
    changes_row = not (
        cron is None and enabled is None and name is None and description is None and tag is None and not changes_filter
    )
    if not changes_row and adopt is None:
        raise InvalidSyncConfigError(
            "nothing to change: give --schedule, --daily/--weekly/--monthly, --enable, --disable, --name, "
            "--description, --tag, --filter, a filter flag or --adopt-existing-tag"
        )
    webserver = None
    if dagster_url:
        from marketing_pipeline.launch.webserver import DagsterWebserver

        webserver = DagsterWebserver(dagster_url)  # a malformed URL is refused before anything is written
    store = open_store()
    filter_config = None
    if changes_filter:
        current = store.get_sync(sync_ref).filter_config
        filter_config = filter_from_options(filter_json, filter_flags, current.model_dump() if current else None)
    sync = store.get_sync(sync_ref)
    if changes_row:
        sync = store.update_sync(
            sync_ref,
            schedule=cron,
            enabled=enabled,
            tag_name=tag,
            name=name,
            description=description,
            filter_config=filter_config,
        )
    if adopt is not None:
        store.set_adopt_existing(sync, adopt)
    dagster_note = DAGSTER_FOLLOWS
    if webserver is not None and sync.key:
        from marketing_pipeline.defs.dagster_names import schedule_name

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
    if adopt is not None:
        echo(ownership_line(store, sync))
    echo("\n" + dagster_note)


@syncs.command("trigger", short_help="Run a sync now through Dagster and wait for it.")
@click.argument("sync_ref", metavar="SYNC")
@click.option("--dry-run", is_flag=True, help="Compute and show the plan; write nothing to Encharge.")
@click.option("--force", is_flag=True, help="Apply even if the safety brake would stop it.")
@click.option(
    "--even-if-paused",
    is_flag=True,
    help="Run a paused sync (MarketingSync.enabled = false) once; it stays paused. Without it a paused sync is "
    "refused (a --dry-run is not).",
)
@click.option(
    "--approve",
    metavar="HASH",
    help="Apply only the plan with this hash, as a dry run of this sync showed it in the last 24 hours: the "
    "plan is computed afresh and nothing is written if it differs; an approved plan passes the brake.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run record as JSON.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show each step and its counts on stderr as the run goes (default: only when stderr is a terminal "
    "and --json is not given).",
)
def syncs_trigger(
    sync_ref: str,
    dry_run: bool,
    force: bool,
    even_if_paused: bool,
    approve: str | None,
    as_json: bool,
    progress: bool | None,
) -> None:
    """Run a sync now through Dagster (it shows in the UI's run history) and wait for it. It runs in the
    Dagster instance of $DAGSTER_HOME, which it names; an instance the deployment's daemon does not run is
    refused."""
    from marketing_pipeline.cli.live_line import LiveLine
    from marketing_pipeline.launch.trigger import trigger_sync

    terminal = sys.stderr.isatty()
    show = progress if progress is not None else terminal and not as_json
    view = LiveLine(sys.stderr, live=terminal) if show else None
    with view or contextlib.nullcontext():
        result = trigger_sync(
            open_store(),
            sync_ref,
            dry_run=dry_run,
            force=force,
            approve=approve,
            even_if_paused=even_if_paused,
            progress=view,
        )
    for warning in result.warnings:
        echo(warning, err=True)
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
                "dagsterHome": result.dagster_home,
                "success": result.success,
                "run": result.run.to_json_dict() if result.run else None,
                "error": result.error,
            }
        )
    failed = not result.success or result.run is None or result.run.status != "completed"
    where = f"run {result.run.id}, " if result.run is not None else ""
    home = f" in DAGSTER_HOME={result.dagster_home}"  # the instance whose history holds the run
    if failed:
        # A failure goes to stderr, like every error (the --json record above stays on stdout).
        error = result.error or (result.run.error_message if result.run else None) or "the run did not complete"
        echo(f"error: the sync failed: {one_line(error)} ({where}Dagster run {result.dagster_run_id}{home})", err=True)
        sys.exit(1)
    if not as_json and result.run is not None:
        echo(f"{describe_run(result.run)}  ({where}Dagster run {result.dagster_run_id}{home})")
        plan_hash = (result.run.details or {}).get("planHash")
        if dry_run and plan_hash:
            command = f"marketing-pipeline syncs trigger {shlex.quote(sync_ref)} --approve {plan_hash}"
            echo(f"To apply exactly this plan: {command}")
