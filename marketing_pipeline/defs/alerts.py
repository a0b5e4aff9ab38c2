"""Alerts in Dagster: the channels as a resource, and the run-status sensors that evaluate every finished sync
run (UI, schedule, backfill and CLI runs alike; crashed runs reach the failure sensor once Dagster's run
monitoring, or the next run of the sync, marks them failed). The rule and the channels live in `alerts/`.

They are run-status sensors rather than `make_email_on_run_failure_sensor` or the Slack/Teams failure sensors
because the rule needs successful runs too (failed contacts, recoveries) and sends on a change of state,
not on every failure (see `alerts/channels.py`); and rather than success/failure hooks because hooks run per
step inside the run worker, so they never see a run as a whole, nor a crashed one.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from marketing_pipeline import settings
from marketing_pipeline.alerts.channels import AlertChannels, AlertSettings, build_channels
from marketing_pipeline.alerts.dispatch import ALERT_ON_FAILURE, ALERT_ON_SUCCESS, AlertDispatcher
from marketing_pipeline.defs.resources import MarketingStoreResource, from_env
from marketing_pipeline.settings import field
from marketing_pipeline.store.repository import SyncStore


class MarketingAlertsResource(dg.ConfigurableResource):
    """Where alerts go. The webhook URL and the SMTP password come through `EnvVar`, so the UI never shows
    them; every channel is off unless configured."""

    webhook_url: str = field(settings.MARKETING_ALERT_WEBHOOK_URL)
    email_to: str = field(settings.MARKETING_ALERT_EMAIL_TO)
    email_from: str = field(settings.MARKETING_ALERT_EMAIL_FROM)
    smtp_host: str = field(settings.SMTP_HOST)
    smtp_port: str = field(settings.SMTP_PORT)
    smtp_user: str = field(settings.SMTP_USER)
    smtp_password: str = field(settings.SMTP_PASSWORD)
    webserver_url: str = field(settings.DAGSTER_WEBSERVER_URL)

    def alert_settings(self) -> AlertSettings:
        return AlertSettings(
            webhook_url=self.webhook_url,
            email_to=self.email_to,
            email_from=self.email_from,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            smtp_user=self.smtp_user,
            smtp_password=self.smtp_password,
        )

    def channels(self) -> AlertChannels:
        return build_channels(self.alert_settings())

    def dispatcher(
        self, instance: dg.DagsterInstance, store: SyncStore, on_log: Callable[[str], None] | None = None
    ) -> AlertDispatcher:
        return AlertDispatcher(
            instance,
            store,
            self.channels(),
            webserver_url=self.webserver_url,
            secrets=self.alert_settings().secrets(),
            on_log=on_log,
        )


def build_alerts_resource() -> MarketingAlertsResource:
    # Where alerts go is shown in the UI's resource view as it is (recipients, sender, mail server, login);
    # the webhook URL and the password (secrets) and the webserver URL (it may carry a password) are EnvVar.
    shown = settings.value_or_default
    return MarketingAlertsResource(
        webhook_url=from_env(settings.MARKETING_ALERT_WEBHOOK_URL),
        email_to=shown(settings.MARKETING_ALERT_EMAIL_TO),
        email_from=shown(settings.MARKETING_ALERT_EMAIL_FROM),
        smtp_host=shown(settings.SMTP_HOST),
        smtp_port=shown(settings.SMTP_PORT),
        smtp_user=shown(settings.SMTP_USER),
        smtp_password=from_env(settings.SMTP_PASSWORD),
        webserver_url=from_env(settings.DAGSTER_WEBSERVER_URL),
    )


def _evaluate(
    context: dg.RunStatusSensorContext,
    marketing_store: MarketingStoreResource,
    marketing_alerts: MarketingAlertsResource,
) -> None:
    # Returning nothing lets one tick work through every finished run since the cursor (a SkipReason would end
    # the tick after the first).
    dispatcher = marketing_alerts.dispatcher(context.instance, marketing_store.store(), on_log=context.log.info)
    for problem in dispatcher.channels.problems:
        context.log.warning(problem)
    if not dispatcher.channels.configured:
        return
    for outcome in dispatcher.evaluate(context.dagster_run.run_id):
        for delivery in outcome.deliveries:
            if not delivery.ok:
                context.log.error(f"alert not delivered: {delivery.error}")


@dg.run_status_sensor(
    name=ALERT_ON_SUCCESS,
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitor_all_code_locations=True,  # the CLI's in-process runs have no code location; filtered by tags
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts when a sync run completes with failed contacts, or completes after a failed, braked or "
    "failing-contacts run (a recovery). Silent while a sync stays healthy.",
)
def marketing_sync_alerts_on_success(
    context: dg.RunStatusSensorContext,
    marketing_store: MarketingStoreResource,
    marketing_alerts: MarketingAlertsResource,
) -> None:
    _evaluate(context, marketing_store, marketing_alerts)


@dg.run_failure_sensor(
    name=ALERT_ON_FAILURE,
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts when a sync run fails, crashes or is stopped by the brake, once per change of state.",
)
def marketing_sync_alerts_on_failure(
    context: dg.RunFailureSensorContext,
    marketing_store: MarketingStoreResource,
    marketing_alerts: MarketingAlertsResource,
) -> None:
    _evaluate(context, marketing_store, marketing_alerts)


@dg.definitions
def alerts() -> dg.Definitions:
    # Resources are only registered through Definitions (and then the module's sensors must be listed too).
    return dg.Definitions(
        sensors=[marketing_sync_alerts_on_success, marketing_sync_alerts_on_failure],
        resources={"marketing_alerts": build_alerts_resource()},
    )
