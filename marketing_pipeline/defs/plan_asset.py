"""The plan as an asset (sync_plan): the pure plan over the two reads, its new addresses looked up in
Encharge first, and a check that ConnectWise did not collapse since the last run."""

import dataclasses
from typing import Any

import dagster as dg
import pandas as pd

from marketing_pipeline.defs.asset_common import GROUP, encharge_client, preview
from marketing_pipeline.defs.resources import EnchargeResource, MarketingStoreResource
from marketing_pipeline.defs.sync_partitions import SYNC_PARTITIONS
from marketing_pipeline.defs.sync_step import is_dry_run, sync_step
from marketing_pipeline.runs.api_throughput import ApiThroughput
from marketing_pipeline.runs.metrics import step_metrics
from marketing_pipeline.store.audiences import rank_of
from marketing_pipeline.store.repository import utcnow
from marketing_pipeline.sync.emails import email_key
from marketing_pipeline.sync.owners import shared_addresses, shared_note
from marketing_pipeline.sync.people import people_frame, with_found
from marketing_pipeline.sync.plan import MOVE_CHANGE, SyncPlan, build_plan, unverified_creates_skipped
from marketing_pipeline.sync.write_record import people_of_contacts, tagged_by_sync
from marketing_pipeline.sync.written_fields import written_frame

COLLAPSE_RATIO = 0.5


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
            with encharge_client(encharge, step.store) as client:
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
            "changes": preview(changes, ["action", "email", "changes", "reason"]),
            "skipped_contacts": preview(plan.of("skip"), ["contact_id", "first_name", "last_name", "reason"]),
        },
    )
