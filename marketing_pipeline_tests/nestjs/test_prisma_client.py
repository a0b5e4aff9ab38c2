"""The NestJS app's real Prisma 7 client (generated from the specification's models, verbatim) and the
pipeline on one PostgreSQL database, interleaved: the app creates, pauses and deletes syncs and reads
syncs and runs back while the pipeline runs against the sandboxes; Prisma's schema stays exactly what
`prisma db push` makes, whoever created the tables first."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import requests
from click.testing import CliRunner
from dagster_graphql import DagsterGraphQLClient

from marketing_pipeline.cli import main
from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.defs.schedules import sync_schedules
from marketing_pipeline.defs.sensors import marketing_sync_registry
from marketing_pipeline.defs.sync_partitions import SYNC_PARTITIONS
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.models import SyncRun
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import FIRST_SYNC
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.catalog import apply_prisma_db_push, schema_catalog
from marketing_pipeline_tests.support.dagster_processes import REPO, dagster_home_with_store, webserver_process
from marketing_pipeline_tests.support.pipeline import Pipeline
from marketing_pipeline_tests.support.prisma import PrismaApp, PrismaCallError

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prisma_client_installed")]

TZ = "Europe/London"
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
# What the app's "new sync" form sends: the specification's fields, no key, no id (Prisma makes the uuid).
APP_SYNC = {
    "name": "Prospects Digest",
    "description": "Written by the NestJS app",
    "sourceType": "connectwise",
    "destType": "encharge",
    "filterConfig": FIRST_SYNC["filter_config"],
    "tagName": "prospects-digest",
    "schedule": "0 7 * * 2",
}
SPEC_STATUS = {"running", "completed", "failed"}
SPEC_TRIGGER = {"manual", "schedule"}
DETAILS_ALWAYS = {"dagsterRunId", "trigger", "dryRun"}


def prisma_time(at: datetime | None) -> str | None:
    """How Prisma returns a `timestamp(3)`: UTC, milliseconds, `Z`."""
    return None if at is None else at.isoformat(timespec="milliseconds") + "Z"


def assert_read_as_recorded(seen: dict[str, Any], ours: SyncRun) -> None:
    """The app reads exactly the row the pipeline wrote, in the specification's words."""
    assert uuid.UUID(seen["id"]) and seen["id"] == ours.id
    assert seen["status"] in SPEC_STATUS and seen["triggeredBy"] in SPEC_TRIGGER
    assert (seen["status"], seen["triggeredBy"]) == (ours.status, ours.triggered_by)
    assert seen["startedAt"] == prisma_time(ours.started_at)
    assert seen["completedAt"] == prisma_time(ours.completed_at)
    assert {k: v for k, v in seen.items() if k.startswith("contacts")} == ours.counts.to_json_dict()
    assert seen["errorMessage"] == ours.error_message
    assert isinstance(seen["details"], dict) and seen["details"] == ours.details
    assert seen["details"].keys() >= DETAILS_ALWAYS and seen["details"]["dagsterRunId"] == ours.dagster_run_id


