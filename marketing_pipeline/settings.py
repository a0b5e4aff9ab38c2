"""Where configuration comes from. `Settings` names every environment variable the project reads, once,
with its type, default, bounds and meaning; every default elsewhere (resources, clients, the CLI, alerts)
is taken from it, and the README's configuration table is checked against it.

Secrets (the API keys) are read by Dagster at launch through `EnvVar`, so the UI never shows them, and
checked here (`secret`) wherever they are read: surrounding whitespace is stripped and control characters
are refused, in an error that names the variable and never shows the value. A tuning knob that cannot work
is refused by `load` in one line naming the variable and the rule (a `ConfigurationError`).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from marketing_pipeline.errors import ConfigurationError

# The variables' names, for the code that names one (in a message, an EnvVar); `Settings` below gives each
# its type, default, bounds and meaning.
CW_BASE_URL = "CW_BASE_URL"
CW_SITE = "CW_SITE"
CW_COMPANY_ID = "CW_COMPANY_ID"
CW_PUBLIC_KEY = "CW_PUBLIC_KEY"
CW_PRIVATE_KEY = "CW_PRIVATE_KEY"
CW_CLIENT_ID = "CW_CLIENT_ID"
CW_CONCURRENCY = "CW_CONCURRENCY"
CW_MAX_REQUESTS_PER_SECOND = "CW_MAX_REQUESTS_PER_SECOND"
ENCHARGE_BASE_URL = "ENCHARGE_BASE_URL"
ENCHARGE_REST_API_KEY = "ENCHARGE_REST_API_KEY"
ENCHARGE_MAX_REQUESTS_PER_SECOND = "ENCHARGE_MAX_REQUESTS_PER_SECOND"
ENCHARGE_REQUESTS_PER_SECOND = "ENCHARGE_REQUESTS_PER_SECOND"
ENCHARGE_CONCURRENCY = "ENCHARGE_CONCURRENCY"
ENCHARGE_BATCH_SIZE = "ENCHARGE_BATCH_SIZE"
MARKETING_HTTP_TIMEOUT_SECONDS = "MARKETING_HTTP_TIMEOUT_SECONDS"
MARKETING_HTTP_MAX_ATTEMPTS = "MARKETING_HTTP_MAX_ATTEMPTS"
MARKETING_DATABASE_URL = "MARKETING_DATABASE_URL"
MARKETING_SCHEDULE_TIMEZONE = "MARKETING_SCHEDULE_TIMEZONE"
DAGSTER_HOME = "DAGSTER_HOME"
DAGSTER_POSTGRES_URL = "DAGSTER_POSTGRES_URL"
DAGSTER_WEBSERVER_URL = "DAGSTER_WEBSERVER_URL"
DEBUG = "MARKETING_PIPELINE_DEBUG"
MARKETING_ALERT_WEBHOOK_URL = "MARKETING_ALERT_WEBHOOK_URL"
MARKETING_ALERT_EMAIL_TO = "MARKETING_ALERT_EMAIL_TO"
MARKETING_ALERT_EMAIL_FROM = "MARKETING_ALERT_EMAIL_FROM"
SMTP_HOST = "SMTP_HOST"
SMTP_PORT = "SMTP_PORT"
SMTP_USER = "SMTP_USER"
SMTP_PASSWORD = "SMTP_PASSWORD"


def _whole(raw: Any) -> Any:
    """A count given as "50.0" is 50; anything else is left for the type check to refuse."""
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return raw
    return int(number) if math.isfinite(number) and number.is_integer() else raw


Whole = Annotated[int, BeforeValidator(_whole)]


Number = Annotated[float, Field(allow_inf_nan=False)]


def _var(name: str, default: Any, meaning: str, *, kind: str = "", required: bool = False, **bounds: Any) -> Any:
    """A variable of `Settings`. `kind`: "secret" (read by Dagster through EnvVar, never shown), "identifier"
    (never shown, not a secret), "credential_url" (a URL whose password is never shown) or "" (a value that
    may show in the UI and in messages). `required`: a sync cannot run without it."""
    extra = {"kind": kind, "required": required}
    return Field(default, alias=name, description=meaning, json_schema_extra=extra, **bounds)


class Settings(BaseSettings):
    """Every environment variable the project reads. Unset or blank means the default."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True)

    # ConnectWise
    cw_base_url: str | None = _var(CW_BASE_URL, None, "REST base (host, codebase, /apis/3.0/); unset: from CW_SITE")
    cw_site: str = _var(CW_SITE, "api-eu.myconnectwise.net", "the host whose companyinfo names the codebase")
    cw_company_id: str = _var(CW_COMPANY_ID, "computereyez", "the ConnectWise login company")
    cw_public_key: str | None = _var(CW_PUBLIC_KEY, None, "API member public key", kind="secret", required=True)
    cw_private_key: str | None = _var(CW_PRIVATE_KEY, None, "API member private key", kind="secret", required=True)
    cw_client_id: str | None = _var(
        CW_CLIENT_ID, None, "the integration's clientId GUID", kind="identifier", required=True
    )
    cw_concurrency: Whole = _var(CW_CONCURRENCY, 4, "ConnectWise contact requests in flight", ge=1, le=64)
    # ConnectWise documents about 1,000 requests a minute.
    cw_max_requests_per_second: Number = _var(
        CW_MAX_REQUESTS_PER_SECOND, 16.0, "ceiling of the learned ConnectWise rate; 0 = no limit", ge=0
    )
    # Encharge
    encharge_base_url: str = _var(ENCHARGE_BASE_URL, "https://api.encharge.io/v1/", "Encharge REST base")
    encharge_rest_api_key: str | None = _var(
        ENCHARGE_REST_API_KEY, None, "sent as X-Encharge-Token", kind="secret", required=True
    )
    # Encharge publishes no limit, so its ceiling only stops a runaway (the rate is learned below it).
    encharge_max_requests_per_second: Number = _var(
        ENCHARGE_MAX_REQUESTS_PER_SECOND, 200.0, "ceiling of the learned Encharge rate; 0 = no limit", ge=0
    )
    # The fixed rate before rates were learned: still honoured, as the ceiling, where it is set and the new
    # variable is not (a deployment that capped Encharge on purpose must not find the cap gone).
    encharge_requests_per_second: Number | None = _var(
        ENCHARGE_REQUESTS_PER_SECOND, None, "the old fixed Encharge rate, now a ceiling", ge=0
    )
    encharge_concurrency: Whole = _var(ENCHARGE_CONCURRENCY, 4, "Encharge requests in flight", ge=1, le=64)
    encharge_batch_size: Whole = _var(ENCHARGE_BATCH_SIZE, 100, "people per POST /people", ge=1, le=1000)
    # Both APIs
    timeout_seconds: Number = _var(MARKETING_HTTP_TIMEOUT_SECONDS, 30.0, "timeout of every HTTP call", gt=0)
    max_attempts: Whole = _var(MARKETING_HTTP_MAX_ATTEMPTS, 6, "attempts per HTTP call", ge=1, le=100)
    # The marketing store, schedules, Dagster
    marketing_database_url: str | None = _var(
        MARKETING_DATABASE_URL, None, "the MarketingSync tables; unset: SQLite in DAGSTER_HOME", kind="credential_url"
    )
    schedule_timezone: str = _var(MARKETING_SCHEDULE_TIMEZONE, "Europe/London", "the schedules' time zone")
    dagster_home: str = _var(DAGSTER_HOME, ".dagster_home", "Dagster's instance folder (relative: to the cwd)")
    dagster_postgres_url: str | None = _var(
        DAGSTER_POSTGRES_URL, None, "Dagster's own storage (read by dagster.yaml)", kind="credential_url"
    )
    dagster_webserver_url: str | None = _var(
        DAGSTER_WEBSERVER_URL, None, "the running webserver (reloads, alert links)", kind="credential_url"
    )
    # The CLI
    debug: str | None = _var(DEBUG, None, "1: an unexpected CLI error shows its traceback")
    # Alerts (each channel is off unless configured)
    alert_webhook_url: str | None = _var(
        MARKETING_ALERT_WEBHOOK_URL, None, "Slack or Teams incoming webhook (its URL carries a token)", kind="secret"
    )
    alert_email_to: str | None = _var(MARKETING_ALERT_EMAIL_TO, None, "alert recipients, comma-separated")
    alert_email_from: str | None = _var(MARKETING_ALERT_EMAIL_FROM, None, "the alerts' sender")
    smtp_host: str | None = _var(SMTP_HOST, None, "the alerts' mail server")
    # As given: a bad port turns email off with a reason (alerts/channels.py), never breaks loading.
    smtp_port: str = _var(SMTP_PORT, "587", "the mail server's port (STARTTLS when offered)")
    smtp_user: str | None = _var(SMTP_USER, None, "optional SMTP login")
    smtp_password: str | None = _var(SMTP_PASSWORD, None, "optional SMTP password", kind="secret")

    @property
    def encharge_ceiling(self) -> float:
        """ENCHARGE_MAX_REQUESTS_PER_SECOND, else the old ENCHARGE_REQUESTS_PER_SECOND, else the default."""
        old = self.encharge_requests_per_second
        if "encharge_max_requests_per_second" in self.model_fields_set or old is None:
            return self.encharge_max_requests_per_second
        return old

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], *args: PydanticBaseSettingsSource, **kwargs: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (_StrippedEnvironment(settings_cls),)  # the environment only: no .env file, no init arguments


