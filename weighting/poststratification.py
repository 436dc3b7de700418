"""Post-stratification to known population counts (R ``survey::postStratify``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from weighting.adjustment import Adjustment, FloatArray
from weighting.cells import (
    as_matrix,
    check_weights,
    group_sums,
    indicator,
    label,
    require_columns,
    require_complete,
)
from weighting.errors import WeightingError

COUNT = "count"


def _population_cells(data: pd.DataFrame, population: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """Post-stratum columns and, for each data row, the index of its population row."""
    if not isinstance(population, pd.DataFrame) or COUNT not in population.columns:
        raise WeightingError(
            "population must be a DataFrame with the post-stratum columns and 'count'"
        )
    columns = [c for c in population.columns if c != COUNT]
    if not columns:
        raise WeightingError("population has no post-stratum column besides 'count'")
    require_columns(data, columns, "population")
    require_complete(data, columns, "poststratify")
    if population[columns].isna().to_numpy().any():
        raise WeightingError("population has missing values in its post-stratum columns")
    if len(columns) == 1:
        pop_index: pd.Index = pd.Index(population[columns[0]])
        data_index: pd.Index = pd.Index(data[columns[0]])
    else:
        pop_index = pd.MultiIndex.from_frame(population[columns])
        data_index = pd.MultiIndex.from_frame(data[columns])
    if pop_index.has_duplicates:
        dup = [label(x) for x in pop_index[pop_index.duplicated()][:5]]
        raise WeightingError(f"population lists post-stratum/strata {dup} more than once")
    codes = np.asarray(pop_index.get_indexer(data_index), dtype=np.intp)
    if (codes < 0).any():
        missing = pd.unique(np.asarray(data_index[codes < 0], dtype=object))[:5]
        raise WeightingError(
            f"post-stratum/strata {[label(x) for x in missing]} of {columns} occur in data but have "
            "no row in population"
        )
    return columns, codes


def poststratify(data: pd.DataFrame, weights: FloatArray, population: pd.DataFrame) -> Adjustment:
    r"""Post-stratify ``weights`` to the population counts of the cells in ``population``.

    Parameters
    ----------
    data : DataFrame
        One row per unit, with the post-stratum column(s).
    weights : ndarray, shape (n,)
        Current weights.
    population : DataFrame
        One row per post-stratum: the post-stratum columns (same names as in ``data``; several
        columns define crossed cells) and ``count``, the population count :math:`N_g > 0`.

    Returns
    -------
    Adjustment
        ``kind="poststratify"``; ``reapply`` post-stratifies (n,) or (n, R) weights to the same
        counts; ``residualize`` gives the post-stratified influence values.

    Raises
    ------
    WeightingError
        A post-stratum of the data without a population row, a population cell without sampled
        weight (named), a count that is not positive, missing values in a post-stratum column.

    Notes
    -----
    The new weight of unit :math:`i` in post-stratum :math:`g` is
    :math:`w_i N_g / \hat N_g`, with :math:`\hat N_g = \sum_{i \in g} w_i` (Holt & Smith 1979;
    Lumley 2010, sec. 7.2). For the linearisation variance the weighted influence values
    :math:`z_i` are replaced by :math:`z_i - w^*_i \bar e_g`, with
    :math:`\bar e_g = \sum_{i\in g} d_i z_i / w^*_i \,/\, \sum_{i \in g} d_i`, :math:`d` the
    weights before and :math:`w^*` after post-stratifying, exactly as ``svyrecvar`` in R's
    ``survey`` package does for a ``postStratify`` design.

    In ``reapply`` a replicate whose weights in a cell are all zero gets ``nan`` weights in that
    cell (R gives ``NaN`` there too): the cell cannot be post-stratified in that replicate.

    Examples
    --------
    >>> data = pd.DataFrame({"sex": ["f", "m", "m"]})
    >>> population = pd.DataFrame({"sex": ["f", "m"], "count": [60.0, 40.0]})
    >>> poststratify(data, np.array([10.0, 10.0, 30.0]), population).weights
    array([60., 10., 30.])
    """
    columns, codes = _population_cells(data, population)
    w = check_weights(weights, len(data))
    counts = pd.to_numeric(population[COUNT], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(counts) | (counts <= 0)
    if bad.any():
        cells = population.loc[bad, columns].astype(str).agg("/".join, axis=1).tolist()[:5]
        raise WeightingError(f"population count must be positive and finite; cells {cells} are not")
    n_cells = counts.shape[0]
    S = indicator(codes, n_cells)
    sample_totals = group_sums(S, w)
    empty = sample_totals <= 0
    if empty.any():
        cells = population.loc[empty, columns].astype(str).agg("/".join, axis=1).tolist()[:5]
        raise WeightingError(
            f"population cell(s) {cells} of {columns} have no sampled units with positive weight; "
            "collapse them with a neighbour before post-stratifying"
        )
    factors = counts / sample_totals
    new = w * factors[codes]

    def reapply(W: FloatArray) -> FloatArray:
        M, flat = as_matrix(W)
        totals = group_sums(S, M)
        ratio = np.divide(
            counts[:, None], totals, out=np.full(totals.shape, np.nan), where=totals > 0
        )
        out = M * ratio[codes]
        return out[:, 0] if flat else out

    def residualize(z: FloatArray) -> FloatArray:
        Z, flat = as_matrix(z)
        psw = np.where((new == 0) & (w == 0), 1.0, new)
        share = np.divide(w, psw, out=np.zeros_like(w), where=psw > 0)
        means = group_sums(S, Z * share[:, None]) / sample_totals[:, None]
        out = Z - means[codes] * new[:, None]
        return out[:, 0] if flat else out

    return Adjustment(
        kind="poststratify",
        weights=new,
        reapply=reapply,
        residualize=residualize,
        details={
            "columns": tuple(columns),
            "cells": int(n_cells),
            "factor_min": float(factors.min()),
            "factor_max": float(factors.max()),
            "population_total": float(counts.sum()),
        },
    )
