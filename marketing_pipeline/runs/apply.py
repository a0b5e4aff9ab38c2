"""Applying a plan through the Encharge client: updates, creates, tag additions, tag removals.

Every write carries its plan row's key (the row's index in `plan.actions`), and its outcome comes back
under that key. Each phase is batched and concurrent inside the client; one person's failure (any 4xx
about that person) is recorded with the reason and the rest carry on. A person Encharge no longer has
(deleted since the read, addressed by id) is skipped with the reason, not failed: nothing was written, and
the next run looks the address up again. Only a failure that no retry can fix for everyone (a 401, a 403,
an API that stays down) stops the run.

When the client's writes are stopped (its `before_write` hook: the sync was paused; or a failure no retry
fixes for everyone, a 401 or an API that stays down, in the middle of a phase), no later phase is started:
what was written is in the results as usual, and every change not made is `not_sent`, with why; the error,
if any, is in `Applied.error` for the caller to raise once the run's record holds what was done.

Every write Encharge confirmed is told to `record` (the write record) as its batch comes back, before the
next one is counted done, so the record holds it however the run ends.

`tags` is never sent in `POST /people`, for anyone: whether it adds or replaces there is undocumented, so a
"create" of someone who in fact exists could otherwise wipe their tags. New people get the tag through
`POST /tags` after their upsert, by the id Encharge returned (by address when it returned none). Tags are
added and removed by person id, so every one of several people sharing an address up to case is reached.

Removals go before additions: a person moved from another spelling of the tag to the sync's (`sync.plan`)
loses the old spelling first, so an Encharge that treats both spellings as one tag does not take the new
one off again. Each row names the spellings it adds or removes (`tag`); the spelling added is remembered
(`sync.written_fields`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from marketing_pipeline.encharge.answers import Person, WriteOutcome
from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.sync.emails import email_key
from marketing_pipeline.sync.outcome import ActionResult
from marketing_pipeline.sync.plan import MOVE_CHANGE
from marketing_pipeline.sync.plan_types import SYNCED_FIELDS, SyncPlan
from marketing_pipeline.sync.write_record import MOVE_REFUSED, MOVED, RECORDED_AS, TAG_ADDED, WriteEntry
from marketing_pipeline.sync.written_fields import WrittenFields

NOT_SENT = "not_sent"  # an action's status when the writes stopped before it was sent


@dataclass
class Applied:
    """Each action's result, the synced fields written (for `sync.written_fields`' memory), and why the writes
    stopped before the plan was through (None when they did not)."""

    results: list[ActionResult] = field(default_factory=list)
    written: list[WrittenFields] = field(default_factory=list)
    stopped: str | None = None
    error: Exception | None = None  # what stopped the writes, when it was not a pause
    notes: list[str] = field(default_factory=list)  # what the operator should know of the writes

    def call(
        self,
        write: Callable[..., WriteOutcome],
        people: Mapping[Hashable, Person],
        on_batch: Callable[[WriteOutcome], None] | None = None,
    ) -> WriteOutcome:
        """One phase's writes, or none once the writes have stopped."""
        outcome = write(people, on_batch) if self.stopped is None else unsent(people, self.stopped)
        self.stopped = self.stopped or outcome.stopped
        self.error = self.error or outcome.error
        return outcome


Record = Callable[[list[WriteEntry]], None]


def is_move(row: Any) -> bool:
    """An update that moves a person to their contact's new address (`sync.matching.follow_moves`)."""
    return row.action == "update" and isinstance(row.changes, str) and row.changes.split(",")[0] == MOVE_CHANGE


def moved_to(row: Any, answer: Person | None) -> bool:
    """Whether Encharge's answer shows the person at the new address; with no answer, the write was accepted
    and the next read tells (the plan then treats a person still at the old address as not moved)."""
    return answer is None or str(answer.get("email") or "").strip().lower() == str(row.email).strip().lower()


