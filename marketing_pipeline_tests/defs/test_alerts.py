"""Alerts end to end: real sync runs through Dagster against the sandboxes, evaluated by the run-status
sensors (the daemon's path) or by `syncs trigger` (the CLI's path, no daemon), delivered to a local webhook
listener and a local SMTP server. One message per change of state, whichever path sees a run first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
import pytest

from marketing_pipeline.alerts import dispatch
from marketing_pipeline.alerts.dispatch import ALERT_TAG
from marketing_pipeline.defs.alerts import build_alerts_resource
from marketing_pipeline.defs.resources import MarketingStoreResource
from marketing_pipeline.launch import trigger as trigger_module
from marketing_pipeline.launch.trigger import trigger_sync
from marketing_pipeline.sandbox.server import Fault
from marketing_pipeline_tests.support import SYNC_KEY
from marketing_pipeline_tests.support.alerts import Mailbox, WebhookListener, evaluate_alert_sensor
from marketing_pipeline_tests.support.pipeline import Pipeline

WEBSERVER = "http://dagster.example.com:3000"


@pytest.fixture
def store_url(sqlite_url: str) -> str:
    """SQLite only: alerts read the store through the same repository calls the PostgreSQL tests cover, and
    running every scenario twice would cost a minute of CI for nothing new."""
    return sqlite_url


@dataclass
class Alerts:
    """Both channels pointed at local listeners, and what each has received."""

    webhook: WebhookListener
    mailbox: Mailbox

    def texts(self) -> list[str]:
        """Each message as the webhook got it, after checking that the email said the same."""
        # (A long subject is folded onto a continuation line; unfolded, it keeps the fold's space.)
        emails = [
            f"{m['Subject'].strip()}\n{m.get_content().replace(chr(13), '').strip()}" for m in self.mailbox.messages
        ]
        assert emails == self.webhook.texts
        return self.webhook.texts

    def subjects(self) -> list[str]:
        return [text.splitlines()[0] for text in self.texts()]


@pytest.fixture
def alerts(
    webhook: WebhookListener, smtp: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch, pipeline: Pipeline
) -> Iterator[Alerts]:
    mailbox, port = smtp
    env = {
        "MARKETING_ALERT_WEBHOOK_URL": webhook.url,
        "MARKETING_ALERT_EMAIL_TO": "ops@example.com",
        "MARKETING_ALERT_EMAIL_FROM": "marketing-pipeline@example.com",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "DAGSTER_WEBSERVER_URL": WEBSERVER,
        # What `syncs trigger` reads to build the job's resources.
        "MARKETING_DATABASE_URL": pipeline.store.url,
        **pipeline.boxes.env(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield Alerts(webhook=webhook, mailbox=mailbox)


def sensor_resources(pipeline: Pipeline, database_url: str | None = None) -> dict[str, Any]:
    return {
        "marketing_store": MarketingStoreResource(database_url=database_url or pipeline.store.url),
        "marketing_alerts": build_alerts_resource(),
    }


def run_and_sense(pipeline: Pipeline, **config: Any) -> dg.ExecuteInProcessResult:
    """A run launched from the UI, a schedule or a backfill, as the daemon's sensor then sees it."""
    result = pipeline.run(**config)
    evaluate_alert_sensor(pipeline.instance, result.run_id, sensor_resources(pipeline))
    return result


def alert_tag(pipeline: Pipeline, run_id: str) -> str | None:
    run = pipeline.instance.get_run_by_id(run_id)
    assert run is not None
    return run.tags.get(ALERT_TAG)


def test_silence_while_a_sync_stays_healthy(pipeline: Pipeline, alerts: Alerts) -> None:
    first = run_and_sense(pipeline)
    second = run_and_sense(pipeline)
    assert first.success and second.success
    assert alerts.texts() == []
    assert alert_tag(pipeline, first.run_id) == alert_tag(pipeline, second.run_id) == "none"


