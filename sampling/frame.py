"""Validation of sampling frames: stratum codes, size measures, per-stratum sample sizes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sampling.errors import SamplingError, shown


def require_frame(frame: Any) -> pd.DataFrame:
    """Return ``frame`` if it is a DataFrame, else raise :class:`SamplingError`."""
    if not isinstance(frame, pd.DataFrame):
        raise SamplingError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    return frame


def require_column(frame: pd.DataFrame, column: Any, argument: str) -> pd.Series:
    """The column ``column`` of ``frame``; raises naming ``argument`` when it is absent."""
    if not isinstance(column, str | int) or column not in frame.columns:
        raise SamplingError(f"{argument}={column!r} is not a column of the frame")
    return frame[column]


def _single_codes(frame: pd.DataFrame, strata: str) -> tuple[np.ndarray, pd.Index]:
    column = require_column(frame, strata, "strata")
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.intp)
        labels = pd.Index(column.cat.categories)
    else:
        try:
            raw, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
        except TypeError:  # mixed, unorderable labels: keep first-seen order
            raw, uniques = pd.factorize(column, sort=False, use_na_sentinel=True)
        codes = np.asarray(raw, dtype=np.intp)
        labels = pd.Index(uniques)
    missing = int(np.count_nonzero(codes < 0))
    if missing:
        first = int(np.flatnonzero(codes < 0)[0])
        raise SamplingError(
            f"strata={strata!r} has {missing} missing values (first at row {shown(frame.index[first])})"
        )
    return codes, labels


def stratum_codes(
    frame: pd.DataFrame, strata: str | Sequence[str] | None
) -> tuple[np.ndarray, pd.Index]:
    """Integer stratum codes ``0..H-1`` per row and the stratum labels (sorted when sortable).

    Categorical columns keep their category order (unused categories are empty strata). Several
    columns (e.g. ``["institution", "category"]``) cross-classify: every observed combination is
    a stratum labelled by a tuple, in lexicographic order. Missing values raise
    :class:`SamplingError`.
    """
    if strata is None:
        return np.zeros(len(frame), dtype=np.intp), pd.Index(["all"], name="stratum")
    if isinstance(strata, str):
        codes, labels = _single_codes(frame, strata)
        return codes, labels.rename("stratum")
    columns = list(strata)
    if not columns:
        raise SamplingError("strata must name at least one column")
    parts = [_single_codes(frame, column) for column in columns]
    combined = np.zeros(len(frame), dtype=np.int64)
    for codes, labels in parts:  # a few columns: mixed-radix code of the combination
        combined = combined * max(len(labels), 1) + codes
    raw, uniques = pd.factorize(combined, sort=True)
    digits = []
    remainder = np.asarray(uniques, dtype=np.int64)
    for _, labels in reversed(parts):
        base = max(len(labels), 1)
        digits.append(labels.take(remainder % base))
        remainder = remainder // base
    tuples = pd.MultiIndex.from_arrays(digits[::-1]).to_flat_index()
    return np.asarray(raw, dtype=np.intp), pd.Index(tuples, tupleize_cols=False, name="stratum")


def size_values(frame: pd.DataFrame, size: str | None, method: str) -> np.ndarray:
    """The size measure column as float64, validated finite and non-negative."""
    if size is None:
        raise SamplingError(f"method={method!r} needs size (the column of size measures)")
    column = require_column(frame, size, "size")
    try:
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise SamplingError(f"size={size!r} must be numeric, got dtype {column.dtype}") from exc
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise SamplingError(
            f"size={size!r} must be finite and non-negative; row {shown(frame.index[first])} has "
            f"{shown(values[first])} ({int(bad.sum())} bad rows)"
        )
    return values


def stratum_sizes_from_mapping(n: Mapping[Any, int] | pd.Series, labels: pd.Index) -> np.ndarray:
    """Per-stratum sample sizes from a mapping, aligned on ``labels``; every stratum must appear."""
    if isinstance(n, pd.Series):
        series = n.copy()
        if isinstance(series.index, pd.MultiIndex):
            series.index = series.index.to_flat_index()
    else:
        series = pd.Series(
            list(n.values()), index=pd.Index(list(n.keys()), tupleize_cols=False), dtype=object
        )
    unknown = series.index.difference(labels)
    if len(unknown):
        raise SamplingError(f"n names strata that are not in the frame: {unknown.tolist()[:5]}")
    missing = labels.difference(series.index)
    if len(missing):
        raise SamplingError(f"n has no sample size for strata {missing.tolist()[:5]}")
    aligned = series.reindex(labels)
    numeric = pd.to_numeric(aligned, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(numeric) | (numeric < 0) | (numeric != np.floor(numeric))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise SamplingError(
            f"n for stratum {shown(labels[first])} must be a non-negative integer, got {shown(aligned.iloc[first])}"
        )
    return numeric.astype(np.int64)
