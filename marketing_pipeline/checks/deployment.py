"""The checks of what runs the syncs (I/O): the marketing database and its migrations, its syncs, Dagster's
instance folder and storage, the daemon's heartbeat, the webserver, and each alert channel. Nothing here
writes a row or a file (Alembic is only asked where the tables stand), except the optional test alert."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from marketing_pipeline import settings
from marketing_pipeline.alerts.channels import AlertSettings, EmailChannel, WebhookChannel, build_channels
from marketing_pipeline.alerts.message import AlertMessage
from marketing_pipeline.checks.apis import SyncFilter, timed
from marketing_pipeline.checks.verdicts import (
    Finding,
    Status,
    daemon_verdict,
    migration_verdict,
    missing_instance_settings,
    skipped,
)
from marketing_pipeline.errors import MarketingPipelineError
from marketing_pipeline.launch.home import instance_settings, storage_postgres_urls
from marketing_pipeline.store.database import connect, describe_error, parse_database_url, safe_url
from marketing_pipeline.store.migrate import MIGRATIONS
from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.store.seed import FIRST_SYNC
from marketing_pipeline.sync.domain import FilterConfig
from marketing_pipeline.sync.schedule import next_tick

# A daemon writes a heartbeat every 30 s; a few missed ones mean it is gone (or this is not its instance).
HEARTBEAT_TOLERANCE_SECONDS = 180.0
SETTING_NAMES = {
    "run_coordinator": "the run queue",
    "concurrency": "one run per sync at a time",
    "run_monitoring": "run monitoring",
    "run_retries": "run retries",
    "retention": "retention",
}


# --- the marketing database ---------------------------------------------------------------------------


def migration_position(url: str) -> tuple[str | None, str, int | None]:
    """(the database's revision or None, this install's head, migrations behind or None if unknown), asked
    of Alembic through the migrations' own environment, so it reads the version table wherever they keep it.
    Writes nothing."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head() or ""
    seen: dict[str, tuple[str, ...]] = {}

    def look(heads: Any, _context: Any) -> list[Any]:
        seen["heads"] = tuple(heads)
        return []  # no migration to run

    with connect(url, begin=False) as conn:
        config.attributes["connection"] = conn
        with EnvironmentContext(config, script, fn=look, dont_mutate=True):
            script.run_env()
    heads = seen.get("heads", ())
    if not heads:
        return None, head, None
    current = heads[0]
    try:
        behind = len(list(script.iterate_revisions(head, current)))
    except CommandError:
        return current, head, None
    return current, head, behind


def _store_findings() -> tuple[list[Finding], list[Sync] | None]:
    url = settings.database_url()
    started = time.perf_counter()
    default = settings.value(settings.MARKETING_DATABASE_URL) is None
    try:
        parse_database_url(url)
        current, head, behind = migration_position(url)
    except MarketingPipelineError as exc:
        finding = Finding("store.database", Status.FIX, str(exc), seconds=time.perf_counter() - started)
        return [finding, skipped("store.syncs", "needs the marketing database")], None
    finding = migration_verdict(safe_url(url), current, head, behind)
    if finding.status is Status.OK and default:
        finding = replace(
            finding,
            status=Status.WARN,
            message=f"{finding.message}; but {settings.MARKETING_DATABASE_URL} is unset, so this is an SQLite file "
            "in DAGSTER_HOME that the NestJS app cannot read: point it at the app's PostgreSQL database",
        )
    findings = [replace(finding, seconds=time.perf_counter() - started)]
    if current is None or behind != 0:
        return [*findings, skipped("store.syncs", "needs the marketing tables at head")], None
    started = time.perf_counter()
    try:
        syncs = SyncStore(url).list_syncs()
    except MarketingPipelineError as exc:
        return [*findings, Finding("store.syncs", Status.FIX, str(exc))], None
    return [*findings, replace(_syncs_finding(syncs), seconds=time.perf_counter() - started)], syncs


def _when(sync: Sync) -> str:
    if not sync.enabled:
        return "Paused"
    if not sync.schedule or sync.problems:
        return "Active, no schedule"
    try:
        moment = next_tick(sync.schedule, settings.schedule_timezone(), datetime.now(timezone.utc))
    except (ValueError, OverflowError):
        return "Active, no valid schedule"
    return f"Active, next {moment.strftime('%Y-%m-%d %H:%M %Z')}"


def _syncs_finding(syncs: Sequence[Sync]) -> Finding:
    details = {"syncs": [{"key": s.key, "enabled": s.enabled, "problems": s.problems} for s in syncs]}
    if not syncs:
        return Finding("store.syncs", Status.WARN, "no syncs yet: `marketing-pipeline init` adds the first", details)
    broken = [s for s in syncs if s.problems]
    if broken:
        return Finding(
            "store.syncs",
            Status.FIX,
            "; ".join(f"{s.label}: {s.problems[0]}" for s in broken),
            details=details,
        )
    listing = ", ".join(f"{s.label} ({_when(s)})" for s in syncs)
    active = any(s.enabled for s in syncs)
    tail = ": an Active sync's schedule writes to Encharge as soon as a daemon runs" if active else ""
    count = f"{len(syncs)} sync{'s' if len(syncs) != 1 else ''}"
    return Finding("store.syncs", Status.OK, f"{count}: {listing}{tail}", details=details)


