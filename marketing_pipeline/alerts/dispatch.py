"""One finished run's alert: read the run from Dagster (and its MarketingSyncRun row from the store), apply
the rule against the sync's earlier runs, send, and mark the run so nobody sends for it again.

The sync's history is its Dagster runs (every attempt is one, even a run that failed before it could write
its row), ordered by start, each read through its row when it has one. Reading through Dagster keeps
alerting alive when the store itself is the problem.

Exactly one message per change, whichever process sees a run first:
- the daemon's run-status sensors see every run in the instance, the CLI's in-process runs included;
- the CLI evaluates its own run only when no alert sensor is ticking (no daemon, or the sensors are off);
- whoever evaluates a run marks it with the `marketing/alert` run tag first, and a marked run is skipped;
- a run is evaluated after any earlier run of the same sync that nobody evaluated (a CLI run killed with
  no daemon, say), oldest first, so messages arrive in order; runs from before alerting had a mark are
  not replayed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import dagster as dg

from marketing_pipeline import settings
from marketing_pipeline.alerts.channels import AlertChannels, Delivery, describe
from marketing_pipeline.alerts.message import FailedContact, RunDescription, compose
from marketing_pipeline.alerts.rule import Alert, RunFacts, RunOutcome, decide, state_of
from marketing_pipeline.defs.sync_step import APPLY_ASSET, DRY_RUN_TAG, is_dry_run, triggered_by
from marketing_pipeline.errors import MarketingPipelineError
from marketing_pipeline.store.models import SyncRun
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline.sync.clock import readable
from marketing_pipeline.sync.outcome import summary_line

ALERT_TAG = "marketing/alert"  # the alert sent for the run ("failed", "recovered", ...) or "none"
NO_ALERT = "none"
ALERT_ON_SUCCESS = "marketing_sync_alerts_on_success"
ALERT_ON_FAILURE = "marketing_sync_alerts_on_failure"
ALERT_SENSORS = (ALERT_ON_SUCCESS, ALERT_ON_FAILURE)
PARTITION_TAG = "dagster/partition"
WILL_RETRY_TAG = "dagster/will_retry"
PARENT_RUN_TAG = "dagster/parent_run_id"  # on a retry or re-execution: the run it repeats
# Jobs whose runs without an asset selection are whole syncs: ours, and `dg.materialize` of the sync's assets.
SYNC_JOBS = ("marketing_sync_job", "__ephemeral_asset_job__")
PLAN_ASSET = dg.AssetKey("sync_plan")
HISTORY = 100  # the sync's most recent runs that are read to find the previous state
LIVE_WITHIN_SECONDS = 180  # an alert sensor that ticked this recently is being run by a daemon
CATCH_UP_SECONDS = 24 * 3600  # an earlier run nobody evaluated is told late, but not when it is older than this

log = logging.getLogger("marketing_pipeline")

OUTCOMES: dict[dg.DagsterRunStatus, RunOutcome] = {
    dg.DagsterRunStatus.SUCCESS: "completed",
    dg.DagsterRunStatus.FAILURE: "failed",
    dg.DagsterRunStatus.CANCELED: "cancelled",
    dg.DagsterRunStatus.CANCELING: "cancelled",
}


def is_sync_run(run: dg.DagsterRun) -> bool:
    """A run of one sync that applies (or dry-runs) its plan: the sync job, or any launch of the asset graph
    that selects the apply step. Exploring a single asset is not a sync run, nor is another job's run."""
    if PARTITION_TAG not in run.tags:
        return False
    if run.asset_selection:
        return APPLY_ASSET in run.asset_selection
    return run.job_name in SYNC_JOBS


def says_nothing(run: dg.DagsterRun) -> bool:
    """What Dagster alone shows of a run that cannot change a sync's state: a dry run, or one not finished
    or cancelled (saves reading the store for it)."""
    dry = run.tags.get(DRY_RUN_TAG) == "true" or is_dry_run(run.run_config)
    return dry or OUTCOMES.get(run.status, "unfinished") in ("unfinished", "cancelled")


def _start(record: dg.RunRecord) -> float:
    return record.start_time if record.start_time is not None else record.create_timestamp.timestamp()


@dataclass(frozen=True)
class RunView:
    """A Dagster run of a sync, with its MarketingSyncRun row when the store has one and can be read."""

    record: dg.RunRecord
    row: SyncRun | None
    facts: RunFacts

    @property
    def run(self) -> dg.DagsterRun:
        return self.record.dagster_run


@dataclass(frozen=True)
class AlertOutcome:
    """What happened for one run: the alert sent (None: no change) and how each channel fared."""

    dagster_run_id: str
    alert: Alert | None
    deliveries: list[Delivery] = field(default_factory=list)

    def describe(self) -> str:
        if self.alert is None:
            return f"run {self.dagster_run_id}: no alert (the sync's state did not change)"
        return f"run {self.dagster_run_id}: {self.alert.kind} alert: {describe(self.deliveries) or 'no channel'}"


