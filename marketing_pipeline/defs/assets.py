"""The sync as software-defined assets, one partition per sync:

cw_companies -> cw_contacts --\
                               >-- sync_plan -> encharge_audience
encharge_people --------------/

Each asset is thin glue: read through a resource, compute with the pure core in `sync/`, describe the
result in metadata a marketer can read in the Dagster UI.
"""

import dataclasses
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from marketing_pipeline.connectwise.client import ConnectWiseClient
from marketing_pipeline.defs.pause_resume import pause_watch
from marketing_pipeline.defs.resources import ConnectWiseResource, EnchargeResource, MarketingStoreResource
from marketing_pipeline.defs.sync_partitions import SYNC_PARTITIONS
from marketing_pipeline.defs.sync_step import is_dry_run, sync_step
from marketing_pipeline.defs.throughput_metadata import APPLY_STEP, throughput_of_run
from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.errors import one_line
from marketing_pipeline.runs.api_throughput import ApiThroughput, learning_client
from marketing_pipeline.runs.apply import apply_plan
from marketing_pipeline.runs.approval import approval_problem, stale_plan_reason
from marketing_pipeline.runs.encharge_read import read_everyone
from marketing_pipeline.runs.metrics import step_metrics
from marketing_pipeline.runs.write_record import WriteRecorder
from marketing_pipeline.store.audiences import rank_of
from marketing_pipeline.store.repository import SyncStore, utcnow
from marketing_pipeline.sync.audience import (
    company_frame,
    company_lookup,
    contact_rows,
    frame_from_contact_rows,
    row_contact_id,
)
from marketing_pipeline.sync.emails import email_key
from marketing_pipeline.sync.outcome import SyncOutcome, planned_results
from marketing_pipeline.sync.owners import shared_addresses, shared_note
from marketing_pipeline.sync.ownership import adopted_how, ownership_brake
from marketing_pipeline.sync.pause import paused_while_writing
from marketing_pipeline.sync.people import people_frame, split_tags, with_found
from marketing_pipeline.sync.plan import MOVE_CHANGE, SyncPlan, build_plan, unverified_creates_skipped
from marketing_pipeline.sync.records import Contact
from marketing_pipeline.sync.safety import DEFAULT_MAX_REMOVAL_FRACTION, brake_reason, removed_in_window
from marketing_pipeline.sync.tags import spellings_of
from marketing_pipeline.sync.writes import LINKED, WriteEntry, people_of_contacts, tagged_by_sync
from marketing_pipeline.sync.written_fields import written_frame

GROUP = "marketing_sync"
READ_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
PREVIEW_ROWS = 25
# Writes as the apply step's progress counts them: people in each accepted batch, one per tag call.
WRITE_PROGRESS = {"POST /people": "people upserted", "POST /tags": "tags added", "DELETE /tags": "tags removed"}
COLLAPSE_RATIO = 0.5


def _preview(frame: pd.DataFrame, columns: list[str]) -> dg.MetadataValue:
    shown = frame[columns].head(PREVIEW_ROWS).astype(object)
    shown = shown.where(shown.notna(), None)
    schema = dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns])
    records = [
        dg.TableRecord({c: "" if v is None else str(v) for c, v in zip(columns, row, strict=True)})
        for row in shown.itertuples(index=False)
    ]
    return dg.MetadataValue.table(records=records, schema=schema)


def _connectwise(
    context: dg.AssetExecutionContext, connectwise: ConnectWiseResource, store: SyncStore
) -> AbstractContextManager[ConnectWiseClient]:
    return learning_client(
        store, "connectwise", lambda rate: connectwise.get_client(log=context.log, learned_rate=rate)
    )


def _encharge(encharge: EnchargeResource, store: SyncStore) -> AbstractContextManager[EnchargeClient]:
    return learning_client(store, "encharge", lambda rate: encharge.get_client(learned_rate=rate))


def _changed(count: int | None) -> int:
    """Records edited while ConnectWise was read (each read again); -1 where `lastUpdated` was refused and
    the whole read was done twice instead."""
    return -1 if count is None else count


def _server_notes(notes: list[str]) -> dict[str, Any]:
    """What ConnectWise did not honour (refused conditions, ignored childConditions, fields left out)."""
    return {"connectwise_fallbacks": dg.MetadataValue.md("\n".join(f"- {n}" for n in notes))} if notes else {}


