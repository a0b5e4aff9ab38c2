"""Where configuration comes from. Every environment variable the project reads is named, and read, here.

Secrets (the API keys) are read by Dagster at launch through `EnvVar`, so the UI never shows them, and
checked here (`secret`) wherever they are read: surrounding whitespace is stripped and control characters
are refused, in an error that names the variable and never shows the value. Everything else is read with
the helpers below; a value that cannot work is a `ConfigurationError` naming the variable.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from marketing_pipeline.errors import ConfigurationError

# ConnectWise
CW_BASE_URL = "CW_BASE_URL"  # unset: the codebase is found through CW_SITE's companyinfo
CW_SITE = "CW_SITE"
CW_COMPANY_ID = "CW_COMPANY_ID"
CW_PUBLIC_KEY = "CW_PUBLIC_KEY"  # secret
CW_PRIVATE_KEY = "CW_PRIVATE_KEY"  # secret
CW_CLIENT_ID = "CW_CLIENT_ID"
CW_CONCURRENCY = "CW_CONCURRENCY"
CW_MAX_REQUESTS_PER_SECOND = "CW_MAX_REQUESTS_PER_SECOND"
# Encharge
ENCHARGE_BASE_URL = "ENCHARGE_BASE_URL"
ENCHARGE_REST_API_KEY = "ENCHARGE_REST_API_KEY"  # secret
ENCHARGE_MAX_REQUESTS_PER_SECOND = "ENCHARGE_MAX_REQUESTS_PER_SECOND"
# The fixed rate before rates were learned: still honoured, as the ceiling, where it is set and the new
# variable is not (a deployment that capped Encharge on purpose must not find the cap gone).
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
# Never shown either: the integration's clientId, and the URLs whose passwords are credentials.
CREDENTIAL_URLS = (MARKETING_DATABASE_URL, DAGSTER_POSTGRES_URL, DAGSTER_WEBSERVER_URL)
SENSITIVE = (*SECRETS, CW_CLIENT_ID, *CREDENTIAL_URLS)

DEFAULT_CW_SITE = "api-eu.myconnectwise.net"
DEFAULT_CW_COMPANY_ID = "computereyez"
DEFAULT_ENCHARGE_BASE_URL = "https://api.encharge.io/v1/"
DEFAULT_SCHEDULE_TIMEZONE = "Europe/London"
DEFAULT_DAGSTER_HOME = ".dagster_home"
DEFAULT_SMTP_PORT = 587
# The ceilings of the learned request rates: ConnectWise documents about 1,000 requests a minute; Encharge
# publishes no limit, so its ceiling only stops a runaway (the rate is learned below it).
DEFAULT_CW_MAX_REQUESTS_PER_SECOND = 16.0
DEFAULT_ENCHARGE_MAX_REQUESTS_PER_SECOND = 200.0


def value(name: str) -> str | None:
    """The variable, stripped, or None when unset or blank."""
    raw = os.environ.get(name, "").strip()
    return raw or None


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def secret(name: str, raw: str | None) -> str:
    """A secret (or any value sent in a header) as it may be used: surrounding whitespace stripped; empty,
    or holding a control character, is refused, naming the variable and never showing the value."""
    cleaned = (raw or "").strip()
    if not cleaned:
        raise ConfigurationError(f"{name} is not set (or is blank): set it to the value the API gave you")
    if _CONTROL.search(cleaned):
        raise ConfigurationError(
            f"{name} contains a control character (a line break or tab pasted inside it, say): set it again, "
            "as one line"
        )
    if not cleaned.isascii():
        raise ConfigurationError(f"{name} contains a character that is not plain ASCII: set it again")
    return cleaned


def http_url(name: str, raw: str | None) -> str:
    """An API base URL as it may be used: http(s), a host, a numeric port; refused by name otherwise (the
    value is not shown: it may carry credentials)."""
    url = (raw or "").strip()
    match = re.fullmatch(r"(?i)(https?)://([^/?#\s]+)(/[^\s]*)?", url)
    if not url or _CONTROL.search(url) or not match:
        raise ConfigurationError(f"{name} must be an http:// or https:// URL with a host, on one line")
    host = match.group(2).rsplit("@", 1)[-1]
    port = re.fullmatch(r"(\[[^\]]*\]|[^:]*)(?::(.*))?", host)
    if port is None or not port.group(1):
        raise ConfigurationError(f"{name} has no host")
    if port.group(2) is not None and not (port.group(2).isdigit() and 0 < int(port.group(2)) < 65536):
        raise ConfigurationError(f"{name} has a port that is not a number from 1 to 65535")
    return url


def sensitive_environment() -> dict[str, str]:
    """The sensitive variables that are set, as set (for redaction: never shown)."""
    return {name: os.environ[name] for name in SENSITIVE if os.environ.get(name)}


def _number(name: str, default: float) -> float:
    raw = value(name)
    if raw is None:
        return default
    try:
        parsed = float(raw)
    except ValueError:
        parsed = math.nan
    if not math.isfinite(parsed):
        raise ConfigurationError(f"{name} must be a number, not {raw[:40]!r}")
    return parsed


def number(name: str, default: float, *, minimum: float = 0.0, above_minimum: bool = False) -> float:
    """A tuning knob (not a secret: its value may show in the UI and in messages)."""
    parsed = _number(name, default)
    if parsed < minimum or (above_minimum and parsed == minimum):
        bound = f"above {minimum:g}" if above_minimum else f"at least {minimum:g}"
        raise ConfigurationError(f"{name} must be {bound}, not {parsed:g}")
    return parsed


def whole_number(name: str, default: int, *, minimum: int = 1, maximum: int = 10_000) -> int:
    """A count knob: a whole number from `minimum` to `maximum`."""
    parsed = _number(name, default)
    if not float(parsed).is_integer() or not minimum <= parsed <= maximum:
        raise ConfigurationError(f"{name} must be a whole number from {minimum} to {maximum}, not {value(name)!r}")
    return int(parsed)


def missing_required() -> list[str]:
    return [name for name in REQUIRED if not value(name)]


def require_environment() -> None:
    """Refuse to start a sync that would fail for want of a secret, and say which: one line, the same from
    the CLI and from a run launched in the Dagster UI."""
    missing = missing_required()
    if missing:
        raise ConfigurationError(
            f"set {', '.join(missing)} first (see the README's configuration table; "
            "`marketing-pipeline sandbox --print-env` gives values for the sandbox APIs)"
        )
    for name in REQUIRED:
        secret(name, value(name))  # a pasted line break is refused here, by name


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
    cw_max_requests_per_second: float
    encharge_max_requests_per_second: float


def http_tuning() -> HttpTuning:
    return HttpTuning(
        timeout_seconds=number(MARKETING_HTTP_TIMEOUT_SECONDS, 30, above_minimum=True),
        max_attempts=whole_number(MARKETING_HTTP_MAX_ATTEMPTS, 6, maximum=100),
        cw_concurrency=whole_number(CW_CONCURRENCY, 4, maximum=64),
        encharge_concurrency=whole_number(ENCHARGE_CONCURRENCY, 4, maximum=64),
        encharge_batch_size=whole_number(ENCHARGE_BATCH_SIZE, 100, maximum=1000),
        cw_max_requests_per_second=number(CW_MAX_REQUESTS_PER_SECOND, DEFAULT_CW_MAX_REQUESTS_PER_SECOND),
        encharge_max_requests_per_second=number(
            ENCHARGE_MAX_REQUESTS_PER_SECOND
            if value(ENCHARGE_MAX_REQUESTS_PER_SECOND) is not None or value(ENCHARGE_REQUESTS_PER_SECOND) is None
            else ENCHARGE_REQUESTS_PER_SECOND,
            DEFAULT_ENCHARGE_MAX_REQUESTS_PER_SECOND,
        ),
    )
