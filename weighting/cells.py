"""Validation and group arithmetic shared by the weighting adjustments.

Every adjustment maps rows to cells (post-strata, raking margins, weighting classes) once, as
integer codes, and then works with sparse indicator matrices: a group sum of an (n,) or (n, R)
array is one sparse matrix product, so the same code serves the full-sample weights and a
matrix of replicate weights without a Python loop over rows, groups or replicates.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from weighting.errors import WeightingError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


def check_weights(weights: ArrayLike, n: int | None = None, name: str = "weights") -> FloatArray:
    """Return ``weights`` as a finite, non-negative float64 vector (of length ``n`` if given).

    Examples
    --------
    >>> check_weights([1, 2.5])
    array([1. , 2.5])
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise WeightingError(f"{name} must be one-dimensional, got shape {w.shape}")
    if n is not None and w.shape[0] != n:
        raise WeightingError(f"{name} has length {w.shape[0]} but data has {n} rows")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WeightingError(
            f"{name} must be finite and non-negative; {int(bad.sum())} value(s) are not, "
            f"first at position {i}: {w[i]!r}"
        )
    return w


def require_columns(data: pd.DataFrame, columns: Sequence[Hashable], argument: str) -> None:
    """Raise :class:`WeightingError` naming ``argument`` if a column is missing from ``data``."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise WeightingError(f"{argument} refers to column(s) {missing} that are not in data")


def require_complete(data: pd.DataFrame, columns: Sequence[Hashable], argument: str) -> None:
    """Raise :class:`WeightingError` if a column used by ``argument`` has missing values."""
    for column in columns:
        na = data[column].isna().to_numpy()
        if na.any():
            raise WeightingError(
                f"{argument}: column {column!r} has {int(na.sum())} missing value(s), "
                f"first at row {int(np.flatnonzero(na)[0])}; every unit needs a cell"
            )


def match_levels(values: pd.Series | pd.Index, levels: Sequence[Any], argument: str) -> IntArray:
    """Codes of ``values`` in ``levels`` (position in the list); error on unknown values.

    ``values`` is a column, or a :class:`pandas.MultiIndex` of several columns whose levels
    are tuples.

    Examples
    --------
    >>> match_levels(pd.Series(["b", "a", "b"]), ["a", "b"], "margins['x']")
    array([1, 0, 1])
    >>> frame = pd.DataFrame({"s": ["f", "m"], "a": ["y", "y"]})
    >>> match_levels(pd.MultiIndex.from_frame(frame), [("m", "y"), ("f", "y")], "margins")
    array([1, 0])
    """
    index = pd.Index(list(levels), tupleize_cols=True)
    if index.has_duplicates:
        dup = index[index.duplicated()].tolist()
        raise WeightingError(f"{argument} lists level(s) {dup} more than once")
    codes = np.asarray(index.get_indexer(values), dtype=np.intp)
    unmatched = codes < 0
    if unmatched.any():
        unknown = pd.unique(np.asarray(values[unmatched], dtype=object))[:5].tolist()
        name = values.names if isinstance(values, pd.MultiIndex) else values.name
        raise WeightingError(
            f"{argument}: data column {name!r} has value(s) {unknown} with no level in "
            f"{argument} (levels: {index.tolist()[:10]})"
        )
    return codes


def combine_codes(
    arrays: Sequence[pd.Series | np.ndarray | Sequence[Any]],
) -> tuple[IntArray, IntArray]:
    """Cell codes of the crossed ``arrays``, numbered by first appearance, and each cell's first row.

    Factorises each array once and renumbers the combined integer keys after each one, so no
    tuples are built (much faster than factorising a MultiIndex).

    Examples
    --------
    >>> combine_codes([["a", "b", "a", "a"], [1, 1, 2, 1]])
    (array([0, 1, 2, 0]), array([0, 1, 2]))
    """
    codes = np.zeros(len(arrays[0]) if arrays else 0, dtype=np.int64)
    for values in arrays:
        part, uniques = pd.factorize(
            np.asarray(values) if not isinstance(values, pd.Series) else values
        )
        codes = pd.factorize(codes * len(uniques) + part)[0]
    codes = codes.astype(np.intp)
    return codes, np.unique(codes, return_index=True)[1].astype(np.intp)


def indicator(codes: IntArray, n_groups: int) -> sp.csr_matrix:
    """Sparse (n_groups, n) 0/1 matrix with a one at (codes[i], i); group sums are ``S @ x``."""
    n = codes.shape[0]
    return sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_groups, n), dtype=np.float64)


def group_sums(S: sp.csr_matrix, values: FloatArray) -> FloatArray:
    """Group sums of an (n,) or (n, k) array with an indicator from :func:`indicator`."""
    return np.asarray(S @ values, dtype=np.float64)


def as_matrix(weights: ArrayLike) -> tuple[FloatArray, bool]:
    """View (n,) as (n, 1); return the 2-D array and whether the input was one-dimensional."""
    W = np.asarray(weights, dtype=np.float64)
    if W.ndim == 1:
        return W[:, None], True
    if W.ndim == 2:
        return W, False
    raise WeightingError(f"weights must have shape (n,) or (n, R), got {W.shape}")


def label(level: Any) -> str:
    """Readable cell label for messages: tuples become ``a/b``."""
    if isinstance(level, tuple):
        return "/".join(str(x) for x in level)
    return str(level)