@dg.asset(
    partitions_def=SYNC_PARTITIONS,
    group_name=GROUP,
    kinds={"connectwise", "pandas"},
    retry_policy=READ_RETRY,
    description="ConnectWise companies that pass the sync's company filter: not deleted, status in "
    "companyStatuses, at least one of companyTypes, none of companyExcludeTypes.",
)
def cw_companies(
    context: dg.AssetExecutionContext,
    connectwise: ConnectWiseResource,
    marketing_store: MarketingStoreResource,
) -> dg.Output[pd.DataFrame]:
    with sync_step(context, marketing_store) as step:
        filters = step.sync.require_runnable()
        with _connectwise(context, connectwise, step.store) as client:
            client.transport.observers.append(step.progress.responses({"GET /company/companies": "pages read"}))
            companies = client.companies(filters)
        frame = company_frame(companies, filters)
        changed = client.changed_during_read.get("companies", 0)
        frame.attrs["connectwise_read"] = {"companiesChangedDuringRead": changed}
        traffic = ApiThroughput.of(client.transport)
        step.progress.done(f"{len(frame):,} companies pass the filter ({len(companies):,} read)")
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "companies_fetched": len(companies),
            "changed_during_read": _changed(changed),
            **traffic.metadata(),
            **_server_notes(client.notes),
            **step_metrics(step.started),
            "preview": _preview(frame, ["company_id", "name", "reason"]),
        },
    )


@dg.asset(
    partitions_def=SYNC_PARTITIONS,
    group_name=GROUP,
    kinds={"connectwise", "pandas"},
    retry_policy=READ_RETRY,
    description="Active ConnectWise contacts at those companies with one of the sync's contact types and none "
    "of its excluded types, each with their email (first 'Email' item, trimmed) and why they are in.",
)
def cw_contacts(
    context: dg.AssetExecutionContext,
    connectwise: ConnectWiseResource,
    marketing_store: MarketingStoreResource,
    cw_companies: pd.DataFrame,
) -> dg.Output[pd.DataFrame]:
    with sync_step(context, marketing_store) as step:
        filters = step.sync.require_runnable()
        lookup = company_lookup(cw_companies)

        def rows_of(page: list[Contact]) -> list[Any]:
            step.progress.add("contacts read", len(page))
            return contact_rows(page, lookup, filters)

        with _connectwise(context, connectwise, step.store) as client:
            client.transport.observers.append(step.progress.responses({"GET /company/contacts": "pages read"}))
            rows = client.contacts(
                filters, cw_companies["company_id"].tolist(), per_page=rows_of, row_id=row_contact_id
            )
        frame = frame_from_contact_rows(rows)
        changed = client.changed_during_read.get("contacts", 0)
        frame.attrs["connectwise_read"] = {
            **cw_companies.attrs.get("connectwise_read", {}),
            "contactsChangedDuringRead": changed,
        }
        fetched = client.contacts_fetched
        traffic = ApiThroughput.of(client.transport)
        problems = int(frame["email_problem"].notna().sum())
        step.progress.done(f"{len(frame):,} contacts ({fetched:,} read, {problems:,} without a usable email)")
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "contacts_fetched": fetched,
            "without_usable_email": problems,
            "changed_during_read": _changed(changed),
            **traffic.metadata(),
            **_server_notes(client.notes),
            **step_metrics(step.started),
            "preview": _preview(frame, ["contact_id", "first_name", "last_name", "company", "email", "reason"]),
        },
    )


