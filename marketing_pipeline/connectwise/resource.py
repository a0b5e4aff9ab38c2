"""The ConnectWise client as a Dagster resource, configured from the environment."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from marketing_pipeline.connectwise.client import RETRYABLE, ConnectWiseClient
from marketing_pipeline.transport import RetrySettings

DEFAULT_BASE_URL = "https://api-eu.myconnectwise.net/v2025_1/apis/3.0/"


class ConnectWiseResource(dg.ConfigurableResource):
    """ConnectWise PSA REST 3.0. Keys are read through `EnvVar`, so they never show in the Dagster UI."""

    base_url: str = Field(default=DEFAULT_BASE_URL, description="CW_BASE_URL: host, codebase and /apis/3.0/")
    company_id: str = Field(default="computereyez", description="CW_COMPANY_ID: the login company")
    public_key: str = Field(description="CW_PUBLIC_KEY")
    private_key: str = Field(description="CW_PRIVATE_KEY")
    client_id: str = Field(description="CW_CLIENT_ID: the integration's clientId GUID")
    timeout_seconds: float = 30.0
    page_size: int = 1000
    max_concurrency: int = 4
    max_attempts: int = 6

    def get_client(self) -> ConnectWiseClient:
        return ConnectWiseClient(
            base_url=self.base_url,
            company_id=self.company_id,
            public_key=self.public_key,
            private_key=self.private_key,
            client_id=self.client_id,
            timeout=self.timeout_seconds,
            page_size=self.page_size,
            max_concurrency=self.max_concurrency,
            retry=RetrySettings(max_attempts=self.max_attempts, retry_statuses=RETRYABLE),
        )
