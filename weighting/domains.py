"""Domains (``by`` groups) and analysis variables, factorised once per estimate call.

A domain estimate keeps every PSU and stratum of the design: rows outside the domain get
weight 0 in the influence values, they are never dropped before the variance (R ``svyby`` /
``subset``). Missing values of an analysis variable are a domain of their own (R
``na.rm=TRUE``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .errors import WeightingError
from .variance import compress

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

MISSING = ("domain", "complete", "drop")


@dataclass(frozen=True)
class Domains:
    """Domain code of every row and the ``by`` values of every domain.

    Attributes
    ----------
    codes : ndarray of intp, shape (n,)
        Domain of each row, ``-1`` for rows in no domain (outside a subset, missing ``by``).
    n_domains : int
        Number of domains (1 without ``by``).
    labels : DataFrame
        One row per domain with the ``by`` columns (no columns without ``by``).
    """

    codes: IntArray
    n_domains: int
    labels: pd.DataFrame


def as_columns(value: Hashable | Sequence[Hashable] | None, argument: str) -> list[Hashable]:
    """Normalise a column name or a list of names to a list (``None`` gives ``[]``)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return [value]
    names = list(value)
    if not names:
        raise WeightingError(f"{argument} must name at least one column; got an empty list")
    return names


def check_columns(data: pd.DataFrame, columns: Sequence[Hashable], argument: str) -> None:
    """Raise :class:`WeightingError` naming ``argument`` if a column is not in ``data``."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise WeightingError(f"{argument}: column {missing[0]!r} is not in the data")


def numeric_matrix(data: pd.DataFrame, columns: Sequence[Hashable], argument: str) -> FloatArray:
    """The columns as an ``(n, k)`` float64 matrix with NaN for missing values."""
    check_columns(data, columns, argument)
    out = np.empty((len(data), len(columns)), order="F")
    for j, col in enumerate(columns):
        series = data[col]
        if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            out[:, j] = series.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            raise WeightingError(
                f"{argument}: column {col!r} is not numeric (dtype {series.dtype}); use "
                "proportion() for categorical variables"
            )
    return out


def present_mask(values: FloatArray, missing: str) -> BoolArray | None:
    """Rows used for each column: ``None`` when nothing is missing.

    ``missing="domain"``: each column its own non-missing rows; ``"complete"``: rows with no
    missing value in any of the columns (R's ``na.rm=TRUE`` with several variables).
    """
    if missing not in MISSING:
        raise WeightingError(f"missing must be one of {', '.join(MISSING)}; got {missing!r}")
    present = ~np.isnan(values)
    if present.all():
        return None
    if missing == "complete":
        present = np.repeat(present.all(axis=1, keepdims=True), values.shape[1], axis=1)
    return present


def make_domains(
    data: pd.DataFrame,
    by: Hashable | Sequence[Hashable] | None,
    weights: FloatArray,
    subset: BoolArray | None,
) -> Domains:
    """Factorise the ``by`` columns into domain codes, in sorted order of their values.

    A domain exists when it has at least one row with a nonzero weight inside ``subset`` (R
    ``svyby`` drops empty groups); rows with a missing ``by`` value are in no domain.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> data = pd.DataFrame({"g": ["b", "a", "b", None]})
    >>> d = make_domains(data, "g", np.ones(4), None)
    >>> d.codes.tolist(), d.labels["g"].tolist()
    ([1, 0, 1, -1], ['a', 'b'])
    """
    n = len(data)
    inside = np.ones(n, dtype=bool) if subset is None else subset
    columns = as_columns(by, "by")
    if not columns:
        codes = np.where(inside, 0, -1).astype(np.intp)
        return Domains(codes, 1, pd.DataFrame(index=range(1)))
    check_columns(data, columns, "by")
    key = np.zeros(n, dtype=np.int64)
    valid = inside.copy()
    uniques = []
    radix = 1
    for col in columns:
        c, u = pd.factorize(data[col], sort=True)
        uniques.append(u)
        valid &= c >= 0
        key = key * max(len(u), 1) + np.maximum(c, 0) if radix > 1 else np.maximum(c, 0).astype(np.int64)
        radix *= max(len(u), 1)
        if radix > 2**62:
            raise WeightingError(
                f"by: the columns {columns!r} have too many combinations of values ({radix:.3g}); "
                "combine them into one column first"
            )
    eligible = valid & (weights != 0)
    if radix <= 4 * n + 1_000_000:
        seen = np.zeros(radix, dtype=bool)
        seen[key if eligible.all() else key[eligible]] = True
        levels = np.flatnonzero(seen).astype(np.int64)
        lookup = np.full(radix, -1, dtype=np.intp)
        lookup[levels] = np.arange(levels.size)
        codes = lookup[key]
        if not valid.all():
            codes[~valid] = -1
    else:
        levels = np.unique(key[eligible])
        codes = np.full(n, -1, dtype=np.intp)
        if levels.size:
            pos = np.minimum(np.searchsorted(levels, key), levels.size - 1)
            hit = valid & (levels[pos] == key)
            codes[hit] = pos[hit]
    labels: dict[Hashable, pd.Index] = {}
    rest = levels.copy()
    for col, u in zip(reversed(columns), reversed(uniques)):
        size = max(len(u), 1)
        labels[col] = pd.Index(u).take(rest % size)
        rest //= size
    frame = pd.DataFrame({col: labels[col] for col in columns})
    return Domains(codes, int(levels.size), frame)


def domain_df(
    cluster: IntArray, n_clusters: int, stratum: IntArray, n_strata: int, rows: BoolArray
) -> int:
    """R ``degf``: first-stage clusters minus strata among ``rows`` (nonzero-weight rows).

    Examples
    --------
    >>> import numpy as np
    >>> domain_df(np.array([0, 0, 1, 2]), 3, np.array([0, 0, 0, 1]), 2, np.ones(4, bool))
    1
    """
    _, used_clusters = compress(cluster[rows].astype(np.int64), n_clusters)
    _, used_strata = compress(stratum[rows].astype(np.int64), n_strata)
    return int(used_clusters.size - used_strata.size)


def domain_dfs(
    cluster: IntArray, stratum: IntArray, weights: FloatArray, dom: IntArray, n_dom: int
) -> FloatArray:
    """:func:`domain_df` of every domain at once: R ``degf(subset(design, domain))``.

    Examples
    --------
    >>> import numpy as np
    >>> domain_dfs(np.array([0, 1, 2, 3]), np.array([0, 0, 1, 1]), np.ones(4),
    ...            np.array([0, 0, 0, 1]), 2).tolist()
    [1.0, 0.0]
    """
    rows = (dom >= 0) & (weights != 0)
    d = dom[rows].astype(np.int64)
    _, pairs = compress(cluster[rows].astype(np.int64) * n_dom + d, int(cluster.max(initial=0) + 1) * n_dom)
    _, strata = compress(stratum[rows].astype(np.int64) * n_dom + d, int(stratum.max(initial=0) + 1) * n_dom)
    clusters_per = np.bincount(pairs % n_dom, minlength=n_dom)
    strata_per = np.bincount(strata % n_dom, minlength=n_dom)
    return (clusters_per - strata_per).astype(np.float64)