@dg.asset(
    partitions_def=SYNC_PARTITIONS,
    group_name=GROUP,
    kinds={"encharge", "pandas"},
    retry_policy=READ_RETRY,
    description="Everyone in the Encharge account as one read saw them (every offset of GET /people/all, oldest "
    "first and without anonymous visitors where Encharge honours that), each person once. A busy account "
    "changes while it is read: that never stops a run (a person missed is only work left for the next run), "
    "and the metadata says what the read was like. A plainly broken read fails with nothing written.",
)
def encharge_people(
    context: dg.AssetExecutionContext, encharge: EnchargeResource, marketing_store: MarketingStoreResource
) -> dg.Output[pd.DataFrame]:
    with sync_step(context, marketing_store) as step:
        with _encharge(encharge, step.store) as client:
            client.transport.observers.append(step.progress.responses({"GET /people/all": "pages read"}))
            listing = read_everyone(client)
        frame = people_frame(listing.people)
        traffic = ApiThroughput.of(client.transport)
        quality = listing.quality
        note = quality.note()
        # Both travel with the frame to the plan, and from it to the run's details.
        frame.attrs["encharge_read"] = quality.as_details()
        if note:
            frame.attrs["listing_note"] = note
            context.log.warning(note)
        sync = step.sync
        tagged = int(frame["tags"].map(lambda t: bool(spellings_of(sync.tag_name, split_tags(t)))).sum())
        step.progress.done(f"{len(frame):,} people in Encharge, {tagged:,} with the tag {sync.tag_name!r}")
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "tagged_with_sync_tag": tagged,
            "tag": sync.tag_name,
            "people_read": quality.people_read,
            "people_count_before": _count(quality.count_before),
            "people_count_after": _count(quality.count_after),
            "listed_twice": quality.moved,
            "short_pages": quality.short_pages,
            "not_covered": quality.not_covered,
            "anonymous_listed": quality.anonymous,
            "order_as_asked": "unknown" if quality.order_as_asked is None else str(quality.order_as_asked).lower(),
            "counted_not_listed": quality.unlisted,
            "listing_note": note or "",
            **traffic.metadata(),
            **step_metrics(step.started),
        },
    )


def _count(value: int | None) -> int:
    """A count for metadata: -1 where the API gave none."""
    return -1 if value is None else value


