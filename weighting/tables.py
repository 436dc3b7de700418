"""Tidy estimate tables with the fixed column set of the estimation contract.

Every table has the ``by`` columns (when given), ``variable``, ``category`` (proportions only),
``quantile`` (quantiles only), ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``df``, ``n``,
``deff`` and ``cv``; one row per (domain, variable[, category][, quantile]) in domain order.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

from .degrees import domain_degrees
from .domains import (
    Domains,
    as_columns,
    check_columns,
    make_domains,
    numeric_matrix,
    present_mask,
)
from .errors import WeightingError
from .estimation import linear_estimates
from .influence import filled, influence_values, replicate_thetas
from .intervals import PROPORTION_METHODS, check_level, proportion_interval, t_interval
from .likelihood import likelihood_interval
from .variance import group_matrix, linearization_variance, replicate_variance

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

COLUMNS = ("estimate", "se", "ci_low", "ci_high", "df", "n", "deff", "cv")


def estimate_table(
    labels: pd.DataFrame,
    variables: Sequence[str],
    values: Mapping[str, ArrayLike],
    *,
    extra: Mapping[str, Sequence[object]] | None = None,
) -> pd.DataFrame:
    """Assemble a table from ``(n_domains, k)`` arrays of results.

    Parameters
    ----------
    labels : DataFrame
        One row per domain with the ``by`` columns (none without ``by``).
    variables : sequence of str, length k
        Variable name of each result column.
    values : mapping
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``df``, ``n``, ``deff``: arrays
        broadcastable to ``(n_domains, k)``; ``cv`` is computed as ``se / estimate``.
    extra : mapping, optional
        Further per-column identifiers of length k inserted after ``variable`` (``category``,
        ``quantile``).

    Examples
    --------
    >>> import pandas as pd
    >>> t = estimate_table(pd.DataFrame(index=range(1)), ["y"], {
    ...     "estimate": 2.0, "se": 0.5, "ci_low": 1.0, "ci_high": 3.0, "df": 9, "n": 10,
    ...     "deff": 1.2})
    >>> t.columns.tolist()
    ['variable', 'estimate', 'se', 'ci_low', 'ci_high', 'df', 'n', 'deff', 'cv']
    >>> float(t["cv"].iloc[0])
    0.25
    """
    n_dom = len(labels)
    k = len(variables)
    shape = (n_dom, k)
    frame: dict[Hashable, object] = {}
    for col in labels.columns:
        frame[col] = np.repeat(labels[col].to_numpy(), k)
    frame["variable"] = np.tile(np.asarray(variables, dtype=object), n_dom)
    for name, ids in (extra or {}).items():
        frame[name] = np.tile(np.asarray(ids, dtype=object), n_dom)
    est = np.broadcast_to(np.asarray(values["estimate"], dtype=np.float64), shape)
    se = np.broadcast_to(np.asarray(values["se"], dtype=np.float64), shape)
    for name in COLUMNS[:-1]:
        arr = np.broadcast_to(np.asarray(values[name]), shape)
        if name == "n":
            frame[name] = arr.astype(np.int64).ravel()
        else:
            frame[name] = arr.astype(np.float64).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["cv"] = (se / est).ravel()
    out = pd.DataFrame(frame)
    for col in labels.columns:
        out[col] = out[col].astype(labels[col].dtype)
    if "quantile" in out.columns:
        out["quantile"] = out["quantile"].astype(np.float64)
    return out


def _prepare(
    design: Design, names: list[Hashable], values: FloatArray, missing: str
) -> tuple[Design, FloatArray]:
    """Apply ``missing="drop"``: rebuild the design without rows missing any variable."""
    if missing == "drop":
        keep: BoolArray = np.asarray(~np.isnan(values).any(axis=1))
        if not keep.all():
            return design.drop_rows(keep), values[keep]
    return design, values


def linear_table(
    design: Design,
    kind: str,
    numerator: Hashable | Sequence[Hashable] | None,
    denominator: Hashable | Sequence[Hashable] | None,
    *,
    by: Hashable | Sequence[Hashable] | None,
    level: float,
    missing: str,
) -> pd.DataFrame:
    """Table of means, totals or ratios (see :class:`weighting.Design`)."""
    level = check_level(level)
    names = as_columns(numerator, "numerator" if kind == "ratio" else "variables")
    if not names:
        raise WeightingError("variables: give at least one column")
    y = numeric_matrix(design.data, names, "numerator" if kind == "ratio" else "variables")
    x = None
    labels = [str(v) for v in names]
    if kind == "ratio":
        dnames = as_columns(denominator, "denominator")
        if not dnames:
            raise WeightingError("denominator: give at least one column")
        xd = numeric_matrix(design.data, dnames, "denominator")
        ii, jj = np.repeat(np.arange(len(names)), len(dnames)), np.tile(np.arange(len(dnames)), len(names))
        y, x = y[:, ii], xd[:, jj]
        labels = [f"{names[i]}/{dnames[j]}" for i, j in zip(ii, jj)]
    both = y if x is None else np.hstack([y, x])
    design, both = _prepare(design, names, both, missing)
    k = y.shape[1]
    y, x = both[:, :k], (None if x is None else both[:, k:])
    present = present_mask(both, missing)
    if present is not None and x is not None:
        present = present[:, :k] & present[:, k:]
        if missing == "complete":
            present = np.repeat(present.all(axis=1, keepdims=True), k, axis=1)
    doms = make_domains(design.data, by, design.weights, design.subset_mask)
    if present is not None:  # our own copies: zero the missing entries once, in place
        y[~present] = 0.0
        if x is not None:
            x[~present] = 0.0
    res = linear_estimates(design, kind, y, x, present, doms.codes, doms.n_domains)
    se = np.sqrt(res.variance)
    lo, hi = t_interval(res.estimate, se, design.df, level)
    return estimate_table(
        doms.labels, labels,
        {"estimate": res.estimate, "se": se, "ci_low": lo, "ci_high": hi, "df": design.df,
         "n": res.n, "deff": res.deff},
    )


def indicators(data: pd.DataFrame, names: Sequence[Hashable]) -> tuple[FloatArray, list[str], list[object]]:
    """0/1 indicator columns of every category of every variable, NaN where missing.

    The categories are the observed values in sorted order, every category of a pandas
    ``Categorical`` (in its order, observed or not) and both values of a boolean column, so
    that a category nobody chose is listed with a proportion of 0.
    """
    check_columns(data, names, "variable")
    blocks, variables, categories = [], [], []
    for col in names:
        series = data[col]
        codes: NDArray[np.integer]
        if isinstance(series.dtype, pd.CategoricalDtype):
            codes, uniques = series.cat.codes.to_numpy(), pd.Index(series.cat.categories)
        elif pd.api.types.is_bool_dtype(series.dtype):
            codes = np.asarray(series.astype("boolean").to_numpy(dtype=np.int64, na_value=-1), dtype=np.int64)
            uniques = pd.Index([False, True], dtype=object)
        else:
            codes, uniques = pd.factorize(series, sort=True)
        block = (codes[:, None] == np.arange(len(uniques))[None, :]).astype(np.float64)
        block[codes < 0] = np.nan
        blocks.append(block)
        variables += [str(col)] * len(uniques)
        categories += list(uniques)
    return np.hstack(blocks), variables, categories


def proportion_table(
    design: Design,
    variable: Hashable | Sequence[Hashable],
    *,
    by: Hashable | Sequence[Hashable] | None,
    level: float,
    ci: str,
    missing: str,
    df: float | None = None,
) -> pd.DataFrame:
    """Table of category proportions with proportion intervals (see :class:`weighting.Design`)."""
    level = check_level(level)
    if ci not in (*PROPORTION_METHODS, "likelihood"):
        raise WeightingError(f"ci must be one of {', '.join(PROPORTION_METHODS)}, likelihood; got {ci!r}")
    names = as_columns(variable, "variable")
    y, variables, categories = indicators(design.data, names)
    design, y = _prepare(design, names, y, missing)
    present = present_mask(y, missing)
    doms = make_domains(design.data, by, design.weights, design.subset_mask)
    if present is not None:
        y[~present] = 0.0  # our own indicator matrix: missing entries are 0 for the estimators
    res = linear_estimates(design, "mean", y, None, present, doms.codes, doms.n_domains)
    estimate, variance = exact_degenerate(res.estimate, res.variance, y, present, design.weights, doms)
    if design.calibrated:
        n_rows = np.full((doms.n_domains, 1), len(design.data), dtype=np.float64)
    else:
        inside = doms.codes >= 0
        n_rows = np.bincount(doms.codes[inside], minlength=doms.n_domains)[:, None].astype(np.float64)
    ddf = domain_degrees(design, doms.codes, doms.n_domains)[:, None]
    ci_df = np.full_like(ddf, design.df if df is None else float(df)) if (by is None or df is not None) else ddf
    logit_variance = None
    if design.replicates is not None and ci == "logit":
        rep = design.replicates
        thetas = replicate_thetas(design, "mean", y, None, present, doms.codes, doms.n_domains)
        with np.errstate(divide="ignore", invalid="ignore"):
            logit_variance = replicate_variance(
                special.logit(thetas), special.logit(estimate), rep.scale, rep.rscales, mse=rep.mse
            )
    if ci == "likelihood":
        lo, hi = likelihood_interval(design, y, present, doms, estimate, variance, ci_df, level)
    else:
        lo, hi = proportion_interval(
            estimate, variance, ci_df, level, ci, n=res.n, n_rows=n_rows, domain_df=ddf,
            logit_variance=logit_variance,
        )
    deff = np.where(variance > 0, res.deff, np.nan)
    return estimate_table(
        doms.labels, variables,
        {"estimate": estimate, "se": np.sqrt(variance), "ci_low": lo, "ci_high": hi,
         "df": ci_df, "n": res.n, "deff": deff},
        extra={"category": categories},
    )


def exact_degenerate(
    estimate: FloatArray, variance: FloatArray, y: FloatArray, present: BoolArray | None,
    weights: FloatArray, doms: Domains,
) -> tuple[FloatArray, FloatArray]:
    """Proportions of exactly 0 or 1: estimate 0 or 1 and variance 0, from counts.

    With non-integer weights the ratio of weighted sums leaves rounding noise (R too:
    0.99999999998 with an SE of 1e-17); when no row (or every row) of a domain with a value
    and a nonzero weight is in the category, the proportion is 0 (1) exactly and every
    linearised or replicate variance of it is exactly 0.
    """
    counted = (weights != 0) & (doms.codes >= 0)
    rows = np.flatnonzero(counted)
    d = doms.codes[rows]
    have = np.ones((rows.size, y.shape[1])) if present is None else present[rows].astype(np.float64)
    member = group_matrix(d, doms.n_domains)
    n_with_value = np.asarray(member @ have)
    n_in_category = np.asarray(member @ (y[rows] * have))
    zero = (n_in_category == 0) & (n_with_value > 0)
    one = (n_in_category == n_with_value) & (n_with_value > 0)
    estimate = np.where(zero, 0.0, np.where(one, 1.0, estimate))
    variance = np.where(zero | one, 0.0, variance)
    return estimate, variance


def covariance_table(
    design: Design,
    statistic: str,
    variables: Hashable | Sequence[Hashable],
    *,
    by: Hashable | Sequence[Hashable] | None,
    missing: str,
) -> pd.DataFrame:
    """Covariance matrix of means or totals across variables and domains."""
    if statistic not in ("mean", "total"):
        raise WeightingError(f"statistic must be 'mean' or 'total'; got {statistic!r}")
    names = as_columns(variables, "variables")
    y = numeric_matrix(design.data, names, "variables")
    design, y = _prepare(design, names, y, missing)
    present = present_mask(y, missing)
    doms = make_domains(design.data, by, design.weights, design.subset_mask)
    if present is not None:
        y[~present] = 0.0
    cov = estimate_covariance(design, statistic, y, present, doms.codes, doms.n_domains)
    frame = doms.labels.loc[np.repeat(np.arange(doms.n_domains), len(names))].reset_index(drop=True)
    frame["variable"] = np.tile(np.asarray([str(v) for v in names], dtype=object), doms.n_domains)
    index = pd.MultiIndex.from_frame(frame)
    return pd.DataFrame(cov, index=index, columns=index)


def estimate_covariance(
    design: Design,
    kind: str,
    y: FloatArray,
    present: BoolArray | None,
    dom: IntArray,
    n_dom: int,
) -> FloatArray:
    """Covariance matrix of the means or totals of every (domain, variable) pair.

    Columns are ordered domain-major. Builds the ``n x (domains x variables)`` influence
    matrix, so it is meant for a moderate number of pairs.
    """
    res = linear_estimates(design, kind, y, None, present, dom, n_dom)
    k = y.shape[1]
    if design.replicates is not None:
        thetas = replicate_thetas(design, kind, y, None, present, dom, n_dom).reshape(-1, n_dom * k)
        rep = design.replicates
        centre = res.estimate.reshape(-1) if rep.mse else thetas[rep.rscales > 0].mean(axis=0)
        dev = (thetas - centre) * np.sqrt(rep.rscales)[:, None]
        return np.asarray(rep.scale * dev.T @ dev)
    if kind == "total":
        centre, scale = np.zeros((n_dom, k)), np.ones((n_dom, k))
    else:
        centre, scale = res.estimate, res.weight_sum
    y0, x0 = filled(y, None, present)
    z = influence_values(design, y0, x0, dom, np.arange(n_dom * k), centre, scale)
    return linearization_variance(z, design.stages, covariance=True)