class RunReader:
    """Reads runs of the instance and their rows, once each."""

    def __init__(self, instance: dg.DagsterInstance, store: SyncStore | None) -> None:
        self.instance = instance
        self.store = store
        self._views: dict[str, RunView] = {}

    def _row(self, run_id: str) -> SyncRun | None:
        if self.store is None:
            return None
        try:
            return self.store.find_run_by_dagster_id(run_id)
        except MarketingPipelineError as exc:
            # The store is down: say so once and read the rest from Dagster alone.
            log.warning("alerts: reading runs from Dagster only: %s", exc)
            self.store = None
            return None

    def _step_failure(self, run_id: str) -> str | None:
        records = self.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE, limit=1).records
        for record in records:
            data = record.event_log_entry.dagster_event.step_failure_data  # type: ignore[union-attr]
            if data is None:
                continue
            if data.user_failure_data is not None and data.user_failure_data.description:
                return data.user_failure_data.description
            if data.error is not None:
                return (data.error.message.strip().splitlines() or [None])[0]
        return None

    def _run_failure(self, run_id: str) -> str | None:
        records = self.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE, limit=1).records
        return records[0].event_log_entry.message if records else None

    def materialization(self, run_id: str, asset: dg.AssetKey) -> dict[str, Any]:
        """The metadata of the run's materialization of `asset`, as plain values ({} when there is none)."""
        records = self.instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        for record in records:
            materialization = record.event_log_entry.asset_materialization
            if materialization is not None and materialization.asset_key == asset:
                return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
        return {}

    def view(self, record: dg.RunRecord) -> RunView:
        run = record.dagster_run
        if run.run_id in self._views:
            return self._views[run.run_id]
        row = self._row(run.run_id)
        outcome = OUTCOMES.get(run.status, "unfinished")
        dry_run = run.tags.get(DRY_RUN_TAG) == "true" or is_dry_run(run.run_config) or bool(row and row.dry_run)
        error = None
        contacts_failed = 0
        if outcome == "failed":
            row_error = row.error_message if row is not None and row.status == "failed" else None
            error = self._step_failure(run.run_id) or row_error or self._run_failure(run.run_id)
        elif outcome == "completed":
            if row is not None and row.status == "completed":
                contacts_failed = row.contacts_failed
            else:  # the row could not be read or written: the apply step's own figures
                failed = self.materialization(run.run_id, APPLY_ASSET).get("contactsFailed", 0)
                contacts_failed = failed if isinstance(failed, int) else 0
        facts = RunFacts(
            dagster_run_id=run.run_id,
            outcome=outcome,
            dry_run=dry_run,
            contacts_failed=contacts_failed,
            error=error,
        )
        view = RunView(record=record, row=row, facts=facts)
        self._views[run.run_id] = view
        return view

    def history(self, sync_key: str) -> list[dg.RunRecord]:
        """The sync's most recent runs, newest start first."""
        records = self.instance.get_run_records(
            filters=dg.RunsFilter(tags={PARTITION_TAG: sync_key}), limit=HISTORY, order_by="create_timestamp"
        )
        return sorted((r for r in records if is_sync_run(r.dagster_run)), key=_start, reverse=True)