@dg.asset(
    partitions_def=SYNC_PARTITIONS,
    group_name=GROUP,
    kinds={"encharge", "pandas"},
    description="The computed diff: people to create, people to update (and which fields), people that need "
    "the tag, people that lose it, and contacts skipped with the reason. Addresses to create are looked up "
    "in Encharge first (archived people included): people found are handled as existing.",
    check_specs=[
        dg.AssetCheckSpec(
            "source_not_collapsed",
            asset="sync_plan",
            description=f"ConnectWise still yields at least {COLLAPSE_RATIO:.0%} of the contacts of the last "
            "completed run.",
        )
    ],
)
def sync_plan(
    context: dg.AssetExecutionContext,
    encharge: EnchargeResource,
    marketing_store: MarketingStoreResource,
    cw_contacts: pd.DataFrame,
    encharge_people: pd.DataFrame,
):  # returns MaterializeResult[SyncPlan]; Dagster reads a return annotation as the output type

    with sync_step(context, marketing_store) as step:
        sync = step.sync
        written = written_frame(step.store.written_fields(sync))
        # Which other syncs hold this audience's people, for the one owner of their fields: this run's
        # audience is recorded first (a real run only: a dry run claims nobody), then the others' are read,
        # so two syncs planning at once see each other.
        audience = set(cw_contacts.loc[cw_contacts["email_problem"].isna(), "email_key"])
        if not is_dry_run(context.run.run_config):
            step.store.record_audience(sync, audience)
        shared = shared_addresses(rank_of(sync), audience, step.store.audience_holders(sync))
        # While the sync does not own its tag, whom it tagged decides whom it may untag (`sync.ownership`).
        entries = step.store.write_entries(sync)
        owns_tag = step.store.tag_adoption(sync).owns(sync.tag_name)
        tagged = None if owns_tag else tagged_by_sync(entries, sync.tag_name)
        followed = people_of_contacts(entries)  # a contact whose address changed stays with its person

        def plan_over(people: pd.DataFrame) -> SyncPlan:
            return build_plan(
                cw_contacts, people, sync.tag_name, written, shared, tagged_by_sync=tagged, contact_people=followed
            )

        plan = plan_over(encharge_people)
        notes = [encharge_people.attrs["listing_note"]] if encharge_people.attrs.get("listing_note") else []
        notes += [cw_contacts.attrs["connectwise_note"]] if cw_contacts.attrs.get("connectwise_note") else []
        # New addresses: those to create, and those a person is to be moved to (nobody may have them already).
        moving = plan.of("update")["changes"].map(lambda c: isinstance(c, str) and c.split(",")[0] == MOVE_CHANGE)
        creates = pd.concat([plan.of("create"), plan.of("update")[moving]])
        found = refused = 0
        traffic: dict[str, Any] = {"requests": 0, "throttled_responses": 0}
        if len(creates):
            # A create rests on a lookup that found nobody: whoever the listing left out (archived, signed up
            # while it was read, on a page that came back short) is found here and handled as existing.
            with _encharge(encharge, step.store) as client:
                client.transport.observers.append(step.progress.responses({"GET /people": "lookups"}))
                lookup = client.lookup(list(creates["email"]))
            traffic = ApiThroughput.of(client.transport).metadata()
            looked_up = people_frame(lookup.found)
            people = with_found(encharge_people, looked_up, set(creates["email"].map(email_key)))
            found = len(set(people["person_id"]) - set(encharge_people["person_id"]))
            if len(people) != len(encharge_people) or found:
                plan = plan_over(people)
            if found:
                notes.append(f"{found} people not in the listing were found by lookup and handled as existing")
            refused = len(lookup.refused)
            if refused:
                plan = unverified_creates_skipped(plan, lookup.refused)
                notes.append(f"{refused} address(es) Encharge refused to look up were skipped, not created")
        if note := shared_note(shared):
            notes.append(note)
            context.log.info(note)
        if plan.ownership.would_lose:
            notes.append(
                f"{len(plan.ownership.would_lose)} people this sync never tagged (by hand, or a previous owner of "
                f"the tag) carry {sync.tag_name!r} and would lose it: the run waits for an operator's decision"
            )
        reads = {
            "encharge": encharge_people.attrs.get("encharge_read", {}),
            "connectwise": cw_contacts.attrs.get("connectwise_read", {}),
        }
        plan = dataclasses.replace(
            plan, notes=notes, reads=reads, computed_in_run=context.run.run_id, computed_at=utcnow()
        )
        previous = step.store.last_run(sync, completed_only=True)
        counts = plan.counts
        step.progress.done(
            f"planned: create {counts.create:,}, update {counts.update:,}, tag {counts.add_tag:,}, "
            f"untag {counts.remove_tag:,}, skip {counts.skip:,}, unchanged {counts.unchanged:,}"
        )
    previous_total = previous.contacts_total if previous else None
    collapsed = bool(previous_total) and counts.contacts_total < COLLAPSE_RATIO * previous_total
    changes = plan.actions[plan.actions["action"] != "skip"]
    check = dg.AssetCheckResult(
        check_name="source_not_collapsed",
        passed=not collapsed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"contacts_now": counts.contacts_total, "contacts_last_run": previous_total or 0},
        description=(
            f"ConnectWise yields {counts.contacts_total} contacts, down from {previous_total} last run"
            if collapsed
            else None
        ),
    )
    return dg.MaterializeResult(
        value=plan,
        check_results=[check],
        metadata={
            "contacts_total": counts.contacts_total,
            "to_create": counts.create,
            "to_update": counts.update,
            "to_tag": counts.add_tag,
            "to_untag": counts.remove_tag,
            "skipped": counts.skip,
            "unchanged": counts.unchanged,
            "tagged_before": counts.tagged_before,
            "not_tagged_by_sync": plan.ownership.not_tagged_by_sync,
            "would_lose_tag_not_tagged_by_sync": len(plan.ownership.would_lose),
            "found_by_lookup": found,
            "lookup_refused": refused,
            **traffic,
            "duplicate_addresses": len(plan.duplicates),
            "shared_people": len(plan.shared),
            "shared_people_owned_elsewhere": sum(1 for s in plan.shared if not s["thisSyncOwns"]),
            "plan_hash": plan.fingerprint,
            **step_metrics(step.started),
            "summary": dg.MetadataValue.md(
                f"**{sync.name}**: create {counts.create}, update {counts.update}, tag {counts.add_tag}, "
                f"untag {counts.remove_tag}, skip {counts.skip}, unchanged {counts.unchanged}"
            ),
            "changes": _preview(changes, ["action", "email", "changes", "reason"]),
            "skipped_contacts": _preview(plan.of("skip"), ["contact_id", "first_name", "last_name", "reason"]),
        },
    )


