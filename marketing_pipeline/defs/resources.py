"""The resources: the ConnectWise and Encharge clients and the marketing store, wired from the environment.

Secrets go through `EnvVar`, read when a run launches, so the UI never shows them.

Where a resource connects, and with which credentials, is fixed where it is defined: each API resource
holds them in a nested resource (its `access`), and Dagster exposes no config of a nested resource to a
run, so a run config that tries to point a resource at another host, or to pick which secret it sends, is
refused by Dagster before the run starts. A run may still set the tuning knobs (timeouts, concurrency,
attempts). The store's URL is refused the same way when the run starts.
"""

from __future__ import annotations

from typing import Any, Literal

import dagster as dg
from pydantic import Field

from marketing_pipeline import settings
from marketing_pipeline.connectwise.client import ConnectWiseClient, Log
from marketing_pipeline.encharge.client import DEFAULT_LOOKUP_BATCH, EnchargeClient
from marketing_pipeline.errors import ConfigurationError
from marketing_pipeline.settings import about, field
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.transport.http import RetrySettings
from marketing_pipeline.transport.rate import LearnedRate, RateControl, rate_control

RateControlKind = Literal["adaptive", "fixed"]
RATE_CONTROL_HELP = (
    "adaptive: learn the server's limit (start at start_requests_per_second or the rate learned by earlier "
    "runs, speed up while it accepts, slow down on 429/503), never above max_requests_per_second; fixed: "
    "max_requests_per_second throughout, halved for 15 s after a throttle (the behaviour before issue 15)"
)


def _positive(resource: str, **values: float) -> None:
    """Tuning knobs may come from a run's config: a value that cannot work is refused by name."""
    for name, given in values.items():
        if not given > 0:
            raise ConfigurationError(f"the {resource} resource's {name} must be above 0, not {given:g}")


def _rate_control(
    resource: str, kind: str, ceiling: float, start: float, learned: LearnedRate | None
) -> RateControl | None:
    if not ceiling >= 0:
        raise ConfigurationError(f"the {resource} resource's max_requests_per_second must be 0 (no limit) or more")
    _positive(resource, start_requests_per_second=start)
    return rate_control(kind, ceiling=ceiling, initial=start, learned=learned)


class ConnectWiseAccess(dg.ConfigurableResource):
    """Where ConnectWise is and who we are to it; fixed where the resource is defined (never run config)."""

    base_url: str = field(settings.CW_BASE_URL)
    site: str = field(settings.CW_SITE)
    company_id: str = field(settings.CW_COMPANY_ID)
    public_key: str = Field(description=about(settings.CW_PUBLIC_KEY))
    private_key: str = Field(description=about(settings.CW_PRIVATE_KEY))
    client_id: str = Field(description=about(settings.CW_CLIENT_ID))


class ConnectWiseResource(dg.ConfigurableResource):
    """ConnectWise PSA REST 3.0. Keys are read through `EnvVar`, so they never show in the Dagster UI.

    `ConnectWiseResource(base_url=..., public_key=..., ...)` puts the endpoint and keys in its `access`."""

    access: ConnectWiseAccess
    timeout_seconds: float = field(settings.MARKETING_HTTP_TIMEOUT_SECONDS)
    page_size: int = 1000
    max_concurrency: int = field(settings.CW_CONCURRENCY)
    max_attempts: int = field(settings.MARKETING_HTTP_MAX_ATTEMPTS)
    max_requests_per_second: float = field(settings.CW_MAX_REQUESTS_PER_SECOND)
    start_requests_per_second: float = Field(default=8.0, description="the first rate when none was learned")
    rate_control: RateControlKind = Field(default="adaptive", description=RATE_CONTROL_HELP)

    def __init__(self, *, access: ConnectWiseAccess | None = None, **values: Any) -> None:
        fields = {name: values.pop(name) for name in list(values) if name in ConnectWiseAccess.model_fields}
        super().__init__(access=access or ConnectWiseAccess(**fields), **values)

    def get_client(self, log: Log | None = None, learned_rate: LearnedRate | None = None) -> ConnectWiseClient:
        """`learned_rate`: what earlier runs learned of ConnectWise's limit (from the marketing store)."""
        _positive("connectwise", timeout_seconds=self.timeout_seconds, max_concurrency=self.max_concurrency)
        _positive("connectwise", max_attempts=self.max_attempts, page_size=self.page_size)
        access = self.access
        if "" in (access.public_key, access.private_key, access.client_id):
            settings.require_environment()  # not configured at all (from_env): the CLI's line, naming what to set
        return ConnectWiseClient(
            # No CW_BASE_URL: the client finds the codebase through CW_SITE's companyinfo.
            base_url=settings.http_url(settings.CW_BASE_URL, access.base_url) if access.base_url.strip() else None,
            site=access.site.strip(),
            log=log,
            company_id=settings.secret(settings.CW_COMPANY_ID, access.company_id),
            public_key=settings.secret(settings.CW_PUBLIC_KEY, access.public_key),
            private_key=settings.secret(settings.CW_PRIVATE_KEY, access.private_key),
            client_id=settings.secret(settings.CW_CLIENT_ID, access.client_id),
            timeout=self.timeout_seconds,
            page_size=self.page_size,
            max_concurrency=self.max_concurrency,
            retry=RetrySettings(max_attempts=self.max_attempts),
            rate_control=_rate_control(
                "connectwise",
                self.rate_control,
                self.max_requests_per_second,
                self.start_requests_per_second,
                learned_rate,
            ),
        )


class EnchargeAccess(dg.ConfigurableResource):
    """Where Encharge is and our key; fixed where the resource is defined (never run config)."""

    base_url: str = field(settings.ENCHARGE_BASE_URL)
    api_key: str = Field(description=about(settings.ENCHARGE_REST_API_KEY))


