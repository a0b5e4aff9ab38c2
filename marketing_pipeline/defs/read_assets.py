"""The sync's reads as assets: ConnectWise companies and contacts through the sync's filter
(cw_companies -> cw_contacts), and everyone in Encharge (encharge_people), each described in metadata."""

from typing import Any

import dagster as dg
import pandas as pd

from marketing_pipeline.defs.asset_common import GROUP, connectwise_client, encharge_client, preview
from marketing_pipeline.defs.resources import ConnectWiseResource, EnchargeResource, MarketingStoreResource
from marketing_pipeline.defs.sync_partitions import SYNC_PARTITIONS
from marketing_pipeline.defs.sync_step import sync_step
from marketing_pipeline.runs.api_throughput import ApiThroughput
from marketing_pipeline.runs.encharge_read import read_everyone
from marketing_pipeline.runs.metrics import step_metrics
from marketing_pipeline.sync.audience import (
    company_frame,
    company_lookup,
    contact_rows,
    frame_from_contact_rows,
    row_contact_id,
)
from marketing_pipeline.sync.people import people_frame, split_tags
from marketing_pipeline.sync.records import Contact
from marketing_pipeline.sync.tags import spellings_of

READ_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


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
        with connectwise_client(context, connectwise, step.store) as client:
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
            "preview": preview(frame, ["company_id", "name", "reason"]),
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

        with connectwise_client(context, connectwise, step.store) as client:
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
            "preview": preview(frame, ["contact_id", "first_name", "last_name", "company", "email", "reason"]),
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
        with encharge_client(encharge, step.store) as client:
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
