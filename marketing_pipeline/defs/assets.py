"""The sync as software-defined assets, one partition per sync:

cw_companies -> cw_contacts --\
                               >-- sync_plan -> encharge_audience
encharge_people --------------/

Each asset is thin glue: read through a resource, compute with the pure core in `sync/`, describe the
result in metadata a marketer can read in the Dagster UI.
"""

from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from marketing_pipeline.defs.partitions import SYNC_PARTITIONS
from marketing_pipeline.defs.resources import ConnectWiseResource, EnchargeResource, MarketingStoreResource
from marketing_pipeline.defs.sync_step import sync_step
from marketing_pipeline.runs.apply import apply_plan
from marketing_pipeline.runs.metrics import step_metrics
from marketing_pipeline.sync.audience import company_frame, company_lookup, contact_rows, frame_from_contact_rows
from marketing_pipeline.sync.outcome import SyncOutcome, planned_results
from marketing_pipeline.sync.people import people_frame, split_tags
from marketing_pipeline.sync.plan import SyncPlan, build_plan
from marketing_pipeline.sync.safety import DEFAULT_MAX_REMOVAL_FRACTION, brake_reason

GROUP = "marketing_sync"
READ_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
PREVIEW_ROWS = 25
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
    with sync_step(context, marketing_store) as step, connectwise.get_client(log=context.log) as client:
        filters = step.sync.require_runnable()
        companies = client.companies(filters)
        frame = company_frame(companies, filters)
        requests = client.transport.stats.total
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "companies_fetched": len(companies),
            "requests": requests,
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
    with sync_step(context, marketing_store) as step, connectwise.get_client(log=context.log) as client:
        filters = step.sync.require_runnable()
        lookup = company_lookup(cw_companies)
        rows = client.contacts(
            filters, cw_companies["company_id"].tolist(), per_page=lambda page: contact_rows(page, lookup, filters)
        )
        frame = frame_from_contact_rows(rows)
        fetched = client.contacts_fetched
        requests = client.transport.stats.total
    problems = int(frame["email_problem"].notna().sum())
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "contacts_fetched": fetched,
            "without_usable_email": problems,
            "requests": requests,
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
    description="Everyone in the Encharge account as it is now (all pages of GET /people/all).",
)
def encharge_people(
    context: dg.AssetExecutionContext, encharge: EnchargeResource, marketing_store: MarketingStoreResource
) -> dg.Output[pd.DataFrame]:
    with sync_step(context, marketing_store) as step, encharge.get_client() as client:
        frame = people_frame(client.all_people())
        requests = client.transport.stats.total
    sync = step.sync
    tagged = int(frame["tags"].map(lambda t: sync.tag_name in split_tags(t)).sum())
    return dg.Output(
        frame,
        metadata={
            "dagster/row_count": len(frame),
            "tagged_with_sync_tag": tagged,
            "tag": sync.tag_name,
            "requests": requests,
            **step_metrics(step.started),
        },
    )


@dg.asset(
    partitions_def=SYNC_PARTITIONS,
    group_name=GROUP,
    kinds={"pandas"},
    description="The computed diff: people to create, people to update (and which fields), people that need "
    "the tag, people that lose it, and contacts skipped with the reason.",
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
    marketing_store: MarketingStoreResource,
    cw_contacts: pd.DataFrame,
    encharge_people: pd.DataFrame,
):  # returns MaterializeResult[SyncPlan]; Dagster reads a return annotation as the output type

    with sync_step(context, marketing_store) as step:
        sync = step.sync
        plan = build_plan(cw_contacts, encharge_people, sync.tag_name)
        previous = step.store.last_run(sync, completed_only=True)
    counts = plan.counts
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
    max_removal_fraction: float = Field(
        default=DEFAULT_MAX_REMOVAL_FRACTION,
        description="Stop (unless forced) when the plan would untag more than this share of tagged people.",
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
        sync, run = step.sync, step.run
        brake = None if config.force else brake_reason(sync_plan.counts, config.max_removal_fraction)
        if brake and not dry_run:
            raise dg.Failure(description=f"sync {sync.label!r}: {brake}", allow_retries=False)
        if dry_run:
            results = planned_results(sync_plan)
            requests = 0
        else:
            with encharge.get_client() as client:
                results = apply_plan(client, sync_plan)
                requests = client.transport.stats.total
        outcome = SyncOutcome(
            plan=sync_plan.counts, results=results, dry_run=dry_run, plan_fingerprint=sync_plan.fingerprint
        )
        counts = outcome.counts()
        if run is not None:
            step.ledger.complete(run, counts=counts, details=outcome.details(), dry_run=dry_run)
    failures = outcome.failures
    metadata: dict[str, Any] = {
        "summary": dg.MetadataValue.md(f"**{outcome.summary()}**" + (f"\n\nBrake: {brake}" if brake else "")),
        **{name: value for name, value in counts.to_json_dict().items()},
        "dry_run": dry_run,
        "write_requests": requests,
        **step_metrics(step.started),
        "plan_hash": sync_plan.fingerprint,
    }
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


SYNC_ASSETS = [cw_companies, cw_contacts, encharge_people, sync_plan, encharge_audience]
