"""`marketing-pipeline sandbox` and `demo`: the sandbox APIs, and the newcomer's one command."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click

from marketing_pipeline import settings
from marketing_pipeline.cli.display import describe_run, echo, runs_table
from marketing_pipeline.errors import MarketingPipelineError, one_line

PORT = click.IntRange(0, 65535)
SIZE = click.IntRange(1, 100_000)


def env_lines(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}='{v}'" for k, v in env.items())


@click.command(short_help="Serve the sandbox APIs (fake ConnectWise and Encharge).")
@click.option("--size", default=86, show_default=True, type=SIZE, help="Contacts that pass the first sync's filter.")
@click.option(
    "--cw-port", default=8701, show_default=True, type=PORT, help="Port of the ConnectWise sandbox (loopback)."
)
@click.option(
    "--encharge-port", default=8702, show_default=True, type=PORT, help="Port of the Encharge sandbox (loopback)."
)
@click.option(
    "--state-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the Encharge sandbox keeps its people (default: $DAGSTER_HOME/sandbox/encharge.json).",
)
@click.option(
    "--encharge-hidden-limit",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 100_000),
    help="An unpublished Encharge rate limit, requests/s (beyond it: 429, HTML, no Retry-After); 0: none.",
)
@click.option(
    "--encharge-hidden-burst",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 100_000),
    help="Requests the hidden limit lets through at once (0: one second's worth).",
)
@click.option("--print-env", is_flag=True, help="Only print the environment variables, then exit.")
def sandbox(
    size: int,
    cw_port: int,
    encharge_port: int,
    state_file: Path | None,
    encharge_hidden_limit: float,
    encharge_hidden_burst: float,
    print_env: bool,
) -> None:
    """Serve both sandbox APIs on loopback until interrupted, and print how to point the pipeline at them."""
    from marketing_pipeline.sandbox.launch import running_sandboxes, sandbox_env

    if print_env:
        click.echo(env_lines(sandbox_env(cw_port, encharge_port)))
        return
    state = state_file or settings.dagster_home().resolve() / "sandbox" / "encharge.json"
    with ExitStack() as stack:
        try:
            boxes = stack.enter_context(
                running_sandboxes(
                    size=size,
                    cw_port=cw_port,
                    encharge_port=encharge_port,
                    state_file=state,
                    hidden_limit_per_second=encharge_hidden_limit,
                    hidden_limit_burst=encharge_hidden_burst,
                )
            )
        except OSError as exc:
            reason = one_line(exc.strerror or str(exc))
            raise MarketingPipelineError(
                f"cannot serve the sandboxes on ports {cw_port} and {encharge_port}: {reason}"
            ) from None
        click.echo(f"ConnectWise sandbox: {boxes.connectwise.base_url}")
        click.echo(f"Encharge sandbox:    {boxes.encharge.base_url}  (state: {state})")
        if encharge_hidden_limit:
            click.echo(f"Encharge hidden rate limit: {encharge_hidden_limit:g} requests/s")
        click.echo("\nPoint the pipeline at them (e.g. in another terminal, before `dagster dev`):\n")
        click.echo(env_lines(boxes.env()))
        click.echo("\nCtrl-C stops the sandboxes.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("stopped")


@click.command(short_help="The newcomer's one command: sandboxes, init and two syncs.")
@click.option("--size", default=86, show_default=True, type=SIZE, help="Contacts that pass the first sync's filter.")
def demo(size: int) -> None:
    """The newcomer's one command: sandboxes, init, a sync through Dagster, and what it did."""
    from marketing_pipeline.launch.home import REPOSITORY_WORKSPACE, ensure_dagster_home, settle_daemon_cursors
    from marketing_pipeline.launch.trigger import trigger_sync
    from marketing_pipeline.sandbox.launch import running_sandboxes
    from marketing_pipeline.store.repository import open_store
    from marketing_pipeline.store.seed import FIRST_SYNC, initialise_store

    # The demo never touches a configured instance or database: it keeps to ./.dagster_home.
    os.environ[settings.DAGSTER_HOME] = str(Path.cwd() / settings.DEFAULTS.dagster_home)
    home = ensure_dagster_home(postgres=False)
    os.environ[settings.MARKETING_DATABASE_URL] = f"sqlite:///{home / 'marketing.db'}"
    for name in settings.ALERTS:  # nor does it alert anyone about its sandbox runs
        os.environ.pop(name, None)
    state = home / "sandbox" / "encharge.json"
    state.unlink(missing_ok=True)  # each demo starts from the same overlapping audience
    with running_sandboxes(size=size, state_file=state) as boxes:
        os.environ.update(boxes.env())
        initialise_store(settings.database_url())
        store = open_store()
        manifest = boxes.dataset.manifest
        key = str(FIRST_SYNC["key"])
        click.echo(f"Dagster home: {home}")
        click.echo(f"Sandboxes: ConnectWise {boxes.connectwise.base_url}, Encharge {boxes.encharge.base_url}")
        click.echo(
            f"ConnectWise: {len(boxes.dataset.companies)} companies, {len(boxes.dataset.contacts)} contacts"
            f" ({len(manifest.passing_contact_ids)} pass the filter); Encharge: "
            f"{len(boxes.dataset.people)} people\n"
        )
        reviewed: dict[str, str] = {}

        def review() -> Any:
            result = trigger_sync(store, key, dry_run=True)
            if result.run is not None:
                reviewed["hash"] = str((result.run.details or {}).get("planHash") or "")
            return result

        # The dataset's tag has carriers the new sync never tagged (former members): its first run takes the
        # tag from them only once approved, here the dry run's plan, as an operator would after reading it.
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("dry run", review),
            ("first sync (plan approved)", lambda: trigger_sync(store, key, approve=reviewed.get("hash") or None)),
            ("second sync (nothing changed)", lambda: trigger_sync(store, key)),
        ]
        for label, step in steps:
            boxes.encharge.clear_log()
            started = time.perf_counter()
            result = step()
            writes = boxes.encharge.request_count("POST") + boxes.encharge.request_count("DELETE")
            if not result.success:
                echo(f"error: {label} failed: {one_line(result.error or 'no reason given')}", err=True)
                sys.exit(1)
            text = describe_run(result.run) if result.run else "no run record"
            click.echo(f"{label:<32} {text}  [{writes} write requests, {time.perf_counter() - started:.1f}s]")
        sync = store.get_sync(key)
        click.echo("\n" + runs_table(store.list_runs(sync, limit=3)))
    settle_daemon_cursors()  # `dg dev` next: its daemon starts without a warning
    click.echo(
        "\nSee it in the Dagster UI (same instance, same data), from this folder:\n"
        "  terminal 1:  .venv/bin/marketing-pipeline sandbox\n"
        '  terminal 2:  eval "$(.venv/bin/marketing-pipeline sandbox --print-env)"; '
        f"(cd {home} && DAGSTER_HOME=$PWD {Path(sys.executable).parent / 'dg'} dev -w {REPOSITORY_WORKSPACE})\n"
        "  then open http://127.0.0.1:3000 (Assets > marketing_sync, or Automation for the schedule: its "
        "toggle is Pause/Resume)"
    )
