"""One Dagster partition per sync, keyed by the sync's stable key (e.g. `managed-client-newsletter`)."""

from __future__ import annotations

import dagster as dg

from marketing_pipeline.store.repository import SyncStore

SYNC_PARTITIONS = dg.DynamicPartitionsDefinition(name="marketing_sync")


def missing_partition_keys(instance: dg.DagsterInstance, store: SyncStore) -> list[str]:
    """Keys of syncs (rows given a key first if they lack one) that Dagster does not know yet."""
    store.ensure_keys()
    known = set(instance.get_dynamic_partitions(SYNC_PARTITIONS.name))
    return sorted({s.key for s in store.list_syncs() if s.key} - known)


def register_sync_partitions(instance: dg.DagsterInstance, store: SyncStore) -> list[str]:
    """Add a partition for every sync that lacks one. Never deletes: history must stay readable."""
    keys = missing_partition_keys(instance, store)
    if keys:
        instance.add_dynamic_partitions(SYNC_PARTITIONS.name, keys)
    return keys