def test_a_failure_alerts_once_and_the_recovery_says_so(pipeline: Pipeline, alerts: Alerts) -> None:
    assert run_and_sense(pipeline).success
    pipeline.boxes.connectwise.faults.inject(401, path="company/companies")
    failed = run_and_sense(pipeline)
    assert not failed.success
    pipeline.boxes.connectwise.faults.inject(401, path="company/companies")
    assert not run_and_sense(pipeline).success  # still failing: nothing new to say
    recovered = run_and_sense(pipeline)
    assert recovered.success

    assert alerts.subjects() == [
        "marketing-pipeline: Managed Client Newsletter: sync failed",
        "marketing-pipeline: Managed Client Newsletter: sync recovered",
    ]
    failure, recovery = alerts.texts()
    row = pipeline.store.get_run(failed.run_id)
    assert 'Marketing sync "Managed Client Newsletter" failed.' in failure
    assert "Error: ConnectWise rejected the credentials (HTTP 401 on /company/companies): check" in failure
    assert f"Run: Dagster run {failed.run_id}, MarketingSyncRun {row.id}" in failure and "by manual" in failure
    assert f"Open the run: {WEBSERVER}/runs/{failed.run_id}" in failure
    assert 'Marketing sync "Managed Client Newsletter" recovered: 83 synced, 0 new, 0 removed.' in recovery
    assert "The previous run had failed: ConnectWise rejected the credentials (HTTP 401" in recovery
    assert alert_tag(pipeline, failed.run_id) == "failed" and alert_tag(pipeline, recovered.run_id) == "recovered"
    secrets = [value for name, value in pipeline.boxes.env().items() if "KEY" in name] + [alerts.webhook.url]
    assert not any(secret in text for secret in secrets for text in alerts.texts())


def test_a_braked_run_says_what_the_brake_saw_and_how_to_force(pipeline: Pipeline, alerts: Alerts) -> None:
    assert run_and_sense(pipeline).success
    pipeline.boxes.connectwise.data["contacts"] = []
    braked = run_and_sense(pipeline)
    assert not braked.success
    dry = run_and_sense(pipeline, dry_run=True)  # a dry run while braked: no message, no change of state
    assert dry.success
    assert run_and_sense(pipeline, force=True).success

    assert alerts.subjects() == [
        "marketing-pipeline: Managed Client Newsletter: sync stopped by the brake",
        "marketing-pipeline: Managed Client Newsletter: sync recovered",
    ]
    brake = alerts.texts()[0]
    assert "The brake saw: sync 'managed-client-newsletter': ConnectWise returned no contacts" in brake
    assert "The plan: 0 contacts from ConnectWise; create 0, update 0, tag 0, untag 83 of the 83 people" in brake
    assert "marketing-pipeline syncs trigger managed-client-newsletter --force" in brake
    assert "The previous run had been stopped by the brake." in alerts.texts()[1]
    assert alert_tag(pipeline, dry.run_id) is None


def test_failed_contacts_alert_and_then_recover(pipeline: Pipeline, alerts: Alerts) -> None:
    rejected = sorted(pipeline.boxes.dataset.manifest.creates)[0]
    pipeline.boxes.encharge.reject_emails.add(rejected)
    partly = run_and_sense(pipeline)
    assert partly.success
    pipeline.boxes.encharge.reject_emails.clear()
    assert run_and_sense(pipeline).success

    assert alerts.subjects() == [
        "marketing-pipeline: Managed Client Newsletter: 1 contact failed",
        "marketing-pipeline: Managed Client Newsletter: sync recovered",
    ]
    failed_contacts, recovery = alerts.texts()
    assert "completed, but 1 contact failed: 82 synced, 11 new, 3 removed, 1 failed." in failed_contacts
    assert f"- create {rejected}: " in failed_contacts.lower() and "Invalid email" in failed_contacts
    assert "The previous run had 1 failed contact." in recovery


def test_a_crashed_run_reaches_the_failure_sensor(pipeline: Pipeline, alerts: Alerts) -> None:
    """A run worker killed mid-run: no step failed; Dagster's run monitoring reports the run failed."""
    assert run_and_sense(pipeline).success
    instance = pipeline.instance
    job = dg.GraphDefinition(name="marketing_sync_job", node_defs=[]).to_job()
    run = instance.create_run_for_job(
        job,
        status=dg.DagsterRunStatus.STARTED,
        tags={"dagster/partition": SYNC_KEY, "marketing/triggered_by": "schedule"},
    )
    pipeline.store.start_run(pipeline.store.get_sync(SYNC_KEY), trigger="schedule", dagster_run_id=run.run_id)
    instance.report_run_failed(run, "the run worker process exited unexpectedly")
    evaluate_alert_sensor(instance, run.run_id, sensor_resources(pipeline))

    [crash] = alerts.texts()
    assert "sync failed" in crash and "Error: the run worker process exited unexpectedly" in crash
    assert "by schedule" in crash


