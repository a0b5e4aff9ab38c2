"""Applying a plan through the Encharge client: updates, creates, tag additions, tag removals.

Every write carries its plan row's key (the row's index in `plan.actions`), and its outcome comes back
under that key. Each phase is batched and concurrent inside the client; one person's failure is recorded
and the rest carry on. Only a failure that no retry can fix for everyone (a 401, say) stops the run.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import pandas as pd

from marketing_pipeline.encharge.client import EnchargeClient, Person, WriteOutcome
from marketing_pipeline.sync.outcome import ActionResult
from marketing_pipeline.sync.people import split_tags
from marketing_pipeline.sync.plan import SYNCED_FIELDS, SyncPlan


def result(row: Any, status: str, error: str | None = None) -> ActionResult:
    return ActionResult(
        action=row.action,
        email=row.email,
        person_id=row.person_id,
        contact_id=row.contact_id,
        status=status,
        reason=row.reason,
        error=error,
        changes=row.changes,
    )


def results(rows: dict[Hashable, Any], outcome: WriteOutcome) -> list[ActionResult]:
    return [result(rows[key], "ok") for key, _ in outcome.succeeded] + [
        result(rows[key], "failed", error) for key, error in outcome.failed
    ]


def rows_of(rows: dict[Hashable, Any], action: str) -> list[tuple[Hashable, Any]]:
    """(key, row) for every action of one kind."""
    return [(key, row) for key, row in rows.items() if row.action == action]


def update_record(row: Any) -> Person:
    record: Person = {"id": row.person_id, "email": row.email}
    for column, field in SYNCED_FIELDS:
        value = getattr(row, column)
        if value is not None and not pd.isna(value):
            record[field] = value
    return record


def apply_plan(client: EnchargeClient, plan: SyncPlan) -> list[ActionResult]:
    rows: dict[Hashable, Any] = {row.Index: row for row in plan.actions.itertuples(index=True)}
    done: list[ActionResult] = [result(row, "skipped") for _, row in rows_of(rows, "skip")]

    # Updates never carry `tags`: whether they add or replace in an upsert is undocumented.
    done += results(rows, client.upsert_people({key: update_record(row) for key, row in rows_of(rows, "update")}))

    # New people may carry the tag in the upsert: for them, add and replace are the same thing.
    creates = {
        key: {
            "email": row.email,
            "firstName": row.first_name,
            "lastName": row.last_name,
            "company": row.company,
            "tags": plan.tag,
        }
        for key, row in rows_of(rows, "create")
    }
    created = client.upsert_people(creates)
    # If Encharge ignored `tags` on create, tag those people explicitly.
    untagged = {
        key: {"email": creates[key]["email"]}
        for key, user in created.succeeded
        if user is None or plan.tag not in split_tags(user.get("tags"))
    }
    tagging_failed = dict(client.add_tag(plan.tag, untagged).failed)
    for key, _ in created.succeeded:
        error = tagging_failed.get(key)
        done.append(
            result(rows[key], "failed", f"created, but tagging failed: {error}") if error else result(rows[key], "ok")
        )
    done += [result(rows[key], "failed", error) for key, error in created.failed]

    for action, call in (("add_tag", client.add_tag), ("remove_tag", client.remove_tag)):
        people = {key: {"email": row.email, "id": row.person_id} for key, row in rows_of(rows, action)}
        done += results(rows, call(plan.tag, people))
    return done
