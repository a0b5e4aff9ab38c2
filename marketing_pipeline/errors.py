"""Errors an operator reads. Each carries a one-line message that names what is wrong and where."""

from __future__ import annotations

import re

# "dagster._core.definitions.events.Failure: ", "ValueError: ", "(psycopg2.errors.DataError) ": how Python
# and SQLAlchemy name an exception's class before its message. An operator reads the message only.
_CLASS_PREFIX = re.compile(
    r"^\s*(?:\((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*\)\s*|(?:[A-Za-z_]\w*\.)*\w*(?:Error|Exception|Failure|Warning)\s*:\s*)"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str, limit: int = 500) -> str:
    """The first non-blank line of `text`, without class names before it and without control characters."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = _CONTROL.sub(" ", lines[0] if lines else "")
    previous = None
    while line != previous:
        previous, line = line, _CLASS_PREFIX.sub("", line, count=1)
    line = line or (lines[0].strip() if lines else "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


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


class RunNotRecordedError(MarketingPipelineError):
    """A sync's writes went through, but its run record could not be stored; the message says what was done."""


class ConfigurationError(MarketingPipelineError):
    """A setting (an environment variable or a resource's configuration) that cannot work as given; trying
    again cannot help, so nothing retries it. The message names the setting and never shows a secret."""


class ApiError(MarketingPipelineError):
    """An external API (ConnectWise or Encharge) failed in a way retries could not fix."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ApiAuthError(ApiError):
    pass


class UntrustworthyReadError(MarketingPipelineError):
    """A read of Encharge that is plainly broken (the same people over and over, a listing that never ends,
    nobody where people are counted): nothing may be written from it."""
