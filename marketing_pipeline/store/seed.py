"""The seed's first sync, and `init`: migrate, then insert it if it is not there."""

from __future__ import annotations

from dataclasses import dataclass

from marketing_pipeline.store.migrate import setting_up, upgrade_database
from marketing_pipeline.store.models import Sync
from marketing_pipeline.store.repository import SyncStore

FIRST_SYNC = {
    "key": "managed-client-newsletter",
    "name": "Managed Client Newsletter",
    "description": (
        "Syncs approvers, decision makers and AM contacts from fully managed ConnectWise companies "
        "to Encharge for the monthly newsletter."
    ),
    "source_type": "connectwise",
    "dest_type": "encharge",
    "filter_config": {
        "companyTypes": [48],
        "companyExcludeTypes": [35, 5],
        "companyStatuses": [1, 19],
        "contactTypes": [1, 2, 21],
        "contactExcludeTypes": [19],
    },
    "tag_name": "managed-client-newsletter",
    "schedule": "0 6 * * 1",
    "enabled": True,
}


@dataclass(frozen=True)
class InitResult:
    syncs: list[Sync]
    created_first_sync: bool
    keys_assigned: list[str]


def initialise_store(url: str, *, paused: bool = False) -> InitResult:
    """Idempotent, and safe to run concurrently (one at a time, by the database's set-up lock): migrations,
    keys for rows that lack one, and the first sync if no row carries its name (`paused`: created disabled,
    so its schedule writes nothing until someone resumes it; an existing row is never changed)."""
    with setting_up(url):
        upgrade_database(url)
        store = SyncStore(url)
        keys = store.ensure_keys()
        existing = {name for sync in store.list_syncs() for name in (sync.name, sync.key)}
        created = False
        if FIRST_SYNC["name"] not in existing and FIRST_SYNC["key"] not in existing:
            store.create_sync(**{**FIRST_SYNC, "enabled": not paused})
            created = True
    return InitResult(syncs=store.list_syncs(), created_first_sync=created, keys_assigned=keys)
