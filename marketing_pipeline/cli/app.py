"""The `marketing-pipeline` command group, its error handling, and `init`."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from marketing_pipeline import settings
from marketing_pipeline.cli.check import check
from marketing_pipeline.cli.demo import demo, sandbox
from marketing_pipeline.cli.display import echo, next_run, when
from marketing_pipeline.cli.runs import runs
from marketing_pipeline.cli.syncs import syncs
from marketing_pipeline.errors import MarketingPipelineError, one_line
from marketing_pipeline.store.models import Sync


def our_error(exc: BaseException) -> MarketingPipelineError | None:
    """Our own error, when another (Dagster loading the definitions, say) wraps it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, MarketingPipelineError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def fail(message: str) -> NoReturn:
    """End the command: one plain line on stderr (no secret in it), exit code 1."""
    echo(f"error: {one_line(message)}", err=True)
    sys.exit(1)


class CliGroup(click.Group):
    """Errors end the command with one plain line on stderr and exit code 1; a traceback only on request.
    A closed pipe (`| head`) ends it quietly: click handles that once it reaches it."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MarketingPipelineError as exc:
            fail(str(exc))
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt, BrokenPipeError):
            raise
        except Exception as exc:
            if os.environ.get(settings.DEBUG):
                raise
            wrapped = our_error(exc)
            if wrapped is not None:
                fail(str(wrapped))
            fail(
                f"unexpected failure: {one_line(str(exc), limit=300) or 'no reason given'} "
                f"(set {settings.DEBUG}=1 for the traceback)"
            )


@click.group(cls=CliGroup)
@click.version_option(package_name="marketing-pipeline")
def main() -> None:
    """Keep an Encharge audience in step with ConnectWise PSA, with Dagster."""


@main.command(short_help="Create or upgrade the tables and add the first sync.")
@click.option(
    "--paused",
    is_flag=True,
    help="Create the first sync paused: its schedule writes nothing until it is resumed (an existing one is kept).",
)
def init(paused: bool) -> None:
    """Create or upgrade the tables and add the first sync (safe to run again, and at once)."""
    from marketing_pipeline.launch.home import ensure_dagster_home, initialising, settle_daemon_cursors
    from marketing_pipeline.launch.partition_registry import register_sync_partitions_in_home
    from marketing_pipeline.store.database import safe_url
    from marketing_pipeline.store.seed import FIRST_SYNC, initialise_store

    store_url = settings.database_url()
    home = ensure_dagster_home()
    # One `init` at a time sets up Dagster's storage; our tables have their own lock (initialise_store).
    with initialising(home):
        result = initialise_store(store_url, paused=paused)
        registered = register_sync_partitions_in_home()
        settle_daemon_cursors()
    echo(f"store: {safe_url(store_url)} (migrated)")
    echo(f"Dagster home: {home}")
    first = next((s for s in result.syncs if s.key == FIRST_SYNC["key"]), None)
    echo("first sync: " + ("created" if result.created_first_sync else "already there"))
    if first is not None:
        echo(first_sync_state(first, created=result.created_first_sync, paused_asked=paused))
    if result.keys_assigned:
        echo(f"keys given to syncs without one: {', '.join(result.keys_assigned)}")
    if registered:
        echo(f"Dagster partitions added: {', '.join(registered)}")
    echo(f"{len(result.syncs)} sync(s)")


def first_sync_state(sync: Sync, *, created: bool, paused_asked: bool) -> str:
    """Whether the first sync's schedule will write, and how to change that, in one line."""
    from marketing_pipeline.defs.dagster_names import schedule_name

    upcoming = next_run(sync)
    cron = f"{sync.schedule}, {settings.schedule_timezone()}" + (f", next {when(upcoming)}" if upcoming else "")
    schedule = f"its schedule {schedule_name(sync.label)} ({cron})"
    if not sync.enabled:
        return (
            f"  Paused: {schedule} writes nothing until resumed (`marketing-pipeline syncs update {sync.label} "
            "--enable`, or its toggle on the UI's Automation page)"
        )
    kept = " (it existed already: --paused only applies when init creates it)" if paused_asked and not created else ""
    return (
        f"  Active{kept}: {schedule} writes to Encharge as soon as a Dagster daemon runs; to hold it, "
        f"`marketing-pipeline syncs update {sync.label} --disable` (or `init --paused` when creating it)"
    )


main.add_command(check)
main.add_command(syncs)
main.add_command(runs)
main.add_command(sandbox)
main.add_command(demo)
