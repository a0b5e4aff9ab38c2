"""`marketing-pipeline runs`: a sync's run history, one run's per-contact details, and releasing a sync from
a run that died where no one could see it. Each says which DAGSTER_HOME it used (stderr, or `--json`)."""

from __future__ import annotations

import getpass
import socket
from pathlib import Path
from typing import Any

import click

from marketing_pipeline.cli.display import describe_run, echo, emit_json, run_details_table, runs_table
from marketing_pipeline.store.models import SyncRun
from marketing_pipeline.store.repository import RUNS_PAGE_MAX, open_store

# Beyond any history a sync will have, and within every database's integer (a larger OFFSET overflows).
MAX_OFFSET = 1_000_000_000


def _home() -> Path:
    from marketing_pipeline.launch.instance_identity import dagster_home_in_use

    return dagster_home_in_use()


def _say_home(home: Path) -> None:
    echo(f"Dagster home: {home}", err=True)


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
                "dagsterHome": str(_home()),
            }
        )
        return
    _say_home(_home())
    echo(runs_table(items))


def _dagster_view(run: SyncRun, home: Path) -> str | None:
    """What this instance knows of a running row's Dagster run (None for a finished row)."""
    if run.status != "running" or not run.dagster_run_id:
        return None
    from marketing_pipeline.defs.sync_step import InstanceRuns
    from marketing_pipeline.errors import MarketingPipelineError
    from marketing_pipeline.launch.instance_identity import existing_instance
    from marketing_pipeline.runs.ledger import launched_from

    try:
        with existing_instance(home) as instance:
            seen = InstanceRuns(instance).look_up(run.dagster_run_id)
    except MarketingPipelineError as exc:
        return f"unknown here ({exc})"
    if seen.known:
        return f"{seen.status} in this instance"
    return f"not known to this instance (launched from {launched_from(run)})"


@runs.command("show", short_help="One run with its per-contact details.")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (the specification's field names).")
def runs_show(run_id: str, as_json: bool) -> None:
    """One run (by its id or its Dagster run id) with its per-contact details; for a run still `running`,
    what the Dagster instance of $DAGSTER_HOME knows of it."""
    run = open_store().get_run(run_id)
    home = _home()
    view = _dagster_view(run, home)
    if as_json:
        payload: dict[str, Any] = {**run.to_json_dict(), "dagsterHome": str(home)}
        if view is not None:
            payload["dagsterRunHere"] = view
        emit_json(payload)
        return
    _say_home(home)
    echo(runs_table([run]))
    echo(f"\nResult: {describe_run(run)}")
    if view is not None:
        echo(f"Dagster run {run.dagster_run_id}: {view}")
    details = run_details_table(run)
    if details:
        echo(details)


@runs.command("release", short_help="Free a sync from a running run that is dead (refused while it is alive).")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the released run record as JSON.")
def runs_release(run_id: str, as_json: bool) -> None:
    """Free a sync from RUN_ID (its id or its Dagster run id): a `running` record whose run died where the
    next run cannot tell (launched from another Dagster instance, or on another host). Refused while the
    Dagster instance of $DAGSTER_HOME knows the run to be alive; the record is marked failed, saying who
    released it. A claim nobody releases frees itself 6 hours after its run started."""
    from marketing_pipeline.defs.sync_step import ledger_for
    from marketing_pipeline.launch.instance_identity import deployment_check, existing_instance, identity_of

    store = open_store()
    run = store.get_run(run_id)
    home = _home()
    with existing_instance(home) as instance:
        warning = deployment_check(store, identity_of(instance))
        by = f"`runs release` by {_user()} on {socket.gethostname()}"
        released = ledger_for(store, instance).release(run, by=by)
    if as_json:
        emit_json({**released.to_json_dict(), "dagsterHome": str(home)})
    else:
        _say_home(home)
        if warning:
            echo(warning, err=True)
        echo(f"released run {released.id} (Dagster run {released.dagster_run_id or '-'}): {released.error_message}")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in a bare container
        return "an operator"