class AlertDispatcher:
    """Evaluates finished sync runs and sends what the rule asks for through the channels."""

    def __init__(
        self,
        instance: dg.DagsterInstance,
        store: SyncStore | None,
        channels: AlertChannels,
        *,
        webserver_url: str | None = None,
        secrets: list[str] | None = None,
        zone: str | None = None,
        on_log: Callable[[str], None] | None = None,
    ) -> None:
        self.instance = instance
        self.reader = RunReader(instance, store)
        self.channels = channels
        self.webserver_url = (webserver_url or "").rstrip("/") or None
        self.secrets = [*settings.secret_values(), *(secrets or [])]
        self.zone = zone or settings.schedule_timezone()
        self.on_log = on_log or log.info

    def evaluate(self, run_id: str) -> list[AlertOutcome]:
        """Alert for this run if nobody has, after any earlier run of its sync that nobody evaluated."""
        record = self.instance.get_run_record_by_id(run_id)
        if record is None or not is_sync_run(record.dagster_run) or self._alerted(record.dagster_run):
            return []
        if OUTCOMES.get(record.dagster_run.status, "unfinished") == "unfinished":
            return []
        history = self.reader.history(record.dagster_run.tags[PARTITION_TAG])
        earlier = [r for r in history if r.dagster_run.run_id != run_id and _start(r) < _start(record)]
        outcomes = []
        for position in reversed(self._pending(earlier)):
            outcomes.append(self._evaluate_one(earlier[position], earlier[position + 1 :]))
        outcomes.append(self._evaluate_one(record, earlier))
        return [o for o in outcomes if o is not None]

    def _pending(self, earlier: list[dg.RunRecord]) -> list[int]:
        """Positions (newest first) of earlier runs with a state that nobody evaluated, back to the latest one
        that was; none at all when no run of the sync was ever evaluated (alerting was just switched on), and
        none that ended more than a day ago (old news, after alerting was off for a while)."""
        pending: list[int] = []
        oldest = time.time() - CATCH_UP_SECONDS
        for position, record in enumerate(earlier):
            run = record.dagster_run
            if self._alerted(run):
                return pending
            if (record.end_time or record.update_timestamp.timestamp()) < oldest:
                return []
            if not says_nothing(run) and state_of(self.reader.view(record).facts) is not None:
                pending.append(position)
        return []

    def _alerted(self, run: dg.DagsterRun) -> bool:
        """Whether someone evaluated this run. Dagster's run retry copies the failed run's tags into the
        retry, its alert tag too when the retry is created after the failure's alert: a value that only
        repeats the parent's is the parent's. (Where it could be both, "none", evaluating again finds "none"
        again and sends nothing.)"""
        value = run.tags.get(ALERT_TAG)
        if value is None:
            return False
        parent_id = run.tags.get(PARENT_RUN_TAG)
        if parent_id is None:
            return True
        parent = self.instance.get_run_by_id(parent_id)
        return parent is None or parent.tags.get(ALERT_TAG) != value

    def _evaluate_one(self, record: dg.RunRecord, earlier: list[dg.RunRecord]) -> AlertOutcome | None:
        view = self.reader.view(record)
        if state_of(view.facts) is None:
            return None  # a dry, cancelled or unfinished run: nothing to say, nothing to mark
        alert = decide(view.facts, self._facts(earlier))
        run_id = view.run.run_id
        # Mark first: a second evaluator that reads the tag now stays silent.
        self.instance.add_run_tags(run_id, {ALERT_TAG: alert.kind if alert else NO_ALERT})
        if alert is None:
            return AlertOutcome(run_id, None)
        message = compose(alert, self._describe(view), secrets=self.secrets)
        deliveries = self.channels.deliver(message)
        outcome = AlertOutcome(run_id, alert, deliveries)
        self.on_log(outcome.describe())
        return outcome

    def _facts(self, earlier: list[dg.RunRecord]) -> Iterator[RunFacts]:
        for record in earlier:
            yield self.reader.view(record).facts

    def _sync_name(self, key: str) -> str:
        store = self.reader.store
        if store is None:
            return key
        try:
            return store.get_sync_by_key(key).name
        except MarketingPipelineError:
            return key

    def _plan(self, run_id: str) -> str | None:
        figures = self.reader.materialization(run_id, PLAN_ASSET)
        wanted = ("to_create", "to_update", "to_tag", "to_untag", "tagged_before", "contacts_total")
        if not all(isinstance(figures.get(name), int) for name in wanted):
            return None
        return (
            f"{figures['contacts_total']} contacts from ConnectWise; create {figures['to_create']}, update "
            f"{figures['to_update']}, tag {figures['to_tag']}, untag {figures['to_untag']} of the "
            f"{figures['tagged_before']} people carrying the tag"
        )

    def _when(self, moment: datetime | None) -> str | None:
        if moment is None:
            return None
        try:
            return readable(moment, self.zone)
        except MarketingPipelineError:  # a bad MARKETING_SCHEDULE_TIMEZONE must not cost the alert
            return readable(moment, "UTC")

    def _describe(self, view: RunView) -> RunDescription:
        run, row, facts = view.run, view.row, view.facts
        key = run.tags[PARTITION_TAG]
        started: datetime | None = row.started_at if row is not None else None
        if started is None and view.record.start_time is not None:
            started = datetime.fromtimestamp(view.record.start_time, tz=timezone.utc)
        failures = []
        if row is not None and isinstance(row.details, dict):
            for item in row.details.get("contacts") or []:
                if isinstance(item, dict) and item.get("status") == "failed":
                    failures.append(FailedContact(str(item.get("action")), item.get("email"), item.get("error")))
        return RunDescription(
            sync_name=self._sync_name(key),
            sync_key=key,
            dagster_run_id=run.run_id,
            record_id=row.id if row is not None else None,
            triggered_by=row.started_by if row is not None else triggered_by(run),
            started=self._when(started),
            summary=summary_line(row.counts) if row is not None and row.status == "completed" else None,
            error=facts.error,
            failed_contacts=facts.contacts_failed,
            failures=failures,
            plan=self._plan(run.run_id) if facts.outcome == "failed" else None,
            will_retry=run.tags.get(WILL_RETRY_TAG) == "true",
            run_url=f"{self.webserver_url}/runs/{run.run_id}" if self.webserver_url else None,
        )


def alert_sensors_live(instance: dg.DagsterInstance, *, within: float = LIVE_WITHIN_SECONDS) -> bool:
    """True when a daemon is ticking one of the alert sensors (it will see every run, the CLI's included)."""
    from marketing_pipeline.launch.dagster_internals import last_ticks

    now = time.time()
    return any(now - ticked < within for ticked in last_ticks(instance, set(ALERT_SENSORS)).values())