def first_sync_filter() -> SyncFilter:
    return SyncFilter(
        str(FIRST_SYNC["key"]), FilterConfig.model_validate(FIRST_SYNC["filter_config"]), "as `init` will create it"
    )


def sync_filters(syncs: list[Sync] | None) -> list[SyncFilter]:
    """The syncs whose ids to look up: the store's, or the first sync as `init` will create it."""
    if syncs is None or not syncs:
        return [first_sync_filter()]
    return [SyncFilter(s.label, s.filter_config) for s in syncs if s.filter_config is not None]


def check_store() -> tuple[list[Finding], list[Sync] | None]:
    try:
        return _store_findings()
    except (SQLAlchemyError, CommandError) as exc:
        url = settings.database_url()
        finding = Finding("store.database", Status.FIX, f"cannot read {safe_url(url)}: {describe_error(url, exc)}")
        return [finding, skipped("store.syncs", "needs the marketing database")], None


# --- Dagster ----------------------------------------------------------------------------------------------


def _storage_problem(url: str) -> str | None:
    """Why Dagster's PostgreSQL storage cannot be used as is (None: reachable, with Dagster's tables)."""
    try:
        parse_database_url(url, settings.DAGSTER_POSTGRES_URL)
        engine = create_engine(url, connect_args={"connect_timeout": 5})
    except MarketingPipelineError as exc:
        return str(exc)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
            if not inspect(conn).has_table("runs"):
                return f"{safe_url(url)} has no Dagster tables yet: run `marketing-pipeline init`"
    except SQLAlchemyError as exc:
        return (
            f"cannot reach Dagster's storage database {safe_url(url)} (check {settings.DAGSTER_POSTGRES_URL}): "
            f"{describe_error(url, exc)}"
        )
    finally:
        engine.dispose()
    return None


def _instance_finding() -> tuple[Finding, Path | None]:
    """The instance folder, its dagster.yaml against the settings the package carries, and its storage.
    Returns the folder when the instance can be opened (for the daemon's heartbeat)."""
    home = settings.dagster_home().resolve()
    unset = settings.value(settings.DAGSTER_HOME) is None
    where = f"{home} (DAGSTER_HOME is unset: the current folder's .dagster_home)" if unset else str(home)
    path = home / "dagster.yaml"
    if not path.exists():
        message = f"no dagster.yaml in {where}: run `marketing-pipeline init`"
        return Finding("dagster.instance", Status.FIX, message), None
    try:
        written = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return Finding("dagster.instance", Status.FIX, f"{path} is not valid YAML: {str(exc).splitlines()[0]}"), None
    missing = missing_instance_settings(written, instance_settings())
    details: dict[str, Any] = {"home": str(home), "missingSettings": missing}
    if missing:
        names = ", ".join(SETTING_NAMES.get(name, name) for name in missing)
        return Finding(
            "dagster.instance",
            Status.FIX,
            f"{path} lacks {', '.join(missing)} ({names}): written by hand or by an install without the "
            "package's settings; move it aside and run `marketing-pipeline init`, or copy them from the "
            "repository's dagster.yaml",
            details=details,
        ), None
    postgres = "postgres" in (written.get("storage") or {}) or any(
        "postgres" in str((written.get(name) or {}).get("module", ""))
        for name in ("run_storage", "event_log_storage", "schedule_storage")
    )
    if postgres:
        urls = storage_postgres_urls(home)
        if not urls:
            return Finding(
                "dagster.instance",
                Status.FIX,
                f"{path} keeps Dagster's storage in PostgreSQL from {settings.DAGSTER_POSTGRES_URL}, which is not set",
                details=details,
            ), None
        for url in urls:
            problem = _storage_problem(url)
            if problem:
                return Finding("dagster.instance", Status.FIX, problem, details=details), None
        storage = f"PostgreSQL storage reachable ({', '.join(safe_url(u) for u in urls)})"
    else:
        storage = "SQLite storage in the folder"
    settings_text = ", ".join(SETTING_NAMES.values())
    message = f"{where}: {storage}; every instance setting present ({settings_text})"
    if unset:
        message += "; set DAGSTER_HOME for a deployment"
        return Finding("dagster.instance", Status.WARN, message, details=details), home
    if not postgres:
        message += (
            "; fine on one machine, but a code server, webservers and a daemon in their own processes or hosts "
            f"share PostgreSQL ({settings.DAGSTER_POSTGRES_URL}, then `init` in a fresh DAGSTER_HOME)"
        )
        return Finding("dagster.instance", Status.WARN, message, details=details), home
    return Finding("dagster.instance", Status.OK, message, details=details), home


