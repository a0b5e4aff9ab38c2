"""Errors an operator reads. Each carries a one-line message that names what is wrong and where."""

from __future__ import annotations


class MarketingPipelineError(Exception):
    """Base class: the message is meant to be shown as-is, without a traceback."""


class SettingsError(MarketingPipelineError):
    """An environment variable holds a value the pipeline cannot use."""


class UnknownSyncError(MarketingPipelineError):
    pass


class InvalidSyncConfigError(MarketingPipelineError):
    pass


class SyncAlreadyRunningError(MarketingPipelineError):
    pass


class UnknownRunError(MarketingPipelineError):
    pass


class StoreUnavailableError(MarketingPipelineError):
    pass


class ApiError(MarketingPipelineError):
    """An external API (ConnectWise or Encharge) failed in a way retries could not fix."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiAuthError(ApiError):
    pass


class UntrustworthyReadError(MarketingPipelineError):
    """A read of Encharge stayed inconsistent after every retry: nothing may be written from it."""