def recording(
    record: Record | None, rows: dict[Hashable, Any], action: str, tag: str | None = None
) -> Callable[[WriteOutcome], None] | None:
    """What tells the write record about one batch of a phase: each write Encharge confirmed, and each move
    of a person to a new address Encharge answered without making (refused or ignored)."""
    if record is None:
        return None

    def heard(outcome: WriteOutcome) -> None:
        entries = []
        for key, answer in outcome.succeeded:
            row = rows[key]
            person_id = str(answer["id"]) if answer and answer.get("id") else row.person_id
            email = str(answer.get("email") or row.email) if answer else row.email
            kind = action
            if is_move(row):
                kind, email = (MOVED, row.email) if moved_to(row, answer) else (MOVE_REFUSED, row.email)
            entries.append(WriteEntry(kind, person_id, email, _contact(row), tag))
        for key, _ in outcome.failed:
            if is_move(rows[key]):
                entries.append(WriteEntry(MOVE_REFUSED, rows[key].person_id, rows[key].email, _contact(rows[key])))
        if entries:
            record(entries)

    return heard


KEPT_ADDRESS = (
    "Encharge kept the person's old address when asked to move them to the contact's new one: the next run "
    "creates the new address if the person is subscribed, and skips it if they unsubscribed (or Encharge's "
    "read does not say)"
)


def update_results(rows: dict[Hashable, Any], outcome: WriteOutcome) -> list[ActionResult]:
    """The update phase's results; a move Encharge answered without making is not an update done."""
    refused = {key for key, answer in outcome.succeeded if is_move(rows[key]) and not moved_to(rows[key], answer)}
    kept = WriteOutcome(
        succeeded=[(key, answer) for key, answer in outcome.succeeded if key not in refused],
        failed=outcome.failed,
        gone=outcome.gone,
        not_sent=outcome.not_sent,
        stopped=outcome.stopped,
    )
    return results(rows, kept) + [result(rows[key], "skipped", KEPT_ADDRESS) for key in refused]


def _contact(row: Any) -> int | None:
    value = row.contact_id
    return None if value is None or pd.isna(value) else int(value)


def unsent(keys: Iterable[Hashable], reason: str) -> WriteOutcome:
    return WriteOutcome(not_sent=list(keys), stopped=reason)


def result(row: Any, status: str, error: str | None = None, person_id: str | None = None) -> ActionResult:
    return ActionResult(
        action=row.action,
        email=row.email,
        person_id=person_id or row.person_id,
        contact_id=row.contact_id,
        status=status,
        reason=row.reason,
        error=error,
        changes=row.changes,
    )


GONE = "no longer in Encharge (deleted since it was read?); nothing written, the next run looks it up again"


def results(rows: dict[Hashable, Any], outcome: WriteOutcome) -> list[ActionResult]:
    return (
        [result(rows[key], "ok") for key, _ in outcome.succeeded]
        + [result(rows[key], "failed", error) for key, error in outcome.failed]
        + [result(rows[key], "skipped", f"{GONE}: {error}") for key, error in outcome.gone]
        + [result(rows[key], NOT_SENT, outcome.stopped) for key in outcome.not_sent]
    )


def rows_of(rows: dict[Hashable, Any], action: str) -> list[tuple[Hashable, Any]]:
    """(key, row) for every action of one kind."""
    return [(key, row) for key, row in rows.items() if row.action == action]


def _value(row: Any, column: str) -> str | None:
    value = getattr(row, column)
    return None if value is None or pd.isna(value) or value == "" else str(value)


def synced_fields(row: Any) -> Person:
    """The synced fields the row sets, by Encharge name; empty values are left out (never blank a field)."""
    return {name: value for column, name in SYNCED_FIELDS if (value := _value(row, column)) is not None}


def update_record(row: Any) -> Person:
    return {"id": row.person_id, "email": row.email, **synced_fields(row)}


def create_record(row: Any) -> Person:
    return {"email": row.email, **synced_fields(row)}


def written(row: Any, person_id: str | None, tag: str | None = None) -> WrittenFields:
    return WrittenFields(
        email_key=email_key(row.email),
        person_id=person_id,
        **{column: _value(row, column) for column, _ in SYNCED_FIELDS},
        tag=tag,
    )