def test_a_retry_that_inherited_the_failure_alert_still_says_it_recovered(pipeline: Pipeline, alerts: Alerts) -> None:
    """Dagster's run retry copies the crashed run's tags into the retry, the alert tag included when the
    failure sensor was first: the retry's own evaluation is not skipped for it."""
    assert run_and_sense(pipeline).success
    instance = pipeline.instance
    job = dg.GraphDefinition(name="marketing_sync_job", node_defs=[]).to_job()
    crashed = instance.create_run_for_job(job, status=dg.DagsterRunStatus.STARTED, tags={"dagster/partition": SYNC_KEY})
    pipeline.store.start_run(pipeline.store.get_sync(SYNC_KEY), trigger="schedule", dagster_run_id=crashed.run_id)
    instance.report_run_failed(crashed, "the run worker process exited unexpectedly")
    evaluate_alert_sensor(instance, crashed.run_id, sensor_resources(pipeline))
    assert alert_tag(pipeline, crashed.run_id) == "failed"
    retry = run_and_sense(
        pipeline,
        tags={"dagster/parent_run_id": crashed.run_id, "dagster/root_run_id": crashed.run_id, ALERT_TAG: "failed"},
    )
    assert retry.success
    assert alerts.subjects() == [
        "marketing-pipeline: Managed Client Newsletter: sync failed",
        "marketing-pipeline: Managed Client Newsletter: sync recovered",
    ]
    assert alert_tag(pipeline, retry.run_id) == "recovered"


def test_alerts_go_out_when_the_store_is_down(pipeline: Pipeline, alerts: Alerts) -> None:
    assert run_and_sense(pipeline).success
    down = "postgresql://nobody@127.0.0.1:1/marketing"
    failed = pipeline.with_resource("marketing_store", MarketingStoreResource(database_url=down)).run()
    assert not failed.success
    evaluate_alert_sensor(pipeline.instance, failed.run_id, sensor_resources(pipeline, down))
    [text] = alerts.texts()
    assert text.startswith("marketing-pipeline: managed-client-newsletter: sync failed")  # no name: the store is down
    assert "cannot use the marketing database postgresql://nobody@127.0.0.1:1/marketing" in text


def test_the_cli_alerts_when_no_daemon_runs_the_sensors(pipeline: Pipeline, alerts: Alerts) -> None:
    def trigger(**options: Any) -> Any:
        return trigger_sync(pipeline.store, SYNC_KEY, instance=pipeline.instance, **options)

    rejected = sorted(pipeline.boxes.dataset.manifest.creates)[0]
    pipeline.boxes.encharge.reject_emails.add(rejected)
    partly = trigger()
    [outcome] = partly.alerts.outcomes
    assert outcome.alert is not None and outcome.alert.kind == "failed_contacts"
    assert [d.ok for d in outcome.deliveries] == [True, True]
    # The daemon's sensor, started later, finds the run already told: still one message.
    evaluate_alert_sensor(pipeline.instance, partly.dagster_run_id, sensor_resources(pipeline))
    assert alerts.subjects() == ["marketing-pipeline: Managed Client Newsletter: 1 contact failed"]

    pipeline.boxes.encharge.reject_emails.clear()
    recovered, healthy = trigger(), trigger()
    assert [o.alert.kind if o.alert else None for o in recovered.alerts.outcomes + healthy.alerts.outcomes] == [
        "recovered",
        None,
    ]
    pipeline.boxes.connectwise.data["contacts"] = []
    braked = trigger()
    pipeline.boxes.connectwise.faults.inject(Fault(status=401), path="company/companies")
    failed_dry_run = trigger(dry_run=True)  # dry runs do not change the state: no message
    assert not braked.success and not failed_dry_run.success and failed_dry_run.alerts.outcomes == []
    assert alerts.subjects()[1:] == [
        "marketing-pipeline: Managed Client Newsletter: sync recovered",
        "marketing-pipeline: Managed Client Newsletter: sync stopped by the brake",
    ]
    dry_run = pipeline.instance.get_run_by_id(failed_dry_run.dagster_run_id)
    assert dry_run is not None and dry_run.tags["marketing/dry_run"] == "true"


