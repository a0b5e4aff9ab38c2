"""Telling a running Dagster webserver about a changed sync: reload the code location (Dagster's own
GraphQL client), so the schedule is rebuilt from the row, and reset the schedule to its default status,
which follows `enabled`; and the schedule queries and toggle mutations the client does not offer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError, ReloadRepositoryLocationStatus

from marketing_pipeline.defs.dagster_names import LOCATION, REPOSITORY
from marketing_pipeline.errors import ConfigurationError, MarketingPipelineError
from marketing_pipeline.transport.redact import redact_url, scrub, url_secrets

RESET = """
mutation Reset($selector: ScheduleSelector!) {
  resetSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""
SCHEDULE = """
query Schedule($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { cronSchedule executionTimezone scheduleState { status } }
    ... on ScheduleNotFoundError { message }
    ... on PythonError { message }
  }
}
"""
# The two mutations the UI's schedule toggle sends (the sync's Pause/Resume button).
START = """
mutation Start($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""
STOP = """
mutation Stop($id: String!) {
  stopRunningSchedule(id: $id) {
    __typename
    ... on ScheduleStateResult { scheduleState { status } }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
  }
}
"""
SCHEDULE_ID = """
query ScheduleId($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) { ... on Schedule { id } }
}
"""
SCHEDULES = """
query Schedules($selector: RepositorySelector!) {
  schedulesOrError(repositorySelector: $selector) {
    __typename
    ... on Schedules { results { name cronSchedule } }
    ... on PythonError { message }
    ... on RepositoryNotFoundError { message }
  }
}
"""


@dataclass(frozen=True)
class ScheduleState:
    name: str
    status: str | None  # RUNNING / STOPPED, or None when the sync has no schedule
    cron: str | None


def _selector(schedule_name: str) -> dict[str, str]:
    return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "scheduleName": schedule_name}


def check_webserver_url(url: str, setting: str = "--dagster-url") -> str:
    """The webserver URL, checked before anything is written: http(s), a host, a numeric port. Messages never
    show its credentials (user:password@ works, as Basic auth for a proxy in front of the webserver)."""
    cleaned = url.strip()
    match = re.fullmatch(r"(?i)https?://([^/?#\s]+)(/[^\s]*)?", cleaned)
    if not match:
        raise ConfigurationError(f"{setting} must be an http:// or https:// URL, like http://127.0.0.1:3000")
    host = re.fullmatch(r"(\[[^\]]*\]|[^:]*)(?::(.*))?", match.group(1).rsplit("@", 1)[-1])
    if host is None or not host.group(1):
        raise ConfigurationError(f"{setting} has no host: {redact_url(cleaned)}")
    port = host.group(2)
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise ConfigurationError(f"{setting} has a port that is not a number from 1 to 65535: {redact_url(cleaned)}")
    return cleaned


class DagsterWebserver:
    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = check_webserver_url(url).rstrip("/") + "/graphql"
        self.shown_url = redact_url(self.url)
        self.timeout = timeout

    def _call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            response = requests.post(self.url, json={"query": query, "variables": variables}, timeout=self.timeout)
        except requests.RequestException as exc:
            reason = scrub(str(exc), url_secrets(self.url))
            raise MarketingPipelineError(f"cannot reach the Dagster webserver at {self.shown_url}: {reason}") from None
        if not response.ok:
            raise MarketingPipelineError(
                f"the Dagster webserver answered HTTP {response.status_code} at {self.shown_url}"
            )
        try:
            body = response.json()
        except ValueError:
            raise MarketingPipelineError(
                f"{self.shown_url} did not answer like a Dagster webserver (not JSON)"
            ) from None
        if body.get("errors"):
            raise MarketingPipelineError(f"Dagster: {body['errors'][0].get('message')}")
        return body["data"]

    def _client(self) -> DagsterGraphQLClient:
        parts = urlsplit(self.url.removesuffix("/graphql"))
        auth = None
        if parts.username is not None:  # user:password@ in the URL: Basic auth, for a proxy in front
            auth = requests.auth.HTTPBasicAuth(unquote(parts.username), unquote(parts.password or ""))
        return DagsterGraphQLClient(
            parts.hostname or "",
            port_number=parts.port,
            use_https=parts.scheme.lower() == "https",
            timeout=max(1, round(self.timeout)),
            auth=auth,
            path_prefix=parts.path.rstrip("/"),
        )

    def _client_problem(self, exc: Exception) -> str:
        """What went wrong under the GraphQL client's error (gql wraps requests' errors in its own)."""
        chain: list[BaseException] = []
        cause: BaseException | None = exc
        while cause is not None and cause not in chain:
            chain.append(cause)
            cause = cause.__cause__ or cause.__context__
        for cause in chain:
            if isinstance(cause, requests.RequestException):
                reason = scrub(str(cause), url_secrets(self.url))
                return f"cannot reach the Dagster webserver at {self.shown_url}: {reason}"
            if isinstance(getattr(cause, "code", None), int):  # gql's TransportServerError: an HTTP error status
                return f"the Dagster webserver answered HTTP {cause.code} at {self.shown_url}"  # type: ignore[attr-defined]
        reason = scrub(str(chain[-1]), url_secrets(self.url))
        return f"{self.shown_url} did not answer like a Dagster webserver: {reason}"

    def reload(self) -> None:
        """Reload the code location, as the Deployment page's Reload button does."""
        try:
            info = self._client().reload_repository_location(LOCATION)
        except DagsterGraphQLClientError as exc:
            raise MarketingPipelineError(self._client_problem(exc)) from None
        if info.status != ReloadRepositoryLocationStatus.SUCCESS:
            why = info.message or info.failure_type
            raise MarketingPipelineError(f"Dagster could not reload the code location: {why}")

    def schedule(self, name: str) -> ScheduleState:
        result = self._call(SCHEDULE, {"selector": _selector(name)})["scheduleOrError"]
        if result["__typename"] != "Schedule":
            return ScheduleState(name=name, status=None, cron=None)
        return ScheduleState(name=name, status=result["scheduleState"]["status"], cron=result["cronSchedule"])

    def toggle(self, schedule_name: str, running: bool) -> str:
        """Flip the schedule's toggle as the UI does; its new status."""
        if running:
            result = self._call(START, {"selector": _selector(schedule_name)})["startSchedule"]
        else:
            found = self._call(SCHEDULE_ID, {"selector": _selector(schedule_name)})["scheduleOrError"]
            result = self._call(STOP, {"id": found.get("id", "")})["stopRunningSchedule"]
        if result["__typename"] != "ScheduleStateResult":
            raise MarketingPipelineError(f"Dagster could not toggle {schedule_name}: {result.get('message')}")
        return result["scheduleState"]["status"]

    def schedule_crons(self) -> dict[str, str]:
        """Every schedule the webserver shows in the code location, with its cron."""
        selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
        result = self._call(SCHEDULES, {"selector": selector})["schedulesOrError"]
        if result["__typename"] != "Schedules":
            raise MarketingPipelineError(f"Dagster could not list the schedules: {result.get('message')}")
        return {item["name"]: item["cronSchedule"] for item in result["results"]}

    def apply_sync_change(self, schedule_name: str) -> ScheduleState:
        """Reload, then put the schedule back to its default status (RUNNING if enabled, else STOPPED)."""
        self.reload()
        if self.schedule(schedule_name).status is not None:
            result = self._call(RESET, {"selector": _selector(schedule_name)})["resetSchedule"]
            if result["__typename"] != "ScheduleStateResult":
                raise MarketingPipelineError(f"Dagster could not update {schedule_name}: {result.get('message')}")
        return self.schedule(schedule_name)
