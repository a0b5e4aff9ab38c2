"""Where configuration comes from. Every environment variable the project reads is named, and read, here.

Secrets (the API keys) are read by Dagster at launch through `EnvVar`, never here, so the UI never shows
them; everything else is read with the helpers below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# ConnectWise
CW_BASE_URL = "CW_BASE_URL"  # unset: the codebase is found through CW_SITE's companyinfo
CW_SITE = "CW_SITE"
CW_COMPANY_ID = "CW_COMPANY_ID"
CW_PUBLIC_KEY = "CW_PUBLIC_KEY"  # secret
CW_PRIVATE_KEY = "CW_PRIVATE_KEY"  # secret
CW_CLIENT_ID = "CW_CLIENT_ID"
CW_CONCURRENCY = "CW_CONCURRENCY"
# Encharge
ENCHARGE_BASE_URL = "ENCHARGE_BASE_URL"
ENCHARGE_REST_API_KEY = "ENCHARGE_REST_API_KEY"  # secret
ENCHARGE_REQUESTS_PER_SECOND = "ENCHARGE_REQUESTS_PER_SECOND"
ENCHARGE_CONCURRENCY = "ENCHARGE_CONCURRENCY"
ENCHARGE_BATCH_SIZE = "ENCHARGE_BATCH_SIZE"
# Both APIs
MARKETING_HTTP_TIMEOUT_SECONDS = "MARKETING_HTTP_TIMEOUT_SECONDS"
MARKETING_HTTP_MAX_ATTEMPTS = "MARKETING_HTTP_MAX_ATTEMPTS"
# The marketing store, schedules, Dagster
MARKETING_DATABASE_URL = "MARKETING_DATABASE_URL"
MARKETING_SCHEDULE_TIMEZONE = "MARKETING_SCHEDULE_TIMEZONE"
DAGSTER_HOME = "DAGSTER_HOME"
DAGSTER_POSTGRES_URL = "DAGSTER_POSTGRES_URL"  # read by dagster.yaml, not by Python
DAGSTER_WEBSERVER_URL = "DAGSTER_WEBSERVER_URL"
# The CLI
DEBUG = "MARKETING_PIPELINE_DEBUG"
# Alerts (each channel is off unless configured)
MARKETING_ALERT_WEBHOOK_URL = "MARKETING_ALERT_WEBHOOK_URL"  # secret: the URL carries the webhook's token
MARKETING_ALERT_EMAIL_TO = "MARKETING_ALERT_EMAIL_TO"
MARKETING_ALERT_EMAIL_FROM = "MARKETING_ALERT_EMAIL_FROM"
SMTP_HOST = "SMTP_HOST"
SMTP_PORT = "SMTP_PORT"
SMTP_USER = "SMTP_USER"
SMTP_PASSWORD = "SMTP_PASSWORD"  # secret

ALERTS = (
    MARKETING_ALERT_WEBHOOK_URL,
    MARKETING_ALERT_EMAIL_TO,
    MARKETING_ALERT_EMAIL_FROM,
    SMTP_HOST,
    SMTP_PORT,
    SMTP_USER,
    SMTP_PASSWORD,
)
SECRETS = (CW_PUBLIC_KEY, CW_PRIVATE_KEY, ENCHARGE_REST_API_KEY, MARKETING_ALERT_WEBHOOK_URL, SMTP_PASSWORD)
REQUIRED = (CW_PUBLIC_KEY, CW_PRIVATE_KEY, CW_CLIENT_ID, ENCHARGE_REST_API_KEY)

DEFAULT_CW_SITE = "api-eu.myconnectwise.net"
DEFAULT_CW_COMPANY_ID = "computereyez"
DEFAULT_ENCHARGE_BASE_URL = "https://api.encharge.io/v1/"
DEFAULT_SCHEDULE_TIMEZONE = "Europe/London"
DEFAULT_DAGSTER_HOME = ".dagster_home"
DEFAULT_SMTP_PORT = 587


def value(name: str) -> str | None:
    """The variable, stripped, or None when unset or blank."""
    raw = os.environ.get(name, "").strip()
    return raw or None


def number(name: str, default: float) -> float:
    """A tuning knob (not a secret: its value may show in the UI and in messages)."""
    raw = value(name)
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


def missing_required() -> list[str]:
    return [name for name in REQUIRED if not os.environ.get(name)]


def secret_values() -> list[str]:
    """The secrets set in this process, only to scrub them from texts (configuration reads them via EnvVar)."""
    return [v for v in (os.environ.get(name, "").strip() for name in SECRETS) if v]


def dagster_home() -> Path:
    """`$DAGSTER_HOME`, or `./.dagster_home` (the demo's default) when it is unset."""
    home = value(DAGSTER_HOME)
    return Path(home) if home else Path.cwd() / DEFAULT_DAGSTER_HOME


def database_url() -> str:
    """The marketing store: `$MARKETING_DATABASE_URL`, else an SQLite file beside Dagster's own storage."""
    return value(MARKETING_DATABASE_URL) or f"sqlite:///{dagster_home() / 'marketing.db'}"


def schedule_timezone() -> str:
    return value(MARKETING_SCHEDULE_TIMEZONE) or DEFAULT_SCHEDULE_TIMEZONE


@dataclass(frozen=True)
class HttpTuning:
    """The clients' throughput and patience knobs, read from the environment."""

    timeout_seconds: float
    max_attempts: int
    cw_concurrency: int
    encharge_concurrency: int
    encharge_batch_size: int
    encharge_requests_per_second: float


def http_tuning() -> HttpTuning:
    return HttpTuning(
        timeout_seconds=number(MARKETING_HTTP_TIMEOUT_SECONDS, 30),
        max_attempts=int(number(MARKETING_HTTP_MAX_ATTEMPTS, 6)),
        cw_concurrency=int(number(CW_CONCURRENCY, 4)),
        encharge_concurrency=int(number(ENCHARGE_CONCURRENCY, 4)),
        encharge_batch_size=int(number(ENCHARGE_BATCH_SIZE, 100)),
        encharge_requests_per_second=number(ENCHARGE_REQUESTS_PER_SECOND, 20),
    )
