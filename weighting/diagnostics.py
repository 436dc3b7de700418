"""Weight diagnostics: Kish effective sample size, design effect of weighting, weight summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from weighting.adjustment import FloatArray
from weighting.cells import check_weights
from weighting.errors import WeightingError

QUANTILES = (0.25, 0.5, 0.75)


def kish_effective_size(weights: ArrayLike) -> float:
    r"""Kish's effective sample size :math:`n_{eff} = (\sum w_i)^2 / \sum w_i^2`.

    Notes
    -----
    Kish (1965, sec. 11.7): the size of a simple random sample with the same precision as the
    weighted sample for a mean, when weights are unrelated to the variable.

    Examples
    --------
    >>> kish_effective_size([1.0, 3.0])
    1.6
    """
    w = check_weights(weights)
    total_sq = float(np.sum(w**2))
    if total_sq == 0:
        raise WeightingError("weights are all zero: the effective sample size is undefined")
    return float(np.sum(w)) ** 2 / total_sq


def weighting_design_effect(weights: ArrayLike) -> float:
    r"""Kish's design effect of unequal weighting :math:`1 + CV^2 = n / n_{eff}`.

    Notes
    -----
    :math:`n` counts the units with positive weight and :math:`CV` is the coefficient of
    variation of their weights with divisor :math:`n` (Kish 1965; Kish 1992).

    Examples
    --------
    >>> weighting_design_effect([1.0, 3.0])
    1.25
    """
    w = check_weights(weights)
    return float(np.count_nonzero(w)) / kish_effective_size(w)


def _group_quantiles(codes: np.ndarray, values: FloatArray, n_groups: int) -> FloatArray:
    """Quantiles (numpy's default linear interpolation) of ``values`` within every group."""
    order = np.lexsort((values, codes))
    sorted_values = values[order]
    counts = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full((n_groups, len(QUANTILES)), np.nan)
    has = counts > 0
    for k, q in enumerate(QUANTILES):  # a loop over the three quantiles, not over groups
        pos = q * (counts[has] - 1)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, counts[has] - 1)
        frac = pos - lo
        a = sorted_values[starts[has] + lo]
        b = sorted_values[starts[has] + hi]
        out[has, k] = a + (b - a) * frac
    return out


def weight_summary(
    weights: ArrayLike, base_weights: ArrayLike | None = None, by: ArrayLike | None = None
) -> pd.DataFrame:
    r"""Tidy summary of a weight vector, overall (one row) or per group of ``by``.

    Parameters
    ----------
    weights : array_like, shape (n,)
        Final weights.
    base_weights : array_like, shape (n,), optional
        Weights before adjustment; adds the distribution of ``weights / base_weights``.
    by : array_like, shape (n,), optional
        Group labels (missing labels are not allowed).

    Returns
    -------
    DataFrame
        Columns ``group`` (only with ``by``), ``n`` (positive weights), ``n_zero``, ``sum``,
        ``min``, ``max``, ``mean``, ``cv``, ``n_eff``, ``deff_weighting`` and, with
        ``base_weights``, ``ratio_min``, ``ratio_q25``, ``ratio_median``, ``ratio_q75``,
        ``ratio_max``.

    Notes
    -----
    Statistics are over the units with positive weight. :math:`CV = s/\bar w` with divisor
    :math:`n`; :math:`n_{eff} = (\sum w)^2/\sum w^2` and design effect of weighting
    :math:`1 + CV^2 = n/n_{eff}` (Kish 1965, 1992). Ratios to base weights are taken over units
    with positive base weight; quantiles use linear interpolation.

    Examples
    --------
    >>> s = weight_summary([1.0, 3.0], base_weights=[1.0, 1.5])
    >>> s[["n", "mean", "n_eff", "deff_weighting", "ratio_max"]]
       n  mean  n_eff  deff_weighting  ratio_max
    0  2   2.0    1.6            1.25        2.0
    """
    w = check_weights(weights)
    n = w.size
    if by is None:
        codes = np.zeros(n, dtype=np.intp)
        groups: pd.Index | None = None
    else:
        labels = pd.Series(np.asarray(by, dtype=object) if not isinstance(by, pd.Series) else by)
        if len(labels) != n:
            raise WeightingError(f"by has length {len(labels)} but weights has {n}")
        if labels.isna().any():
            raise WeightingError("by has missing values")
        codes_, groups = pd.factorize(labels, sort=True)
        codes = codes_.astype(np.intp)
    n_groups = 1 if groups is None else len(groups)
    pos = w > 0
    count = np.bincount(codes, weights=pos, minlength=n_groups)
    total = np.bincount(codes, weights=w, minlength=n_groups)
    total_sq = np.bincount(codes, weights=w**2, minlength=n_groups)
    wmin = np.full(n_groups, np.inf)
    np.minimum.at(wmin, codes[pos], w[pos])
    wmax = np.zeros(n_groups)
    np.maximum.at(wmax, codes[pos], w[pos])
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = total / count
        n_eff = total**2 / total_sq
        deff = count / n_eff
        cv = np.sqrt(np.maximum(deff - 1.0, 0.0))
    frame = pd.DataFrame(
        {
            "n": count.astype(np.int64),
            "n_zero": np.bincount(codes, weights=~pos, minlength=n_groups).astype(np.int64),
            "sum": total,
            "min": np.where(count > 0, wmin, np.nan),
            "max": np.where(count > 0, wmax, np.nan),
            "mean": mean,
            "cv": cv,
            "n_eff": n_eff,
            "deff_weighting": deff,
        }
    )
    if base_weights is not None:
        base = check_weights(base_weights, n, "base_weights")
        ok = base > 0
        ratio = w[ok] / base[ok]
        q = _group_quantiles(codes[ok], ratio, n_groups)
        rmin = np.full(n_groups, np.inf)
        np.minimum.at(rmin, codes[ok], ratio)
        rmax = np.full(n_groups, -np.inf)
        np.maximum.at(rmax, codes[ok], ratio)
        has = np.bincount(codes[ok], minlength=n_groups) > 0
        rmin, rmax = np.where(has, rmin, np.nan), np.where(has, rmax, np.nan)
        frame["ratio_min"] = rmin
        frame["ratio_q25"] = q[:, 0]
        frame["ratio_median"] = q[:, 1]
        frame["ratio_q75"] = q[:, 2]
        frame["ratio_max"] = rmax
    if groups is not None:
        frame.insert(0, "group", np.asarray(groups, dtype=object))
    return frame
