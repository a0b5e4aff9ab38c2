"""Running a sync now, through Dagster, against the instance in `$DAGSTER_HOME` (so the run shows in the
UI's run history), and reading back its MarketingSyncRun row. Its progress can be watched as it runs, and
its alert is sent from here when no daemon is running the alert sensors.

Refused before anything runs: a paused sync (unless `even_if_paused`, or a dry run, which writes nothing),
and an instance that is not the one the deployment's daemon runs."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from marketing_pipeline import settings
from marketing_pipeline.alerts.dispatch import AlertOutcome, alert_sensors_live
from marketing_pipeline.defs.pause_resume import sync_is_paused
from marketing_pipeline.defs.sync_step import DRY_RUN_TAG, TRIGGER_TAG, ledger_for
from marketing_pipeline.errors import MarketingPipelineError, one_line
from marketing_pipeline.launch.dagster_internals import listen_to_run
from marketing_pipeline.launch.home import ensure_dagster_home
from marketing_pipeline.launch.instance_identity import deployment_check, identity_of
from marketing_pipeline.launch.partition_registry import register_sync_partitions
from marketing_pipeline.launch.run_events import ProgressView, run_listener
from marketing_pipeline.store.models import Sync, SyncRun
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.transport.redact import scrub

log = logging.getLogger("marketing_pipeline")


@dataclass(frozen=True)
class AlertReport:
    """What the trigger did about alerts: the alerts it sent, or why it sent none, and channel problems."""

    outcomes: list[AlertOutcome] = field(default_factory=list)
    note: str | None = None
    problems: list[str] = field(default_factory=list)


class SyncPausedError(MarketingPipelineError):
    """A run of a paused sync was asked for without saying it should run anyway."""


@dataclass(frozen=True)
class TriggerResult:
    dagster_run_id: str
    success: bool
    run: SyncRun | None
    error: str | None
    alerts: AlertReport = field(default_factory=AlertReport)
    dagster_home: str | None = None  # the instance the run was launched in
    warnings: list[str] = field(default_factory=list)


def apply_run_config(
    dry_run: bool, force: bool, approve: str | None = None, even_if_paused: bool = False
) -> dict[str, Any]:
    apply: dict[str, Any] = {"dry_run": dry_run, "force": force}
    if even_if_paused:
        apply["even_if_paused"] = True
    if approve:
        apply["approved_plan_hash"] = approve
    return {
        "ops": {"encharge_audience": {"config": apply}},
        # The run's full log is in the Dagster UI; the terminal gets the CLI's one-line result only
        # (Dagster's console logger would otherwise print stack traces into `--json` output).
        "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
    }


def check_environment() -> None:
    """Refuse to launch a run that would fail for want of a secret, and say which."""
    settings.require_environment()


def _run_error(result: dg.ExecuteInProcessResult) -> str | None:
    """The first failed step's own error (else the run's), in plain words: Dagster wraps it (a resource
    that refused to start, say) and names classes; the error inside its wrappers is what an operator needs."""
    errors = [e.step_failure_data.error for e in result.all_events if e.is_step_failure and e.step_failure_data]
    errors += [e.job_failure_data.error for e in result.all_events if e.is_job_failure and e.job_failure_data]
    for error in errors:
        while error is not None and error.cause is not None and (error.cls_name or "").startswith("Dagster"):
            error = error.cause
        if error is not None:
            return scrub(one_line(error.message))
    return None


def trigger_sync(
    store: SyncStore,
    sync_ref: str,
    *,
    dry_run: bool = False,
    force: bool = False,
    approve: str | None = None,
    even_if_paused: bool = False,
    instance: dg.DagsterInstance | None = None,
    progress: ProgressView | None = None,
) -> TriggerResult:
    """Run the sync job for one sync and wait for it; the instance is `$DAGSTER_HOME`'s unless given.
    `approve`: apply only the plan with this hash (shown by a recent dry run). `even_if_paused`: run a
    paused sync. `progress` is told about each step as the run's events arrive."""
    if approve is not None and (dry_run or not approve.strip()):
        raise MarketingPipelineError(
            "an approved plan is applied, not previewed: give --approve HASH without --dry-run"
            if dry_run
            else "--approve needs the plan hash a dry run showed"
        )
    options = {
        "dry_run": dry_run,
        "force": force,
        "approve": approve.strip() if approve else None,
        "even_if_paused": even_if_paused,
    }
    sync = store.get_sync(sync_ref)
    sync.require_runnable()
    check_environment()
    if instance is not None:
        return _run(store, sync, instance, progress=progress, **options)
    ensure_dagster_home()
    # Entering the instance makes it the current one for loading definitions, and disposes it after.
    with dg.DagsterInstance.get() as owned:
        return _run(store, sync, owned, progress=progress, **options)


