"""Clients pointed at the sandboxes, with retries fast enough for tests."""

from __future__ import annotations

from typing import Any

from marketing_pipeline.connectwise.client import ConnectWiseClient
from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.transport.http import RetrySettings

FAST_RETRY = RetrySettings(max_attempts=4, base_delay=0.01, max_delay=0.05)


def cw_client(boxes: Sandboxes, **overrides: Any) -> ConnectWiseClient:
    env = boxes.connectwise.env()
    kwargs: dict[str, Any] = {
        "base_url": env["CW_BASE_URL"],
        "company_id": env["CW_COMPANY_ID"],
        "public_key": env["CW_PUBLIC_KEY"],
        "private_key": env["CW_PRIVATE_KEY"],
        "client_id": env["CW_CLIENT_ID"],
        "retry": FAST_RETRY,
    }
    kwargs.update(overrides)
    return ConnectWiseClient(**kwargs)


def encharge_client(boxes: Sandboxes, **overrides: Any) -> EnchargeClient:
    kwargs: dict[str, Any] = {
        "base_url": boxes.encharge.base_url,
        "api_key": boxes.encharge.token,
        "retry": FAST_RETRY,
    }
    kwargs.update(overrides)
    return EnchargeClient(**kwargs)