class EnchargeResource(dg.ConfigurableResource):
    """Encharge REST API. The key is read through `EnvVar`, so it never shows in the Dagster UI.

    Encharge publishes no rate limit, so the client learns it: it starts conservative (or at the rate earlier
    runs learned), speeds up while Encharge accepts and slows down on 429/503, below a ceiling.
    `EnchargeResource(base_url=..., api_key=...)` puts the endpoint and key in its `access`.
    """

    access: EnchargeAccess
    timeout_seconds: float = field(settings.MARKETING_HTTP_TIMEOUT_SECONDS)
    batch_size: int = field(settings.ENCHARGE_BATCH_SIZE)
    lookup_batch_size: int = Field(
        default=DEFAULT_LOOKUP_BATCH, description="addresses per GET /people lookup (before creating)"
    )
    read_concurrency: int = field(settings.ENCHARGE_CONCURRENCY)
    write_concurrency: int = field(settings.ENCHARGE_CONCURRENCY)
    max_attempts: int = field(settings.MARKETING_HTTP_MAX_ATTEMPTS)
    max_requests_per_second: float = field(settings.ENCHARGE_MAX_REQUESTS_PER_SECOND)
    start_requests_per_second: float = Field(default=10.0, description="the first rate when none was learned")
    rate_control: RateControlKind = Field(default="adaptive", description=RATE_CONTROL_HELP)

    def __init__(self, *, access: EnchargeAccess | None = None, **values: Any) -> None:
        fields = {name: values.pop(name) for name in list(values) if name in EnchargeAccess.model_fields}
        super().__init__(access=access or EnchargeAccess(**fields), **values)

    def get_client(self, learned_rate: LearnedRate | None = None) -> EnchargeClient:
        """`learned_rate`: what earlier runs learned of Encharge's limit (from the marketing store)."""
        _positive("encharge", timeout_seconds=self.timeout_seconds, batch_size=self.batch_size)
        _positive("encharge", read_concurrency=self.read_concurrency, write_concurrency=self.write_concurrency)
        _positive("encharge", max_attempts=self.max_attempts)
        control = _rate_control(
            "encharge", self.rate_control, self.max_requests_per_second, self.start_requests_per_second, learned_rate
        )
        if self.access.api_key == "":
            settings.require_environment()  # not configured at all (from_env): the CLI's line, naming what to set
        return EnchargeClient(
            base_url=settings.http_url(settings.ENCHARGE_BASE_URL, self.access.base_url),
            api_key=settings.secret(settings.ENCHARGE_REST_API_KEY, self.access.api_key),
            timeout=self.timeout_seconds,
            batch_size=self.batch_size,
            lookup_batch_size=self.lookup_batch_size,
            read_concurrency=self.read_concurrency,
            write_concurrency=self.write_concurrency,
            rate_control=control,
            retry=RetrySettings(max_attempts=self.max_attempts),
        )


class MarketingStoreResource(dg.ConfigurableResource):
    """The MarketingSync / MarketingSyncRun tables (MARKETING_DATABASE_URL, or SQLite in DAGSTER_HOME).

    The URL is fixed where the resource is defined: a run whose config sets it is refused before it reads
    a row (its rows choose what the run does with our API keys). It stays a plain field, not a nested
    resource, so sensors and schedules can be given this resource without a context manager."""

    database_url: str

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run_config = (context.run.run_config if context.run else None) or {}
        for key, definition in context.all_resource_defs.items():
            given = (((run_config.get("resources") or {}).get(key) or {}).get("config")) or {}
            if definition is context.resource_def and "database_url" in given:
                raise ConfigurationError(
                    f"a run's config may not set the {key} resource's database_url: the marketing database "
                    f"comes from {settings.MARKETING_DATABASE_URL} where the code location runs"
                )

    def store(self) -> SyncStore:
        return SyncStore(self.database_url)


def from_env(name: str) -> Any:
    """`EnvVar(name)` when the variable is set: Dagster reads it at launch, and never shows a secret in the
    UI. Else its default from `settings.Settings`: empty for a secret, so a run launched without it reaches
    its first step and fails there with the CLI's one line (`settings.require_environment`), not a
    config-resolution trace."""
    return dg.EnvVar(name) if settings.value(name) else settings.value_or_default(name)


def build_resources() -> dict[str, Any]:
    tuning = settings.load()
    return {
        "connectwise": ConnectWiseResource(
            base_url=from_env(settings.CW_BASE_URL),
            site=from_env(settings.CW_SITE),
            company_id=from_env(settings.CW_COMPANY_ID),
            public_key=from_env(settings.CW_PUBLIC_KEY),
            private_key=from_env(settings.CW_PRIVATE_KEY),
            client_id=from_env(settings.CW_CLIENT_ID),
            max_concurrency=tuning.cw_concurrency,
            max_requests_per_second=tuning.cw_max_requests_per_second,
            timeout_seconds=tuning.timeout_seconds,
            max_attempts=tuning.max_attempts,
        ),
        "encharge": EnchargeResource(
            base_url=from_env(settings.ENCHARGE_BASE_URL),
            api_key=from_env(settings.ENCHARGE_REST_API_KEY),
            max_requests_per_second=tuning.encharge_ceiling,
            read_concurrency=tuning.encharge_concurrency,
            write_concurrency=tuning.encharge_concurrency,
            batch_size=tuning.encharge_batch_size,
            timeout_seconds=tuning.timeout_seconds,
            max_attempts=tuning.max_attempts,
        ),
        "marketing_store": MarketingStoreResource(
            database_url=from_env(settings.MARKETING_DATABASE_URL) or settings.database_url()
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
