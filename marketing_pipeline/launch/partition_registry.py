"""Telling a Dagster instance about the syncs: one dynamic partition per sync key. Never deletes a
partition, so every sync's history stays readable."""

from __future__ import annotations

import dagster as dg

from marketing_pipeline.defs.sync_partitions import SYNC_PARTITIONS
from marketing_pipeline.store.repository import SyncStore, open_store


def register_sync_partitions(instance: dg.DagsterInstance, store: SyncStore) -> list[str]:
    """Add a partition for every sync that lacks one (rows are given a key first if they lack one)."""
    known = set(instance.get_dynamic_partitions(SYNC_PARTITIONS.name))
    keys = sorted(set(store.sync_keys()) - known)
    if keys:
        instance.add_dynamic_partitions(SYNC_PARTITIONS.name, keys)
    return keys


def register_sync_partitions_in_home() -> list[str]:
    """The same, on the instance in `$DAGSTER_HOME` and the store the environment names."""
    with dg.DagsterInstance.get() as instance:
        return register_sync_partitions(instance, open_store())
