"""One Dagster partition per sync, keyed by the sync's stable key (e.g. `managed-client-newsletter`)."""

from __future__ import annotations

import dagster as dg

SYNC_PARTITIONS = dg.DynamicPartitionsDefinition(name="marketing_sync")
