"""The Encharge client as a Dagster resource, configured from the environment."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.transport import RetrySettings

DEFAULT_BASE_URL = "https://api.encharge.io/v1/"


class EnchargeResource(dg.ConfigurableResource):
    """Encharge REST API. The key is read through `EnvVar`, so it never shows in the Dagster UI.

    Encharge publishes no rate limit, so the client keeps its own (requests per second and concurrency)
    and halves its rate for a minute whenever it sees a 429.
    """

    base_url: str = Field(default=DEFAULT_BASE_URL, description="ENCHARGE_BASE_URL")
    api_key: str = Field(description="ENCHARGE_REST_API_KEY, sent as X-Encharge-Token")
    timeout_seconds: float = 30.0
    batch_size: int = Field(default=100, description="people per POST /people request")
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
            read_concurrency=self.read_concurrency,
            write_concurrency=self.write_concurrency,
            requests_per_second=self.requests_per_second,
            retry=RetrySettings(max_attempts=self.max_attempts),
        )
