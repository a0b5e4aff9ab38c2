"""What the sync's assets share: their group in the UI, the table preview in their metadata, and the API
clients that learn their request rate from run to run."""

from contextlib import AbstractContextManager

import dagster as dg
import pandas as pd

from marketing_pipeline.connectwise.client import ConnectWiseClient
from marketing_pipeline.defs.resources import ConnectWiseResource, EnchargeResource
from marketing_pipeline.encharge.client import EnchargeClient
from marketing_pipeline.runs.api_throughput import learning_client
from marketing_pipeline.store.repository import SyncStore

GROUP = "marketing_sync"
PREVIEW_ROWS = 25


def preview(frame: pd.DataFrame, columns: list[str]) -> dg.MetadataValue:
    shown = frame[columns].head(PREVIEW_ROWS).astype(object)
    shown = shown.where(shown.notna(), None)
    schema = dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns])
    records = [
        dg.TableRecord({c: "" if v is None else str(v) for c, v in zip(columns, row, strict=True)})
        for row in shown.itertuples(index=False)
    ]
    return dg.MetadataValue.table(records=records, schema=schema)


def connectwise_client(
    context: dg.AssetExecutionContext, connectwise: ConnectWiseResource, store: SyncStore
) -> AbstractContextManager[ConnectWiseClient]:
    return learning_client(
        store, "connectwise", lambda rate: connectwise.get_client(log=context.log, learned_rate=rate)
    )


def encharge_client(encharge: EnchargeResource, store: SyncStore) -> AbstractContextManager[EnchargeClient]:
    return learning_client(store, "encharge", lambda rate: encharge.get_client(learned_rate=rate))
