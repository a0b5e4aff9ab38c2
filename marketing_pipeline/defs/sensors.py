"""Sensors: keep the sync partitions in step with the MarketingSync table (and note, for the CLI, which
Dagster instance the daemon runs), and make sure no MarketingSyncRun row stays `running` after its Dagster
run failed or was cancelled."""

import dagster as dg

from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.defs.sync_partitions import SYNC_PARTITIONS
from marketing_pipeline.defs.sync_step import ledger_for
from marketing_pipeline.errors import MarketingPipelineError, one_line
from marketing_pipeline.launch.instance_identity import record_daemon
from marketing_pipeline.transport.redact import scrub


@dg.sensor(
    name="marketing_sync_registry",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition for every MarketingSync row (new rows need no code change), reports "
    "syncs whose configuration is invalid, and notes in the marketing store which Dagster instance the daemon "
    "runs (the CLI refuses another).",
)
def marketing_sync_registry(context: dg.SensorEvaluationContext, marketing_store: MarketingStoreResource):
    store = marketing_store.store()
    try:
        record_daemon(context.instance, store)
    except Exception as exc:  # partitions matter more than this note; it is tried again next minute
        context.log.warning(f"could not note the daemon's Dagster instance: {scrub(one_line(str(exc)))}")
    try:
        known = set(context.instance.get_dynamic_partitions(SYNC_PARTITIONS.name))
        keys = sorted(set(store.sync_keys()) - known)
        problems = [problem for sync in store.list_syncs() for problem in sync.problems]
    except MarketingPipelineError as exc:
        return dg.SkipReason(str(exc))
    for problem in problems:
        context.log.warning(problem)
    if keys:
        context.log.info(f"adding sync partitions: {', '.join(keys)}")
        return dg.SensorResult(dynamic_partitions_requests=[SYNC_PARTITIONS.build_add_request(keys)])
    return dg.SkipReason("; ".join(problems) if problems else "every sync has its partition")


def mark_row_failed(context: dg.RunStatusSensorContext, store_resource: MarketingStoreResource, why: str) -> str:
    run = context.dagster_run
    row = ledger_for(store_resource.store(), context.instance).fail(run.run_id, why)
    if row is None:
        return f"run {run.run_id} has no MarketingSyncRun row"
    return f"MarketingSyncRun {row.id} is {row.status}"


@dg.run_failure_sensor(
    name="mark_failed_sync_runs",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks the MarketingSyncRun row of a failed Dagster run as failed, with the error.",
)
def mark_failed_sync_runs(context: dg.RunFailureSensorContext, marketing_store: MarketingStoreResource):
    message = (context.failure_event.message or "").strip() or "the Dagster run failed"
    context.log.info(mark_row_failed(context, marketing_store, f"Dagster run failed: {message}"))


@dg.run_status_sensor(
    name="mark_canceled_sync_runs",
    run_status=dg.DagsterRunStatus.CANCELED,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Marks the MarketingSyncRun row of a cancelled Dagster run as failed.",
)
def mark_canceled_sync_runs(context: dg.RunStatusSensorContext, marketing_store: MarketingStoreResource):
    context.log.info(mark_row_failed(context, marketing_store, "the Dagster run was cancelled"))
