"""Applying a plan through the Encharge client: updates, creates, tag additions, tag removals.

Each phase is batched and concurrent inside the client; one person's failure is recorded and the rest
carry on. Only a failure that no retry can fix for everyone (a 401, say) stops the run.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from marketing_pipeline.encharge.client import EnchargeClient, WriteOutcome
from marketing_pipeline.sync.outcome import ActionResult
from marketing_pipeline.sync.people import split_tags
from marketing_pipeline.sync.plan import SYNCED_FIELDS, SyncPlan


def _result(row: Any, status: str, error: str | None = None) -> ActionResult:
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


def _collect(rows: dict[int, Any], outcome: WriteOutcome) -> list[ActionResult]:
    results = [_result(rows[id(record)], "ok") for record, _ in outcome.succeeded]
    results += [_result(rows[id(record)], "failed", error) for record, error in outcome.failed]
    return results


def _update_record(row: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"id": row.person_id, "email": row.email}
    for column, field in SYNCED_FIELDS:
        value = getattr(row, column)
        if value is not None and not pd.isna(value):
            record[field] = value
    return record


def apply_plan(client: EnchargeClient, plan: SyncPlan) -> list[ActionResult]:
    results: list[ActionResult] = [_result(row, "skipped") for row in plan.of("skip").itertuples(index=False)]

    # Updates never carry `tags`: whether they add or replace in an upsert is undocumented.
    rows: dict[int, Any] = {}
    records = []
    for row in plan.of("update").itertuples(index=False):
        record = _update_record(row)
        rows[id(record)] = row
        records.append(record)
    results += _collect(rows, client.upsert_people(records))

    # New people may carry the tag in the upsert: for them, add and replace are the same thing.
    rows, records = {}, []
    for row in plan.of("create").itertuples(index=False):
        record = {
            "email": row.email,
            "firstName": row.first_name,
            "lastName": row.last_name,
            "company": row.company,
            "tags": plan.tag,
        }
        rows[id(record)] = row
        records.append(record)
    created = client.upsert_people(records)
    # If Encharge ignored `tags` on create, tag those people explicitly.
    untagged = [rec for rec, user in created.succeeded if user is None or plan.tag not in split_tags(user.get("tags"))]
    follow_up = client.add_tag(plan.tag, [{"email": rec["email"]} for rec in untagged])
    tagging_failed = {rec["email"].lower(): error for rec, error in follow_up.failed}
    for record, _ in created.succeeded:
        error = tagging_failed.get(record["email"].lower())
        row = rows[id(record)]
        results.append(_result(row, "failed", f"created, but tagging failed: {error}") if error else _result(row, "ok"))
    results += [_result(rows[id(record)], "failed", error) for record, error in created.failed]

    for action, call in (("add_tag", client.add_tag), ("remove_tag", client.remove_tag)):
        rows, records = {}, []
        for row in plan.of(action).itertuples(index=False):
            record = {"email": row.email, "id": row.person_id}
            rows[id(record)] = row
            records.append(record)
        results += _collect(rows, call(plan.tag, records))
    return results
