"""The resources: the ConnectWise and Encharge clients and the marketing store, wired from the environment.

Secrets go through `EnvVar`, read when a run launches, so the UI never shows them.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field

from marketing_pipeline import settings
from marketing_pipeline.connectwise.client import RETRYABLE, ConnectWiseClient, Log
from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.transport.http import RetrySettings


class ConnectWiseResource(dg.ConfigurableResource):
    """ConnectWise PSA REST 3.0. Keys are read through `EnvVar`, so they never show in the Dagster UI."""

    base_url: str = Field(default="", description="CW_BASE_URL: host, codebase, /apis/3.0/ (empty: from CW_SITE)")
    site: str = Field(default=settings.DEFAULT_CW_SITE, description="CW_SITE: its companyinfo names the codebase")
    company_id: str = Field(default=settings.DEFAULT_CW_COMPANY_ID, description="CW_COMPANY_ID: the login company")
    public_key: str = Field(description="CW_PUBLIC_KEY")
    private_key: str = Field(description="CW_PRIVATE_KEY")
    client_id: str = Field(description="CW_CLIENT_ID: the integration's clientId GUID")
    timeout_seconds: float = 30.0
    page_size: int = 1000
    max_concurrency: int = 4
    max_attempts: int = 6

    def get_client(self, log: Log | None = None) -> ConnectWiseClient:
        return ConnectWiseClient(
            base_url=self.base_url or None,
            site=self.site,
            log=log,
            company_id=self.company_id,
            public_key=self.public_key,
            private_key=self.private_key,
            client_id=self.client_id,
            timeout=self.timeout_seconds,
            page_size=self.page_size,
            max_concurrency=self.max_concurrency,
            retry=RetrySettings(max_attempts=self.max_attempts, retry_statuses=RETRYABLE),
        )


class EnchargeResource(dg.ConfigurableResource):
    """Encharge REST API. The key is read through `EnvVar`, so it never shows in the Dagster UI.

    Encharge publishes no rate limit, so the client keeps its own (requests per second and concurrency)
    and halves its rate for 15 seconds whenever it sees a 429.
    """

    base_url: str = Field(default=settings.DEFAULT_ENCHARGE_BASE_URL, description="ENCHARGE_BASE_URL")
    api_key: str = Field(description="ENCHARGE_REST_API_KEY, sent as X-Encharge-Token")
    timeout_seconds: float = 30.0
    batch_size: int = Field(default=100, description="people per POST /people request")
    lookup_batch_size: int = Field(default=20, description="addresses per GET /people lookup (before creating)")
    read_concurrency: int = 4
    write_concurrency: int = 4
    requests_per_second: float = Field(default=20.0, description="0 disables the client-side limiter")
    max_attempts: int = 6

    def get_client(self) -> EnchargeClient:
        return EnchargeClient(
            base_url=self.base_url,
            api_key=self.api_key,
            timeout=self.timeout_seconds,
            batch_size=self.batch_size,
            lookup_batch_size=self.lookup_batch_size,
            read_concurrency=self.read_concurrency,
            write_concurrency=self.write_concurrency,
            requests_per_second=self.requests_per_second,
            retry=RetrySettings(max_attempts=self.max_attempts),
        )


class MarketingStoreResource(dg.ConfigurableResource):
    """The MarketingSync / MarketingSyncRun tables (MARKETING_DATABASE_URL, or SQLite in DAGSTER_HOME)."""

    database_url: str

    def store(self) -> SyncStore:
        return SyncStore(self.database_url)


def _env_or(name: str, default: str) -> Any:
    """`EnvVar(name)` when it is set (read at launch), else the default shown in the UI."""
    return dg.EnvVar(name) if settings.value(name) else default


def build_resources() -> dict[str, Any]:
    tuning = settings.http_tuning()
    return {
        "connectwise": ConnectWiseResource(
            base_url=_env_or(settings.CW_BASE_URL, ""),
            site=_env_or(settings.CW_SITE, settings.DEFAULT_CW_SITE),
            company_id=_env_or(settings.CW_COMPANY_ID, settings.DEFAULT_CW_COMPANY_ID),
            public_key=dg.EnvVar(settings.CW_PUBLIC_KEY),
            private_key=dg.EnvVar(settings.CW_PRIVATE_KEY),
            client_id=dg.EnvVar(settings.CW_CLIENT_ID),
            max_concurrency=tuning.cw_concurrency,
            timeout_seconds=tuning.timeout_seconds,
            max_attempts=tuning.max_attempts,
        ),
        "encharge": EnchargeResource(
            base_url=_env_or(settings.ENCHARGE_BASE_URL, settings.DEFAULT_ENCHARGE_BASE_URL),
            api_key=dg.EnvVar(settings.ENCHARGE_REST_API_KEY),
            requests_per_second=tuning.encharge_requests_per_second,
            read_concurrency=tuning.encharge_concurrency,
            write_concurrency=tuning.encharge_concurrency,
            batch_size=tuning.encharge_batch_size,
            timeout_seconds=tuning.timeout_seconds,
            max_attempts=tuning.max_attempts,
        ),
        "marketing_store": MarketingStoreResource(
            database_url=_env_or(settings.MARKETING_DATABASE_URL, settings.database_url())
        ),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