def test_the_cli_leaves_runs_to_a_running_daemon(
    pipeline: Pipeline, alerts: Alerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trigger_module, "alert_sensors_live", lambda instance: True)
    pipeline.boxes.connectwise.faults.inject(401, path="company/companies")
    result = trigger_sync(pipeline.store, SYNC_KEY, instance=pipeline.instance)
    assert not result.success and result.alerts.outcomes == []
    assert result.alerts.note == "alerts: left to the daemon's alert sensors"
    assert alerts.texts() == []
    evaluate_alert_sensor(pipeline.instance, result.dagster_run_id, sensor_resources(pipeline))
    evaluate_alert_sensor(
        pipeline.instance, result.dagster_run_id, sensor_resources(pipeline)
    )  # seen twice: one message
    assert alerts.subjects() == ["marketing-pipeline: Managed Client Newsletter: sync failed"]


def test_a_run_nobody_evaluated_is_told_first_in_order(pipeline: Pipeline, alerts: Alerts) -> None:
    assert run_and_sense(pipeline).success
    pipeline.boxes.connectwise.faults.inject(401, path="company/companies")
    unseen = pipeline.run()  # its process died before anyone evaluated it, say
    assert not unseen.success
    later = run_and_sense(pipeline)
    assert later.success
    assert alerts.subjects() == [
        "marketing-pipeline: Managed Client Newsletter: sync failed",
        "marketing-pipeline: Managed Client Newsletter: sync recovered",
    ]
    assert unseen.run_id in alerts.texts()[0] and later.run_id in alerts.texts()[1]


def test_a_run_nobody_evaluated_for_a_day_is_old_news(
    pipeline: Pipeline, alerts: Alerts, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_and_sense(pipeline).success
    pipeline.boxes.connectwise.faults.inject(401, path="company/companies")
    assert not pipeline.run().success  # while alerting was off, say
    monkeypatch.setattr(dispatch, "CATCH_UP_SECONDS", 0)
    assert run_and_sense(pipeline).success
    assert alerts.subjects() == ["marketing-pipeline: Managed Client Newsletter: sync recovered"]


def test_history_from_before_alerting_is_not_replayed(pipeline: Pipeline, alerts: Alerts) -> None:
    pipeline.boxes.connectwise.faults.inject(401, path="company/companies")
    assert not pipeline.run().success  # before alerts were set up: nobody evaluated it
    assert run_and_sense(pipeline).success
    # The sync was failing, so this run is a recovery; the old failure itself is not sent now.
    assert alerts.subjects() == ["marketing-pipeline: Managed Client Newsletter: sync recovered"]


def test_a_failing_channel_never_fails_the_sync(pipeline: Pipeline, alerts: Alerts) -> None:
    alerts.webhook.status = 500
    pipeline.boxes.connectwise.faults.inject(401, path="company/companies")
    result = trigger_sync(pipeline.store, SYNC_KEY, instance=pipeline.instance)
    [outcome] = result.alerts.outcomes
    webhook, email = outcome.deliveries
    assert webhook.error == "webhook at 127.0.0.1: HTTP 500 invalid_token" and email.ok
    assert result.run is not None and result.run.status == "failed"  # the sync's own result, untouched
    assert len(alerts.mailbox.messages) == 1


def test_the_ui_shows_where_alerts_go_but_never_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resource view lists recipients, sender, mail server and login as they are; the webhook URL (it
    carries a token), the SMTP password and the webserver URL (it may carry a password) only by name."""
    environment = {
        "MARKETING_ALERT_WEBHOOK_URL": "https://hooks.example.com/services/T0/B0/token",
        "MARKETING_ALERT_EMAIL_TO": "ops@example.com",
        "MARKETING_ALERT_EMAIL_FROM": "sync@example.com",
        "SMTP_HOST": "mail.example.com",
        "SMTP_PORT": "2525",
        "SMTP_USER": "alerts",
        "SMTP_PASSWORD": "hunter2",
        "DAGSTER_WEBSERVER_URL": "http://admin:pw@dagster.example.com:3000",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    resource = build_alerts_resource()
    by_name = {"webhook_url", "smtp_password", "webserver_url"}
    for field, value in resource.model_dump().items():
        if field in by_name:
            assert isinstance(value, dg.EnvVar) and value in environment, field
        else:
            assert not isinstance(value, dg.EnvVar) and value in environment.values(), field
    assert resource.email_to == "ops@example.com" and resource.smtp_port == "2525"