def run_tags(dry_run: bool) -> dict[str, str]:
    return {TRIGGER_TAG: "manual", **({DRY_RUN_TAG: "true"} if dry_run else {})}


def _run(
    store: SyncStore,
    sync: Sync,
    instance: dg.DagsterInstance,
    *,
    dry_run: bool,
    force: bool,
    approve: str | None,
    even_if_paused: bool,
    progress: ProgressView | None,
) -> TriggerResult:
    from marketing_pipeline.definitions import defs  # loads the code location

    identity = identity_of(instance)
    warning = deployment_check(store, identity)
    if not dry_run and not even_if_paused and sync_is_paused(instance, sync):
        raise SyncPausedError(
            f"sync {sync.label!r} is paused (MarketingSync.enabled = false): nothing was run. Resume it "
            f"(`marketing-pipeline syncs update {sync.label} --enable`), preview it with --dry-run (which writes "
            "nothing), or run it once anyway with --even-if-paused"
        )
    register_sync_partitions(instance, store)
    job = defs().resolve_job_def("marketing_sync_job")
    run_id = str(uuid.uuid4())
    if progress is not None:
        listen_to_run(instance, run_id, run_listener(progress))
    try:
        result = job.execute_in_process(
            partition_key=sync.key,
            instance=instance,
            run_config=apply_run_config(dry_run, force, approve, even_if_paused),
            tags=run_tags(dry_run),
            run_id=run_id,
            raise_on_error=False,
        )
    except dg.DagsterError as exc:  # configuration refused before the run could start
        raise MarketingPipelineError(f"Dagster could not start the run: {scrub(one_line(str(exc)))}") from None
    run = store.find_run_by_dagster_id(result.run_id)
    error = None
    if not result.success:
        error = (run.error_message if run and run.error_message else None) or _run_error(result) or "run failed"
        error = scrub(one_line(error))
        if run is not None and run.status == "running":
            # In-process runs have no daemon to fire the failure sensor: record the failure here.
            run = ledger_for(store, instance).fail(result.run_id, error)
    alerts = send_alerts(instance, store, result.run_id)
    return TriggerResult(
        dagster_run_id=result.run_id,
        success=result.success,
        run=run,
        error=error,
        alerts=alerts,
        dagster_home=identity.dagster_home,
        warnings=[warning] if warning else [],
    )


def send_alerts(instance: dg.DagsterInstance, store: SyncStore, run_id: str) -> AlertReport:
    """The run's alert, unless a daemon's alert sensors will see the run (they see every run of the instance).
    Alerts never fail the trigger: trouble is reported, not raised."""
    from marketing_pipeline.defs.alerts import build_alerts_resource

    try:
        if alert_sensors_live(instance):
            return AlertReport(note="alerts: left to the daemon's alert sensors")
        resource = build_alerts_resource().process_config_and_initialize()
        dispatcher = resource.dispatcher(instance, store)
        problems = list(dispatcher.channels.problems)
        if not dispatcher.channels.configured:
            return AlertReport(problems=problems)
        return AlertReport(outcomes=dispatcher.evaluate(run_id), problems=problems)
    except Exception as exc:  # the sync has run; a broken alert path must not hide its result
        message = f"alerts: could not evaluate run {run_id}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        log.warning(message)
        return AlertReport(problems=[message])
