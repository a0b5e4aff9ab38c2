"""Every run of a sync tells Dagster's run retry to re-execute all steps (`dagster/retry_strategy:
ALL_STEPS`): runs of the sync job from the job's own tags, a launch of the assets (Materialize in the UI, a
backfill) from its first step. The crash-and-retry itself is `reliability/test_run_retry.py`."""

from __future__ import annotations

from marketing_pipeline.defs.jobs import marketing_sync_job
from marketing_pipeline.defs.sync_step import RETRY_ALL_STEPS, RETRY_STRATEGY_TAG
from marketing_pipeline_tests.support.pipeline import Pipeline


def test_the_sync_job_carries_the_all_steps_retry_strategy() -> None:
    assert marketing_sync_job.tags[RETRY_STRATEGY_TAG] == RETRY_ALL_STEPS


def test_a_launch_of_the_assets_gets_it_from_its_first_step(pipeline: Pipeline) -> None:
    result = pipeline.run(dry_run=True)
    assert result.success
    run = pipeline.instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags[RETRY_STRATEGY_TAG] == RETRY_ALL_STEPS
