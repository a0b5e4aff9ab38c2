"""Resources, wired from the environment. Secrets go through `EnvVar` so the UI never shows them."""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from marketing_pipeline import settings
from marketing_pipeline.connectwise.resource import DEFAULT_BASE_URL as CW_DEFAULT_URL
from marketing_pipeline.connectwise.resource import ConnectWiseResource
from marketing_pipeline.encharge.resource import DEFAULT_BASE_URL as ENCHARGE_DEFAULT_URL
from marketing_pipeline.encharge.resource import EnchargeResource
from marketing_pipeline.store.repository import SyncStore


class MarketingStoreResource(dg.ConfigurableResource):
    """The MarketingSync / MarketingSyncRun tables (MARKETING_DATABASE_URL, or SQLite in DAGSTER_HOME)."""

    database_url: str

    def store(self) -> SyncStore:
        return SyncStore(self.database_url)


def _env_or(name: str, default: str) -> Any:
    """`EnvVar(name)` when it is set (read at launch), else the default shown in the UI."""
    return dg.EnvVar(name) if os.environ.get(name) else default


def _number(name: str, default: float) -> float:
    """A tuning knob from the environment (not a secret: its value may show in the UI)."""
    raw = os.environ.get(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a number, not {raw!r}") from None


def build_resources() -> dict[str, Any]:
    encharge_concurrency = int(_number("ENCHARGE_CONCURRENCY", 4))
    timeout = _number("MARKETING_HTTP_TIMEOUT_SECONDS", 30)
    attempts = int(_number("MARKETING_HTTP_MAX_ATTEMPTS", 6))
    return {
        "connectwise": ConnectWiseResource(
            base_url=_env_or("CW_BASE_URL", CW_DEFAULT_URL),
            company_id=_env_or("CW_COMPANY_ID", "computereyez"),
            public_key=dg.EnvVar("CW_PUBLIC_KEY"),
            private_key=dg.EnvVar("CW_PRIVATE_KEY"),
            client_id=dg.EnvVar("CW_CLIENT_ID"),
            max_concurrency=int(_number("CW_CONCURRENCY", 4)),
            timeout_seconds=timeout,
            max_attempts=attempts,
        ),
        "encharge": EnchargeResource(
            base_url=_env_or("ENCHARGE_BASE_URL", ENCHARGE_DEFAULT_URL),
            api_key=dg.EnvVar("ENCHARGE_REST_API_KEY"),
            requests_per_second=_number("ENCHARGE_REQUESTS_PER_SECOND", 20),
            read_concurrency=encharge_concurrency,
            write_concurrency=encharge_concurrency,
            batch_size=int(_number("ENCHARGE_BATCH_SIZE", 100)),
            timeout_seconds=timeout,
            max_attempts=attempts,
        ),
        "marketing_store": MarketingStoreResource(
            database_url=_env_or(settings.MARKETING_DATABASE_URL, settings.database_url())
        ),
    }
