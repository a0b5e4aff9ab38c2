"""`marketing-pipeline runs`: a sync's run history and one run's per-contact details."""

from __future__ import annotations

import click

from marketing_pipeline.cli.display import describe_run, echo, emit_json, run_details_table, runs_table
from marketing_pipeline.store.repository import RUNS_PAGE_MAX, open_store

# Beyond any history a sync will have, and within every database's integer (a larger OFFSET overflows).
MAX_OFFSET = 1_000_000_000


@click.group()
def runs() -> None:
    """Run history."""


@runs.command("list")
@click.argument("sync_ref", metavar="SYNC")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, RUNS_PAGE_MAX), help="Runs per page.")
@click.option(
    "--offset", default=0, show_default=True, type=click.IntRange(0, MAX_OFFSET), help="Runs to skip (newest first)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the specification's field names).")
def runs_list(sync_ref: str, limit: int, offset: int, as_json: bool) -> None:
    """A sync's runs, newest first."""
    store = open_store()
    sync = store.get_sync(sync_ref)
    items = store.list_runs(sync, limit=limit, offset=offset)
    if as_json:
        emit_json(
            {
                "total": store.count_runs(sync),
                "limit": limit,
                "offset": offset,
                "runs": [r.to_json_dict() for r in items],
            }
        )
        return
    echo(runs_table(items))


@runs.command("show", short_help="One run with its per-contact details.")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the specification's field names).")
def runs_show(run_id: str, as_json: bool) -> None:
    """One run (by its id or its Dagster run id) with its per-contact details."""
    run = open_store().get_run(run_id)
    if as_json:
        emit_json(run.to_json_dict())
        return
    echo(runs_table([run]))
    echo(f"\nResult: {describe_run(run)}")
    details = run_details_table(run)
    if details:
        echo(details)