def _daemon_finding(home: Path) -> Finding:
    import dagster as dg

    from marketing_pipeline.launch.dagster_internals import daemon_heartbeat_ages

    with dg.DagsterInstance.from_config(str(home)) as instance:
        ages, required = daemon_heartbeat_ages(instance, time.time())
    return daemon_verdict(ages, required, HEARTBEAT_TOLERANCE_SECONDS)


def check_dagster() -> list[Finding]:
    started = time.perf_counter()
    finding, home = _instance_finding()
    findings = [replace(finding, seconds=time.perf_counter() - started)]
    if home is None:
        return [*findings, skipped("dagster.daemon", "needs a Dagster instance that can be opened")]
    return [*findings, timed(lambda: _daemon_finding(home))]


def _webserver_finding() -> Finding:
    from marketing_pipeline.defs.dagster_names import LOCATION
    from marketing_pipeline.launch.webserver import DagsterWebserver

    url = settings.value(settings.DAGSTER_WEBSERVER_URL)
    if url is None:
        return Finding(
            "dagster.webserver",
            Status.OFF,
            f"{settings.DAGSTER_WEBSERVER_URL} is not set: alerts carry no link to the run, and a changed schedule "
            "reaches the UI with the daemon's own reload (about a minute)",
        )
    try:
        webserver = DagsterWebserver(url, timeout=10)
        schedules = webserver.schedule_crons()
    except MarketingPipelineError as exc:
        return Finding("dagster.webserver", Status.FIX, str(exc))
    return Finding(
        "dagster.webserver",
        Status.OK,
        f"{webserver.shown_url.removesuffix('/graphql')} serves code location {LOCATION} "
        f"({len(schedules)} sync schedule{'s' if len(schedules) != 1 else ''})",
    )


def check_webserver() -> list[Finding]:
    return [timed(_webserver_finding)]


# --- alerts -----------------------------------------------------------------------------------------------

TEST_ALERT = AlertMessage(
    subject="marketing-pipeline: test alert",
    text=(
        "A test message from `marketing-pipeline check --send-test-alert`. Alerts about marketing syncs (a sync "
        "failed, was braked, has failed contacts, or recovered) will arrive here."
    ),
)


def alert_settings() -> AlertSettings:
    return AlertSettings(
        webhook_url=settings.value_or_default(settings.MARKETING_ALERT_WEBHOOK_URL),
        email_to=settings.value_or_default(settings.MARKETING_ALERT_EMAIL_TO),
        email_from=settings.value_or_default(settings.MARKETING_ALERT_EMAIL_FROM),
        smtp_host=settings.value_or_default(settings.SMTP_HOST),
        smtp_port=settings.value_or_default(settings.SMTP_PORT),
        smtp_user=settings.value_or_default(settings.SMTP_USER),
        smtp_password=settings.value_or_default(settings.SMTP_PASSWORD),
    )


def _channel_finding(check: str, channel: Any, problems: list[str], off: str, send_test: bool) -> Finding:
    if channel is None:
        if problems:
            return Finding(check, Status.FIX, "; ".join(problems))
        return Finding(check, Status.OFF, off)
    if isinstance(channel, WebhookChannel):
        described = f"a JSON POST to {channel.url.split('//', 1)[-1].split('/', 1)[0]}"
    else:
        assert isinstance(channel, EmailChannel)
        tls = "TLS" if channel.implicit_tls else "STARTTLS when offered"
        recipients = ", ".join(channel.recipients)
        described = f"to {recipients} via {channel.host}:{channel.port} ({tls}), from {channel.sender}"
    if not send_test:
        return Finding(check, Status.OK, f"configured: {described} (`--send-test-alert` sends a test message)")
    try:
        channel.send(TEST_ALERT)
    except Exception as exc:  # a channel's own errors name it and hide its secrets; anything else, by type
        reason = str(exc) if type(exc).__name__ == "AlertDeliveryError" else f"unexpected {type(exc).__name__}"
        return Finding(check, Status.FIX, f"the test message failed: {reason}")
    return Finding(check, Status.OK, f"test message delivered: {described}")


def check_alerts(send_test: bool) -> list[Finding]:
    config = alert_settings()
    started = time.perf_counter()
    channels = build_channels(config)
    webhook = next((c for c in channels.channels if isinstance(c, WebhookChannel)), None)
    email = next((c for c in channels.channels if isinstance(c, EmailChannel)), None)
    webhook_problems = [p for p in channels.problems if p.startswith("webhook")]
    email_problems = [p for p in channels.problems if p.startswith("email")]
    findings = []
    for check, channel, problems, variable in (
        ("alerts.webhook", webhook, webhook_problems, settings.MARKETING_ALERT_WEBHOOK_URL),
        ("alerts.email", email, email_problems, settings.MARKETING_ALERT_EMAIL_TO),
    ):
        finding = _channel_finding(check, channel, problems, f"off ({variable} is not set)", send_test)
        findings.append(replace(finding, seconds=time.perf_counter() - started))
        started = time.perf_counter()
    return findings