class ApplyConfig(dg.Config):
    dry_run: bool = Field(default=False, description="Compute and show the plan; write nothing to Encharge.")
    force: bool = Field(default=False, description="Apply even if the brake would stop the plan.")
    even_if_paused: bool = Field(
        default=False,
        description="Run even though the sync is paused (MarketingSync.enabled = false); without it a paused "
        "sync's run writes nothing, and a run in flight stops before its next write batch when the sync is "
        "paused.",
    )
    max_removal_fraction: float = Field(
        default=DEFAULT_MAX_REMOVAL_FRACTION,
        description="Stop (unless forced) when the plan would untag more than this share of tagged people, "
        "in this run or together with the removals of the last removal_window_hours.",
    )
    removal_window_hours: float = Field(
        default=24.0, description="The rolling window over which removals count towards the brake."
    )
    approved_plan_hash: str | None = Field(
        default=None,
        description="Apply only if the plan computed in this run has this hash (shown by a recent dry run of "
        "the same sync); an approved plan passes the brake.",
    )
    approval_max_age_hours: float = Field(
        default=24.0, description="How recent the dry run that showed the approved plan must be."
    )


@dg.asset(
    partitions_def=SYNC_PARTITIONS,
    group_name=GROUP,
    kinds={"encharge"},
    description="The Encharge audience after the plan is applied: creates, field updates, tags added, this "
    "sync's tag removed from people who left (never deleted, other tags and subscriptions untouched).",
    check_specs=[
        dg.AssetCheckSpec(
            "no_failed_contacts",
            asset="encharge_audience",
            description="Every create, update and tag change of the run succeeded.",
        ),
    ],
)
def encharge_audience(
    context: dg.AssetExecutionContext,
    config: ApplyConfig,
    encharge: EnchargeResource,
    marketing_store: MarketingStoreResource,
    sync_plan: SyncPlan,
):  # returns MaterializeResult (no value); see sync_plan on annotations

    dry_run = config.dry_run
    with sync_step(context, marketing_store) as step:
        sync, run, store = step.sync, step.run, step.store
        stale = stale_plan_reason(sync_plan, context.run.run_id)
        if stale:
            raise dg.Failure(description=f"sync {sync.label!r}: {stale}", allow_retries=False)
        now = utcnow()
        window = timedelta(hours=config.removal_window_hours)
        recent = removed_in_window(store.removals_since(sync, now - window), now, window)
        reasons = (
            brake_reason(sync_plan.counts, config.max_removal_fraction, removed_recently=recent, window=window),
            ownership_brake(sync_plan.ownership, sync.tag_name),
        )
        brake = "; and ".join(reason for reason in reasons if reason) or None
        approved = False
        if config.approved_plan_hash and not dry_run:
            max_age = timedelta(hours=config.approval_max_age_hours)
            problem = approval_problem(store, sync, sync_plan, config.approved_plan_hash, now, max_age)
            if problem:
                raise dg.Failure(description=f"sync {sync.label!r}: {problem}", allow_retries=False)
            approved = True
        overridden = config.force or approved
        if brake and not overridden and not dry_run:
            raise dg.Failure(description=f"sync {sync.label!r}: {brake}", allow_retries=False)
        traffic: dict[str, Any] = {"requests": 0, "throttled_responses": 0}
        stopped = None
        error: Exception | None = None
        forced = not dry_run and (config.force or (approved and brake is not None))
        if dry_run:
            results = planned_results(sync_plan)
        else:
            if forced and run is not None:
                store.mark_forced(run.id)  # the brake's window starts after it, however it ends
            adopted = adopted_how(
                sync_plan.ownership, approved_hash=config.approved_plan_hash if approved else None, forced=config.force
            )
            if adopted:
                store.adopt_tag(sync, adopted)  # the operator's decision, made once
            recorder = WriteRecorder(store, sync, run.id if run is not None else None)
            try:
                with _encharge(encharge, step.store) as client:
                    client.transport.observers.append(step.progress.responses(WRITE_PROGRESS))
                    if not config.even_if_paused:
                        client.before_write = pause_watch(context.instance, store, sync)
                    applied = apply_plan(client, sync_plan, recorder)
                if applied.stopped is None:  # contacts matched without a write: followed by id from now on
                    recorder([WriteEntry(LINKED, person, email, contact) for contact, person, email in sync_plan.links])
            finally:
                recorder.flush()
            traffic = ApiThroughput.of(client.transport).metadata()
            results, stopped, error = applied.results, applied.stopped, applied.error
            sync_plan = dataclasses.replace(sync_plan, notes=[*sync_plan.notes, *applied.notes])
            store.record_written(sync, applied.written)
        outcome = SyncOutcome(
            plan=sync_plan.counts,
            results=results,
            dry_run=dry_run,
            plan_fingerprint=sync_plan.fingerprint,
            brake=brake,
            forced=forced,
            duplicates=sync_plan.duplicates,
            shared=sync_plan.shared,
            notes=sync_plan.notes,
            reads=sync_plan.reads,
            stopped=stopped,
            tag_ownership=sync_plan.ownership.as_details(),
        )
        counts = outcome.counts()
        if error is not None:
            # A failure no retry fixed stopped the writes: the record shows what was done, then the step fails.
            made, left = outcome.changes_made, outcome.not_sent
            reason = f"the writes stopped part way ({made} change(s) made, {left} not sent): {error}"
            if run is not None:
                details = {**outcome.details(), "throughput": throughput_of_run(context, {APPLY_STEP: traffic})}
                step.ledger.stopped(run, counts=counts, details=details, reason=one_line(reason, limit=480))
            step.progress.done(outcome.summary())
            raise error
        if stopped:
            # Paused while it wrote: what was written is recorded, the rest waits for the next run.
            reason = paused_while_writing(sync.label, outcome.changes_made, outcome.not_sent)
            if run is not None:
                details = {**outcome.details(), "paused": True}
                details["throughput"] = throughput_of_run(context, {APPLY_STEP: traffic})
                step.ledger.stopped(run, counts=counts, details=details, reason=reason)
            step.progress.done(outcome.summary())
            raise dg.Failure(
                description=reason,
                allow_retries=False,
                metadata={"summary": outcome.summary(), **counts.to_json_dict(), "not_sent": outcome.not_sent},
            )
        if run is not None:
            details = {**outcome.details(), "throughput": throughput_of_run(context, {APPLY_STEP: traffic})}
            step.ledger.complete(run, counts=counts, details=details, dry_run=dry_run)
        step.progress.done(outcome.summary())
    failures = outcome.failures
    override_note = f"\n\nBrake overridden: {brake}" if brake and not dry_run else ""
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.md(f"**{outcome.summary()}**{override_note}"),
        "braked": bool(brake),
        **{name: value for name, value in counts.to_json_dict().items()},
        "dry_run": dry_run,
        "write_requests": traffic["requests"],
        **{name: value for name, value in traffic.items() if name != "requests"},
        **step_metrics(step.started),
        "plan_hash": sync_plan.fingerprint,
        "duplicate_addresses": len(sync_plan.duplicates),
    }
    if sync_plan.duplicates:
        metadata["duplicates"] = dg.MetadataValue.md(
            "\n".join(f"- {d['email']}: people {', '.join(d['personIds'])}" for d in sync_plan.duplicates[:50])
        )
    if sync_plan.shared:
        metadata["shared_people"] = dg.MetadataValue.md(_shared_lines(sync_plan.shared))
    if sync_plan.notes:
        metadata["notes"] = dg.MetadataValue.md("\n".join(f"- {note}" for note in sync_plan.notes))
    if run is not None:
        metadata["marketing_sync_run_id"] = run.id
    if failures:
        metadata["failures"] = dg.MetadataValue.md(
            "\n".join(f"- `{f.action}` {f.email}: {f.error}" for f in failures[:50])
        )
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="no_failed_contacts",
                passed=not failures,
                metadata={"failed": len(failures)},
                description=f"{len(failures)} change(s) failed; see the run details" if failures else None,
            )
        ],
    )


def _shared_lines(shared: list[dict[str, Any]]) -> str:
    """People other syncs hold too, each with the sync that owns their fields (the first 50)."""
    lines = [f"- {p['email']}: fields owned by '{p['fieldsOwnedBy']}' (syncs: {', '.join(p['syncs'])})" for p in shared]
    return "\n".join(lines[:50] + ([f"- ... and {len(lines) - 50} more"] if len(lines) > 50 else []))


SYNC_ASSETS = [cw_companies, cw_contacts, encharge_people, sync_plan, encharge_audience]
