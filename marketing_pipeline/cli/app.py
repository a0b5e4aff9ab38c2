"""The `marketing-pipeline` command group, its error handling, and `init`."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from marketing_pipeline import settings
from marketing_pipeline.cli.demo import demo, sandbox
from marketing_pipeline.cli.runs import runs
from marketing_pipeline.cli.syncs import syncs
from marketing_pipeline.errors import MarketingPipelineError


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
            if os.environ.get(settings.DEBUG):
                raise
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            click.echo(
                f"error: unexpected {type(exc).__name__}: {first} (set {settings.DEBUG}=1 for the traceback)",
                err=True,
            )
            sys.exit(1)


@click.group(cls=CliGroup)
@click.version_option(package_name="marketing-pipeline")
def main() -> None:
    """Keep an Encharge audience in step with ConnectWise PSA, with Dagster."""


@main.command(short_help="Create or upgrade the tables and add the first sync.")
def init() -> None:
    """Create or upgrade the tables and add the first sync (safe to run again)."""
    from marketing_pipeline.launch.home import ensure_dagster_home
    from marketing_pipeline.launch.partitions import register_sync_partitions_in_home
    from marketing_pipeline.store.database import safe_url
    from marketing_pipeline.store.seed import initialise_store

    result = initialise_store(settings.database_url())
    home = ensure_dagster_home()
    registered = register_sync_partitions_in_home()
    click.echo(f"store: {safe_url(settings.database_url())} (migrated)")
    click.echo(f"Dagster home: {home}")
    click.echo("first sync: " + ("created" if result.created_first_sync else "already there"))
    if result.keys_assigned:
        click.echo(f"keys given to syncs without one: {', '.join(result.keys_assigned)}")
    if registered:
        click.echo(f"Dagster partitions added: {', '.join(registered)}")
    click.echo(f"{len(result.syncs)} sync(s)")


main.add_command(syncs)
main.add_command(runs)
main.add_command(sandbox)
main.add_command(demo)
