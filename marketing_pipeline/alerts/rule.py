"""When the team hears about a sync: once per change of its state, never for a good run after a good run.

After each real run a sync is in one of four states: `ok`, `failed`, `braked` (the brake stopped the plan),
or `failed_contacts` (the run completed but some contacts failed). A run whose state differs from the state
the sync was in before it gets one message; a return to `ok` is a recovery and says so. Runs that say
nothing about the sync's health leave its state alone: dry runs, cancelled runs, runs not yet finished, and
runs a pause stopped (an operator's decision, not a fault).

The previous state is the state of the latest earlier run that has one, so whoever evaluates a run (the
daemon's sensors or the CLI) reaches the same decision. Pure: plain data in, a decision out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from marketing_pipeline.sync.pause import stopped_by_pause
from marketing_pipeline.sync.safety import HOW

SyncState = Literal["ok", "failed", "braked", "failed_contacts"]
AlertKind = Literal["failed", "braked", "failed_contacts", "recovered"]
RunOutcome = Literal["completed", "failed", "cancelled", "unfinished"]

# Every brake reason ends with how to override it (`sync.safety.HOW`): that sentence is what tells a braked
# run from any other failure in its run record.
BRAKE_OVERRIDE = HOW


@dataclass(frozen=True)
class RunFacts:
    """What the rule needs to know about one run."""

    dagster_run_id: str
    outcome: RunOutcome
    dry_run: bool = False
    contacts_failed: int = 0
    error: str | None = None


def is_brake(error: str | None) -> bool:
    return bool(error) and BRAKE_OVERRIDE in str(error)


def state_of(run: RunFacts) -> SyncState | None:
    """The sync's state after this run, or None when the run says nothing about it."""
    if run.dry_run or run.outcome in ("cancelled", "unfinished"):
        return None
    if run.outcome == "failed" and stopped_by_pause(run.error):
        return None
    if run.outcome == "failed":
        return "braked" if is_brake(run.error) else "failed"
    return "failed_contacts" if run.contacts_failed > 0 else "ok"


def previous_state(earlier: Iterable[RunFacts]) -> tuple[SyncState, RunFacts | None]:
    """The state the sync was in, from its earlier runs newest first (and the run that set it); a sync
    with no such run is `ok`: its first failure is news, its first success is not."""
    for run in earlier:
        state = state_of(run)
        if state is not None:
            return state, run
    return "ok", None


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    state: SyncState
    previous: SyncState
    previous_run: RunFacts | None = None


def decide(run: RunFacts, earlier: Iterable[RunFacts]) -> Alert | None:
    """The message this run deserves, or None (no change, or a run that does not count)."""
    state = state_of(run)
    if state is None:
        return None
    before, setter = previous_state(earlier)
    if state == before:
        return None
    kind: AlertKind = "recovered" if state == "ok" else state
    return Alert(kind=kind, state=state, previous=before, previous_run=setter)
