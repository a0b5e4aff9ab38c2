"""The sync job in tests: run in process through Dagster, against the sandboxes and a real store."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster._core.storage.defs_state.base import set_defs_state_storage

from marketing_pipeline.defs.assets import SYNC_ASSETS
from marketing_pipeline.defs.resources import ConnectWiseResource, EnchargeResource, MarketingStoreResource
from marketing_pipeline.sandbox.dataset import first_email
from marketing_pipeline.sandbox.launch import Sandboxes
from marketing_pipeline.store.models import SyncRun
from marketing_pipeline.store.repository import SyncStore
from marketing_pipeline_tests.support import SYNC_KEY


def pipeline_resources(boxes: Sandboxes, database_url: str) -> dict[str, Any]:
    env = boxes.env()
    return {
        "connectwise": ConnectWiseResource(
            base_url=env["CW_BASE_URL"],
            company_id=env["CW_COMPANY_ID"],
            public_key=env["CW_PUBLIC_KEY"],
            private_key=env["CW_PRIVATE_KEY"],
            client_id=env["CW_CLIENT_ID"],
            max_requests_per_second=0,
            max_attempts=3,
            timeout_seconds=2,
        ),
        "encharge": EnchargeResource(
            base_url=env["ENCHARGE_BASE_URL"],
            api_key=env["ENCHARGE_REST_API_KEY"],
            max_requests_per_second=0,
            max_attempts=3,
            timeout_seconds=2,
        ),
        "marketing_store": MarketingStoreResource(database_url=database_url),
    }


@dataclass(frozen=True)
class Pipeline:
    """A store with the first sync, both sandboxes, a Dagster instance with the sync's partition, and the
    resources that point the job at them."""

    store: SyncStore
    boxes: Sandboxes
    instance: dg.DagsterInstance
    resources: dict[str, Any]

    def with_resource(self, name: str, resource: Any) -> Pipeline:
        return dataclasses.replace(self, resources={**self.resources, name: resource})

    def run(
        self, *, key: str = SYNC_KEY, tags: dict[str, str] | None = None, **config: Any
    ) -> dg.ExecuteInProcessResult:
        """Materialize every asset of the sync for one partition; `config` is the apply step's config."""
        run_config = {"ops": {"encharge_audience": {"config": config}}} if config else None
        # Loading definitions reads the "current" instance's state storage from a context variable; once in
        # a full suite it still named a disposed instance of an earlier test ("undefined DagsterInstance
        # weakref"). Naming this pipeline's instance makes each run independent of what ran before.
        with set_defs_state_storage(self.instance.defs_state_storage):
            return dg.materialize(
                SYNC_ASSETS,
                partition_key=key,
                instance=self.instance,
                resources=self.resources,
                run_config=run_config,
                tags=tags,
                raise_on_error=False,
            )

    def last_run(self, key: str = SYNC_KEY) -> SyncRun | None:
        return self.store.last_run(self.store.get_sync(key))

    def writes(self) -> int:
        """Write requests the Encharge sandbox has seen since its log was last cleared."""
        return self.boxes.encharge.request_count("POST") + self.boxes.encharge.request_count("DELETE")


def asset_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    """The metadata of the run's one materialization of `asset`, as plain values."""
    [materialization] = result.asset_materializations_for_node(asset)
    return {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}


def audience_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return asset_metadata(result, "encharge_audience")


def checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}


def step_failure(result: dg.ExecuteInProcessResult) -> str:
    """The message of the run's first failed step."""
    failure = next(e for e in result.all_events if e.is_step_failure)
    return failure.step_failure_data.error.message


def members_leave(pipeline: Pipeline, count: int, *, newest_first: bool = False) -> list[str]:
    """`count` audience members leave ConnectWise (go inactive), the lowest contact ids first (the highest
    with `newest_first`); their addresses. Never one of the two contacts that share an address."""
    data = pipeline.boxes.dataset
    contacts = reversed(data.contacts) if newest_first else data.contacts
    members = [
        c
        for c in contacts
        if c["id"] in data.manifest.passing_contact_ids
        and c["id"] not in data.manifest.skipped
        and not c["inactiveFlag"]
        and "Lee" not in c["lastName"]  # not the address two contacts share
    ]
    for contact in members[:count]:
        contact["inactiveFlag"] = True
    return [(first_email(c) or "").strip().lower() for c in members[:count]]
