"""DataFrame helpers for the core. pandas 3 stores missing text as NaN; the core wants None."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def with_none(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Hold `columns` as Python objects, missing values as None (never NaN, which is a truthy float)."""
    for column in columns:
        values = frame[column].astype(object)
        frame[column] = values.where(values.notna(), None)
    return frame