def tag_added(row: Any, tag: str) -> WrittenFields:
    """The memory of a tag added to a person, fields untouched."""
    return WrittenFields(email_key=email_key(row.email), person_id=row.person_id, tag=tag)


def by_tag(rows: list[tuple[Hashable, Any]]) -> dict[str, list[tuple[Hashable, Any]]]:
    """Rows grouped by the spellings each adds or removes (one tag call per person either way)."""
    groups: dict[str, list[tuple[Hashable, Any]]] = {}
    for key, row in rows:
        groups.setdefault(row.tag, []).append((key, row))
    return groups


def apply_plan(client: EnchargeClient, plan: SyncPlan, record: Record | None = None) -> Applied:
    rows: dict[Hashable, Any] = {row.Index: row for row in plan.actions.itertuples(index=True)}
    applied = Applied(results=[result(row, "skipped") for _, row in rows_of(rows, "skip")])

    updating = {key: update_record(row) for key, row in rows_of(rows, "update")}
    updated = applied.call(client.upsert_people, updating, recording(record, rows, RECORDED_AS["update"]))
    update_rows = update_results(rows, updated)
    applied.results += update_rows
    applied.written += [written(rows[key], rows[key].person_id) for key, _ in updated.succeeded]
    moves = [r for r in update_rows if r.changes and r.changes.split(",")[0] == MOVE_CHANGE]
    if moved := sum(1 for r in moves if r.status == "ok"):
        applied.notes.append(f"{moved} person(s) moved to their contact's new address (followed by contact id)")
    if kept := sum(1 for r in moves if r.status != "ok" and r.status != NOT_SENT):
        applied.notes.append(f"{kept} person(s) not moved to their contact's new address: {KEPT_ADDRESS}")

    creating = {key: create_record(row) for key, row in rows_of(rows, "create")}
    created = applied.call(client.upsert_people, creating, recording(record, rows, RECORDED_AS["create"]))
    ids = {key: str(user["id"]) for key, user in created.succeeded if user and user.get("id")}
    tagging = {key: {"id": ids[key]} if key in ids else {"email": rows[key].email} for key, _ in created.succeeded}
    tag_rows = {key: row._replace(person_id=ids.get(key)) for key, row in rows.items() if key in tagging}
    tagged = applied.call(partial(client.add_tag, plan.tag), tagging, recording(record, tag_rows, TAG_ADDED, plan.tag))
    tagging_failed, untagged = dict(tagged.failed + tagged.gone), set(tagged.not_sent)
    for key, _ in created.succeeded:
        row, error = rows[key], tagging_failed.get(key)
        status = ("failed", f"created, but tagging failed: {error}") if error else ("ok", None)
        if key in untagged:  # created, and counted so; the next run tags them
            status = ("ok", f"created, but not tagged yet: {tagged.stopped}")
        applied.results.append(result(row, *status, person_id=ids.get(key)))
        tag = plan.tag if status[0] == "ok" and key not in untagged else None
        applied.written.append(written(row, ids.get(key), tag))
    applied.results += [result(rows[key], "failed", error) for key, error in created.failed]
    applied.results += [result(rows[key], "skipped", f"{GONE}: {error}") for key, error in created.gone]
    applied.results += [result(rows[key], NOT_SENT, created.stopped) for key in created.not_sent]

    # Removals before additions: an Encharge that treats two spellings as one tag ends with the sync's.
    for action, call in (("remove_tag", client.remove_tag), ("add_tag", client.add_tag)):
        for tag, group in by_tag(rows_of(rows, action)).items():
            people = {key: {"id": row.person_id, "email": row.email} for key, row in group}
            heard = recording(record, rows, RECORDED_AS[action], tag)
            outcome = applied.call(partial(call, tag.split(",")), people, heard)
            applied.results += results(rows, outcome)
            if action == "add_tag":
                applied.written += [tag_added(rows[key], tag) for key, _ in outcome.succeeded]
    return applied