class _StrippedEnvironment(EnvSettingsSource):
    """The environment, each value stripped; a blank one counts as unset (its default applies)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raw, key, complex_ = super().get_field_value(field, field_name)
        return (raw.strip() or None if isinstance(raw, str) else raw), key, complex_


DEFAULTS = Settings.model_construct()  # the defaults alone, whatever the environment holds
FIELDS = {info.alias: (name, info) for name, info in Settings.model_fields.items()}
VARIABLES = tuple(FIELDS)  # every variable's name, in the model's order


def _where(key: str, *wanted: Any) -> tuple[str, ...]:
    return tuple(name for name, (_, info) in FIELDS.items() if dict(info.json_schema_extra or {})[key] in wanted)


REQUIRED = _where("required", True)
SECRETS = _where("kind", "secret")
CREDENTIAL_URLS = _where("kind", "credential_url")
SENSITIVE = (*SECRETS, *_where("kind", "identifier"), *CREDENTIAL_URLS)  # never shown
ALERTS = tuple(name for name, (field, _) in FIELDS.items() if field.startswith(("alert_", "smtp_")))


def load() -> Settings:
    """The settings from the environment; a value that cannot work is one line naming the variable and the
    rule it breaks."""
    try:
        return Settings()
    except ValidationError as exc:
        name = str(exc.errors()[0]["loc"][0])
        raise ConfigurationError(_explain(name, value(name) or "")) from None


def _explain(name: str, raw: str) -> str:
    field = FIELDS[name][1]
    bounds = {type(rule).__name__: getattr(rule, type(rule).__name__.lower(), None) for rule in field.metadata}
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        return f"{name} must be a number, not {raw[:40]!r}"
    if "Le" in bounds:
        return f"{name} must be a whole number from {bounds['Ge']} to {bounds['Le']}, not {raw!r}"
    bound = f"above {bounds['Gt']:g}" if "Gt" in bounds else f"at least {bounds['Ge']:g}"
    return f"{name} must be {bound}, not {number:g}"


def about(name: str) -> str:
    """The variable's name and meaning, for a resource field's description in the Dagster UI."""
    return f"{name}: {FIELDS[name][1].description}"


def field(name: str) -> Any:
    """A resource's field for the variable: its default ("" for none) and meaning, as `Settings` has them."""
    given = default(name)
    return Field(default="" if given is None else given, description=about(name))


def default(name: str) -> Any:
    """The variable's default, as `Settings` declares it."""
    return FIELDS[name][1].default


def value(name: str) -> str | None:
    """The variable, stripped, or None when unset or blank (secrets and URLs are checked where they are used)."""
    raw = os.environ.get(name, "").strip()
    return raw or None


def value_or_default(name: str) -> str:
    """A text variable, or its default from `Settings` ("" when it has none)."""
    return value(name) or str(default(name) or "")


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
    return Path(home) if home else Path.cwd() / DEFAULTS.dagster_home


def database_url() -> str:
    """The marketing store: `$MARKETING_DATABASE_URL`, else an SQLite file beside Dagster's own storage."""
    return value(MARKETING_DATABASE_URL) or f"sqlite:///{dagster_home() / 'marketing.db'}"


def schedule_timezone() -> str:
    return value_or_default(MARKETING_SCHEDULE_TIMEZONE)