def registry_tick(store: SyncStore, instance: dg.DagsterInstance) -> list[str]:
    """The partitions the `marketing_sync_registry` sensor adds on its next tick."""
    resources = {"marketing_store": MarketingStoreResource(database_url=store.url)}
    result = marketing_sync_registry(dg.build_sensor_context(instance=instance, resources=resources))
    requests = getattr(result, "dynamic_partitions_requests", None) or []
    keys = [key for request in requests for key in request.partition_keys]
    instance.add_dynamic_partitions(SYNC_PARTITIONS.name, keys)
    return keys


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_the_apps_prisma_client_and_the_pipeline_share_the_tables(
    pipeline: Pipeline, prisma_catalog: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, app = pipeline.store, PrismaApp(pipeline.store.url)

    # The app reads the sync `init` made, and creates one of its own: no key from the app.
    [first] = app.list_syncs()
    assert first["id"] == store.get_sync(SYNC_KEY).id and first["filterConfig"] == FIRST_SYNC["filter_config"]
    created = app.create_sync(**APP_SYNC)
    assert uuid.UUID(created["id"]) and created["enabled"] is True

    # The registry sensor sees it first: a key in our table, a partition, and a schedule like any other.
    assert registry_tick(store, pipeline.instance) == ["prospects-digest"]
    sync = store.get_sync("prospects-digest")
    assert sync.id == created["id"] and sync.problems == []
    schedules, warnings = sync_schedules(store.list_syncs(), TZ)
    assert [s.name for s in schedules] == [
        "marketing_sync_managed_client_newsletter",
        "marketing_sync_prospects_digest",
    ]
    assert warnings == [] and schedules[1].cron_schedule == "0 7 * * 2"

    # The pipeline runs it: a manual run, a dry run, a backfill's run, a schedule's run.
    assert pipeline.run(key="prospects-digest").success
    assert pipeline.run(key="prospects-digest", dry_run=True).success
    assert pipeline.run(key="prospects-digest", tags={"dagster/backfill": "b1"}).success
    assert pipeline.run(
        key="prospects-digest", tags={"dagster/schedule_name": "marketing_sync_prospects_digest"}
    ).success
    ours = store.list_runs(sync)
    assert [(r.triggered_by, r.trigger, r.dry_run) for r in ours] == [
        ("schedule", "schedule", False),
        ("manual", "backfill", False),  # the specification's word; ours keeps the finer one
        ("manual", "manual", True),
        ("manual", "manual", False),
    ]

    # The app reads them back: its run-history list, the sync with its last 10 runs, one run's detail.
    listed = app.list_runs(sync.id)
    assert [r["id"] for r in listed] == [r.id for r in ours]
    for seen, recorded in zip(listed, ours, strict=True):
        assert_read_as_recorded(seen, recorded)
    detail = app.get_run(sync.id, ours[-1].id)
    assert detail["status"] == "completed" and detail["contactsCreated"] == ours[-1].contacts_created > 0
    assert set(detail["details"]) == readme_details_keys()  # the shape the README documents, exactly
    assert re.fullmatch(r"\d+ synced, \d+ new, \d+ removed", detail["details"]["summary"])
    assert [r["id"] for r in app.get_sync(sync.id)["runs"]] == [r.id for r in ours]

    # A run in progress and one that failed, as the app sees them.
    running = store.start_run(sync, trigger="manual", dagster_run_id="in-progress")
    seen = app.get_run(sync.id, running.id)
    assert (seen["status"], seen["completedAt"], seen["details"]["trigger"]) == ("running", None, "manual")
    failed = store.fail_running_run("in-progress", "Encharge answered 503 three times")
    assert_read_as_recorded(app.get_run(sync.id, running.id), failed)
    assert app.get_run(sync.id, running.id)["errorMessage"] == "Encharge answered 503 three times"

    # The app pauses the sync: `syncs show` says so, and its schedule is built stopped.
    paused = app.update_sync(sync.id, enabled=False)
    assert paused["updatedAt"] > created["updatedAt"]
    monkeypatch.setenv("MARKETING_DATABASE_URL", store.url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    shown = CliRunner().invoke(main, ["syncs", "show", "prospects-digest"])
    assert shown.exit_code == 0 and "Prospects Digest  [Paused]" in shown.output, shown.output
    stopped = {s.name: s.default_status for s in sync_schedules(store.list_syncs(), TZ)[0]}
    assert stopped["marketing_sync_prospects_digest"] == dg.DefaultScheduleStatus.STOPPED

    # The app deletes a sync that never ran, after the pipeline keyed it: nothing of ours stops it.
    short_lived = app.create_sync(**{**APP_SYNC, "name": "Short Lived", "tagName": "short-lived"})
    assert "short-lived" in store.sync_keys()
    assert app.delete_sync(short_lived["id"])["id"] == short_lived["id"]
    assert [s["id"] for s in app.list_syncs()] == [first["id"], sync.id]
    assert "short-lived" not in store.sync_keys()
    # A sync with runs is refused by the app's own relation (ON DELETE RESTRICT); ours are untouched.
    with pytest.raises(PrismaCallError, match=r"(?i)foreign key"):
        app.delete_sync(sync.id)
    assert store.get_sync("prospects-digest").id == sync.id and store.count_runs(sync) == 5

    # The app's shell-out "Sync Now": the CLI by the app's own id, beside the other sync, from the deployment's
    # Dagster instance (the one whose registry sensor ticked above: another would be refused).
    for name, value in pipeline.boxes.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", pipeline.instance.root_directory)
    triggered = CliRunner().invoke(main, ["syncs", "trigger", first["id"], "--json"])
    assert triggered.exit_code == 0, triggered.output
    [latest, *_] = app.list_runs(first["id"])
    assert latest["id"] == json.loads(triggered.output)["run"]["id"] and latest["status"] == "completed"

    # After all of this, Prisma's schema is still exactly Prisma's.
    assert schema_catalog(store.url) == prisma_catalog


def readme_for_the_nestjs_team() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Sharing the database with the NestJS app\n(.*?)(?=^## )", readme, flags=re.M | re.S)
    assert section, "the README has no section for the NestJS team"
    return section.group(1)


def readme_sync_now() -> str:
    """The GraphQL mutation the README gives the NestJS team for "Sync Now", as written there."""
    block = re.search(r"```graphql\n(.*?)```", readme_for_the_nestjs_team(), flags=re.S)
    assert block, "the README's section for the NestJS team shows no GraphQL"
    return block.group(1)


def readme_details_keys() -> set[str]:
    """The keys of `details` the README documents for a completed run (its table's first column)."""
    table = readme_for_the_nestjs_team().split("`details` is always a JSON object:")[1].split("\n\n")[1]
    return {key for line in table.splitlines()[2:] for key in re.findall(r"`(\w+)`", line.split(" | ")[0])}


def test_on_tables_prisma_made_first_the_app_launches_its_sync_as_the_readme_shows(
    pg_url: str, sandboxes: Sandboxes, tmp_path: Path, prisma_catalog: dict
) -> None:
    """The NestJS app was there first (`prisma db push`) and had written a sync; then `init`. The app reads
    the sync's key from our schema and launches it through Dagster's GraphQL, exactly as the README says."""
    apply_prisma_db_push(pg_url)
    app = PrismaApp(pg_url)
    created = app.create_sync(**{**APP_SYNC, "name": "Managed Client Newsletter (app)"})
    home, store = dagster_home_with_store(tmp_path, pg_url)  # `init`, and the syncs' partitions
    assert schema_catalog(pg_url) == prisma_catalog
    key = app.sync_key(created["id"])
    assert key == "managed-client-newsletter-app" == store.get_sync(created["id"]).key

    env = {**os.environ, **sandboxes.env(), "DAGSTER_HOME": str(home), "MARKETING_DATABASE_URL": pg_url}
    with webserver_process(env) as port:
        answer = requests.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": readme_sync_now(), "variables": {"key": key}},
            timeout=60,
        ).json()
        launched = answer["data"]["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", answer
        run_id = launched["run"]["runId"]
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        deadline = time.monotonic() + 180
        while (status := client.get_run_status(run_id)) not in FINISHED and time.monotonic() < deadline:
            time.sleep(1)
    assert status == dg.DagsterRunStatus.SUCCESS

    [seen] = app.list_runs(created["id"])
    assert_read_as_recorded(seen, store.get_run(run_id))
    assert (seen["status"], seen["triggeredBy"], seen["details"]["dagsterRunId"]) == ("completed", "manual", run_id)
    assert seen["contactsCreated"] > 0
    assert {s["name"] for s in app.list_syncs()} == {"Managed Client Newsletter (app)", "Managed Client Newsletter"}
    assert schema_catalog(pg_url) == prisma_catalog
