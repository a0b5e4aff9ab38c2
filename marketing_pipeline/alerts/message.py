"""What an alert says: the sync, the run, what happened, what to do, and a link to the run.

Plain text that reads the same in Slack, Microsoft Teams and email (their markup differs, so none is used;
all three turn a bare URL into a link). Every text is scrubbed of the secrets it is given before it leaves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from marketing_pipeline.alerts.rule import Alert
from marketing_pipeline.transport.redact import redact

FAILURES_SHOWN = 5
ERROR_CHARS = 600


@dataclass(frozen=True)
class FailedContact:
    action: str
    email: str | None
    error: str | None


@dataclass(frozen=True)
class RunDescription:
    """The run an alert is about, as a reader needs it."""

    sync_name: str
    sync_key: str
    dagster_run_id: str
    record_id: str | None = None  # the MarketingSyncRun row
    triggered_by: str | None = None
    started: str | None = None  # already formatted, with its time zone
    summary: str | None = None  # "83 synced, 1 new, 0 removed, 2 failed"
    error: str | None = None
    failed_contacts: int = 0
    failures: Sequence[FailedContact] = field(default_factory=tuple)
    plan: str | None = None  # what the brake saw: the plan's counts
    will_retry: bool = False
    run_url: str | None = None


@dataclass(frozen=True)
class AlertMessage:
    subject: str
    text: str


def _short(text: str | None) -> str:
    flat = " ".join((text or "unknown error").split())
    return flat if len(flat) <= ERROR_CHARS else flat[: ERROR_CHARS - 1] + "…"


def _headline(alert: Alert, run: RunDescription) -> tuple[str, str]:
    """(subject, first line)."""
    name = f'"{run.sync_name}"'
    if alert.kind == "failed":
        return f"{run.sync_name}: sync failed", f"Marketing sync {name} failed."
    if alert.kind == "braked":
        return (
            f"{run.sync_name}: sync stopped by the brake",
            f"Marketing sync {name} was stopped by the safety brake: nothing was written to Encharge.",
        )
    if alert.kind == "failed_contacts":
        count = f"{run.failed_contacts} contact{'s' if run.failed_contacts != 1 else ''}"
        return (
            f"{run.sync_name}: {count} failed",
            f"Marketing sync {name} completed, but {count} failed: {run.summary or 'see the run'}.",
        )
    return f"{run.sync_name}: sync recovered", f"Marketing sync {name} recovered: {run.summary or 'the run completed'}."


def _was(alert: Alert) -> str | None:
    """For a recovery: what the sync had been doing."""
    before = alert.previous_run
    if alert.previous == "failed":
        return f"The previous run had failed: {_short(before.error if before else None)}"
    if alert.previous == "braked":
        return "The previous run had been stopped by the brake."
    if alert.previous == "failed_contacts":
        failed = before.contacts_failed if before else 0
        return f"The previous run had {failed} failed contact{'s' if failed != 1 else ''}."
    return None


def compose(alert: Alert, run: RunDescription, *, secrets: Iterable[str] = ()) -> AlertMessage:
    subject, first = _headline(alert, run)
    lines = [first]
    if alert.kind == "failed":
        lines.append(f"Error: {_short(run.error)}")
        if run.will_retry:
            lines.append("Dagster will retry the run automatically.")
    elif alert.kind == "braked":
        lines.append(f"The brake saw: {_short(run.error)}")
        if run.plan:
            lines.append(f"The plan: {run.plan}")
        lines.append(
            f"If this is intended, apply it anyway: `marketing-pipeline syncs trigger {run.sync_key} --force`, or "
            "launch the sync from the Dagster Launchpad with "
            "`ops: {encharge_audience: {config: {force: true}}}`."
        )
    elif alert.kind == "failed_contacts":
        for failure in list(run.failures)[:FAILURES_SHOWN]:
            lines.append(f"- {failure.action} {failure.email or '(no email)'}: {_short(failure.error)}")
        if run.failed_contacts > FAILURES_SHOWN:
            lines.append(f"... and {run.failed_contacts - FAILURES_SHOWN} more in the run's details")
    else:
        was = _was(alert)
        if was:
            lines.append(was)
    ids = f"Dagster run {run.dagster_run_id}" + (f", MarketingSyncRun {run.record_id}" if run.record_id else "")
    when = [f"started {run.started}"] if run.started else []
    when += [f"by {run.triggered_by}"] if run.triggered_by else []
    lines.append(f"Sync: {run.sync_key}. Run: {ids}" + (f" ({' '.join(when)})" if when else "") + ".")
    if run.run_url:
        lines.append(f"Open the run: {run.run_url}")
    secret_list = [s for s in secrets if s]
    # A subject is one line whatever a sync's name holds (a line break there would forge email headers).
    one_line = " ".join(f"marketing-pipeline: {subject}".split())
    return AlertMessage(subject=redact(one_line, secret_list), text=redact("\n".join(lines), secret_list))
