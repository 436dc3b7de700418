r"""Satisfaction indices: items on a 0-100 scale, share satisfied, composite index, ranks.

Public satisfaction surveys ask a set of items on a 1..5 scale with a "don't know" option
(missing, never a midpoint). Each item is reported on 0-100, :math:`100 (x - 1) / 4`, and as
the share answering 4 or 5; a composite index is a weighted mean of the item means,

.. math:: \hat I_d = \sum_k a_k \hat\mu_{kd}, \qquad \sum_k a_k = 1,

per domain :math:`d` (e.g. a county), with the linearisation variance
:math:`\hat V(\hat I_d) = a^\top \hat V_d a` where :math:`\hat V_d` is the estimated covariance
matrix of the item means in domain :math:`d` (:meth:`weighting.Design.covariance`). Items
answered by the same respondents are positively correlated, so a sum of the item variances
would understate the variance. When no item is missing the composite of the means equals the
mean of the per-respondent composite, with the same standard error.

Ranks of domains carry uncertainty: :func:`rank_intervals` draws estimates from a normal
distribution with the estimated covariance of the domain composites (linearised or from
replicate weights, whichever the design uses) and reports percentile intervals of each
domain's rank, so that domains whose rank intervals overlap are not called different
(Goldstein & Spiegelhalter 1996; Klein et al. 2020).

References: Goldstein, H. and Spiegelhalter, D. J. (1996), League tables and their
limitations, *JRSS A* 159(3); Klein, M., Wright, T. and Wieczorek, J. (2020), A joint
confidence region for an overall ranking of populations, *JRSS C* 69(3); Lumley, T. (2010),
*Complex Surveys*, sec. 2.3 (domains) and 3.2 (linear combinations).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse, stats

from .errors import WeightingError

if TYPE_CHECKING:
    from .design import Design

COMPOSITE = "composite"
ItemWeights = Mapping[Any, float] | Sequence[float] | np.ndarray | None


def rescale(values: pd.DataFrame, items: Sequence[Hashable], *, low: float = 1.0, high: float = 5.0) -> pd.DataFrame:
    """Items on a ``low..high`` scale rescaled to 0-100: :math:`100 (x - low) / (high - low)`.

    Non-numeric answers (e.g. ``"dk"``) and values outside ``[low, high]`` become missing.

    Examples
    --------
    >>> rescale(pd.DataFrame({"q": [1, 3, 5, "dk"]}), ["q"])["q"].tolist()
    [0.0, 50.0, 100.0, nan]
    """
    if not high > low:
        raise WeightingError(f"high must be greater than low; got low={low!r}, high={high!r}")
    x = _numeric(values, items)
    x = x.where((x >= low) & (x <= high))
    return (x - low) / (high - low) * 100.0


def satisfied(values: pd.DataFrame, items: Sequence[Hashable], *, threshold: float = 4.0,
              low: float = 1.0, high: float = 5.0) -> pd.DataFrame:
    """1.0 where an item is at least ``threshold`` (satisfied or very satisfied), 0.0 below, NaN missing.

    Examples
    --------
    >>> satisfied(pd.DataFrame({"q": [2, 4, 5, None]}), ["q"])["q"].tolist()
    [0.0, 1.0, 1.0, nan]
    """
    x = _numeric(values, items)
    x = x.where((x >= low) & (x <= high))
    return (x >= threshold).astype(np.float64).where(x.notna())


def _numeric(values: pd.DataFrame, items: Sequence[Hashable]) -> pd.DataFrame:
    missing = [c for c in items if c not in values.columns]
    if missing:
        raise WeightingError(f"items: columns {missing[:5]!r} are not in the data")
    return values[list(items)].apply(pd.to_numeric, errors="coerce").astype(np.float64)


def item_weights(items: Sequence[Hashable], weights: ItemWeights = None) -> np.ndarray:
    """Composite weights normalised to sum to 1 (equal when ``weights`` is None).

    Examples
    --------
    >>> item_weights(["a", "b"], {"a": 3, "b": 1}).tolist()
    [0.75, 0.25]
    """
    k = len(items)
    if k == 0:
        raise WeightingError("items must name at least one item")
    if weights is None:
        a = np.full(k, 1.0)
    elif isinstance(weights, Mapping):
        unknown = set(weights) - set(items)
        if unknown:
            raise WeightingError(f"weights name items that are not in items: {sorted(map(str, unknown))[:5]}")
        a = np.array([float(weights.get(item, 0.0)) for item in items])
    else:
        a = np.asarray(weights, dtype=np.float64)
        if a.shape != (k,):
            raise WeightingError(f"weights must have one value per item ({k}); got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a < 0) or a.sum() <= 0:
        raise WeightingError(f"weights must be non-negative, finite and not all zero; got {a.tolist()}")
    return a / a.sum()


def _blocks(design: Design, items: list[Hashable], by: Hashable | Sequence[Hashable] | None,
            missing: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Domain labels, item means (D, K), item-mean counts (D, K) and covariance (D, K, D, K)."""
    means = design.mean(items, by=by, missing=missing)
    cov = design.covariance(items, by=by, missing=missing)
    by_cols = [c for c in means.columns if c not in _TABLE_COLUMNS]
    k = len(items)
    d = len(cov) // k
    labels = cov.index.to_frame(index=False).iloc[::k].reset_index(drop=True)[by_cols] if by_cols else pd.DataFrame(index=range(1))
    names = [str(v) for v in items]
    key = pd.MultiIndex.from_frame(means[[*by_cols, "variable"]]) if by_cols else pd.Index(means["variable"])
    target = cov.index if by_cols else pd.Index(cov.index.get_level_values(-1))
    m = means.set_index(key)
    est = m["estimate"].reindex(target).to_numpy(dtype=np.float64).reshape(d, k)
    n = m["n"].reindex(target).to_numpy(dtype=np.float64).reshape(d, k)
    v = cov.to_numpy(dtype=np.float64).reshape(d, k, d, k)
    if list(cov.index.get_level_values(-1)[:k]) != names:
        raise WeightingError("covariance table is not ordered by item within domain")
    return labels, est, n, v


_TABLE_COLUMNS = {"variable", "estimate", "se", "ci_low", "ci_high", "df", "n", "deff", "cv"}


def composite_index(design: Design, items: Sequence[Hashable], *,
                    weights: ItemWeights = None,
                    by: Hashable | Sequence[Hashable] | None = None, level: float = 0.95,
                    missing: str = "domain") -> pd.DataFrame:
    r"""Composite index: weighted mean of item means per domain, with a linearised CI.

    Parameters
    ----------
    design : Design
        The survey design; items are numeric columns of its data (e.g. on 0-100).
    items : list of column names
        The items of the index.
    weights : mapping item -> weight, sequence, or None
        Item weights (normalised to sum 1); ``None`` gives equal weights.
    by : column name or list, optional
        Domains (e.g. county); every domain uses the full design.
    level : float
        Confidence level of the t interval with the design degrees of freedom.
    missing : {"domain", "complete"}
        As in :meth:`Design.mean`: item means use the respondents who answered that item
        (``"domain"``) or only those who answered every item (``"complete"``).

    Returns
    -------
    DataFrame
        ``[by], variable ("composite"), estimate, se, ci_low, ci_high, df, n, cv``; ``n`` is
        the smallest number of respondents behind any item mean of the domain.

    Notes
    -----
    :math:`\hat I_d = a^\top \hat\mu_d`, :math:`\widehat{SE}(\hat I_d) = \sqrt{a^\top \hat V_d a}`
    with :math:`\hat V_d` the diagonal block of :meth:`Design.covariance` for domain
    :math:`d` (Taylor linearisation of a linear function of means; Lumley 2010, sec. 3.2).
    Computed for all domains at once with ``einsum``.

    Examples
    --------
    >>> import weighting
    >>> data = pd.DataFrame({"w": [1.0, 2.0, 1.0, 2.0], "a": [0.0, 50.0, 100.0, 75.0],
    ...                      "b": [25.0, 50.0, 75.0, 100.0]})
    >>> d = weighting.Design(data, weights="w")
    >>> composite_index(d, ["a", "b"])[["variable", "estimate"]]
        variable  estimate
    0  composite   62.5
    """
    table, _cov = _composite(design, list(items), weights, by, level, missing)
    return table


def _composite(design: Design, names: list[Hashable], weights: ItemWeights,
               by: Hashable | Sequence[Hashable] | None, level: float, missing: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Composite table and the (D, D) covariance of the domain composites, from one covariance pass."""
    if len(set(names)) != len(names):
        raise WeightingError(f"items has duplicates: {names}")
    if not 0 < level < 1:
        raise WeightingError(f"level must be in (0, 1); got {level!r}")
    a = item_weights(names, weights)
    labels, est, n, v = _blocks(design, names, by, missing)
    cov = np.einsum("k,dkel,l->de", a, v, a)
    var = np.diagonal(cov).copy()
    used = a > 0
    estimate = est[:, used] @ a[used]
    se = np.sqrt(np.clip(var, 0.0, None))
    df = design.df
    q = stats.t.ppf(0.5 + level / 2, df) if np.isfinite(df) and df > 0 else np.nan
    out = labels.copy()
    out["variable"] = COMPOSITE
    out["estimate"] = estimate
    out["se"] = se
    out["ci_low"] = estimate - q * se
    out["ci_high"] = estimate + q * se
    out["df"] = df
    out["n"] = n[:, used].min(axis=1).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cv"] = se / estimate
    return out, cov


def ranked_composite(design: Design, items: Sequence[Hashable], *, by: Hashable,
                     weights: ItemWeights = None, level: float = 0.95,
                     missing: str = "domain", draws: int = 2000, descending: bool = True,
                     rng: int | np.random.Generator | None = None) -> pd.DataFrame:
    """:func:`composite_index` per domain with :func:`rank_intervals` from the composites' covariance.

    One covariance pass serves both. Returns the composite table with ``rank``, ``rank_low``,
    ``rank_high`` and ``rank_mean`` columns (domains without an estimate get no rank).

    Examples
    --------
    >>> import weighting
    >>> data = pd.DataFrame({"w": [1.0] * 6, "g": ["x"] * 3 + ["y"] * 3,
    ...                      "a": [90.0, 80, 100, 10, 20, 0], "b": [80.0, 90, 100, 0, 30, 10]})
    >>> ranked_composite(weighting.Design(data, weights="w"), ["a", "b"], by="g", rng=1)[["g", "rank", "rank_low", "rank_high"]]
       g  rank  rank_low  rank_high
    0  x     1         1          1
    1  y     2         2          2
    """
    table, cov = _composite(design, list(items), weights, by, level, missing)
    ok = np.isfinite(table["estimate"].to_numpy())
    ranks = rank_intervals(table.loc[ok, "estimate"], cov[np.ix_(ok, ok)], level=level, draws=draws,
                           descending=descending, rng=rng)
    return table.join(ranks[["rank", "rank_low", "rank_high", "rank_mean"]])


def composite_covariance(design: Design, items: Sequence[Hashable], *, by: Hashable | Sequence[Hashable],
                         weights: ItemWeights = None,
                         missing: str = "domain") -> pd.DataFrame:
    r"""Covariance matrix of the composite index across domains, :math:`A^\top V A`.

    ``A`` is block diagonal with the item weights; ``V`` the full covariance of the item means
    over all domains (linearised, or from the replicate weights of a replicate design, so that
    cross-domain covariances from calibration are kept). Rows and columns are the domains.

    Examples
    --------
    >>> import weighting
    >>> data = pd.DataFrame({"w": [1.0] * 4, "g": ["x", "x", "y", "y"],
    ...                      "a": [0.0, 100.0, 50.0, 50.0], "b": [0.0, 100.0, 0.0, 100.0]})
    >>> composite_covariance(weighting.Design(data, weights="w"), ["a", "b"], by="g").round(2)
    g        x     y
    g
    x  1666.67  0.00
    y     0.00  416.67
    """
    names = list(items)
    a = item_weights(names, weights)
    labels, _est, _n, v = _blocks(design, names, by, missing)
    cov = np.einsum("k,dkel,l->de", a, v, a)
    index = pd.MultiIndex.from_frame(labels) if labels.shape[1] > 1 else pd.Index(labels.iloc[:, 0])
    return pd.DataFrame(cov, index=index, columns=index)


def rank_intervals(estimates: pd.Series, covariance: pd.DataFrame | np.ndarray, *, level: float = 0.95,
                   draws: int = 2000, descending: bool = True,
                   rng: int | np.random.Generator | None = None) -> pd.DataFrame:
    r"""Ranks of domains with percentile intervals from a seeded simulation.

    Parameters
    ----------
    estimates : Series
        Estimate per domain (index: the domains).
    covariance : DataFrame or ndarray, shape (D, D)
        Their estimated covariance (e.g. :func:`composite_covariance`), aligned with ``estimates``.
    level : float
        Coverage of each rank interval.
    draws : int
        Number of simulated sets of estimates.
    descending : bool
        Rank 1 is the highest estimate (satisfaction) when True.
    rng : seed or Generator
        Passed through :func:`numpy.random.default_rng`.

    Returns
    -------
    DataFrame
        Index the domains; ``rank`` (of the estimates), ``rank_low``, ``rank_high`` (percentile
        interval of the simulated ranks), ``rank_mean``. Ties in the estimates share the lower rank.

    Notes
    -----
    Draws :math:`\theta^{(s)} \sim N(\hat\theta, \hat V)` (Cholesky factor of the covariance,
    eigenvalue floor for a semi-definite matrix) and ranks every draw; the interval is the
    :math:`(1-level)/2` and :math:`(1+level)/2` quantiles of each domain's ranks
    (lower and higher order statistics, so the bounds are ranks). Two domains whose intervals
    overlap cannot be ordered at that level.

    Examples
    --------
    >>> est = pd.Series([80.0, 60.0, 59.0], index=["a", "b", "c"])
    >>> r = rank_intervals(est, np.diag([0.01, 4.0, 4.0]), rng=1)
    >>> r[["rank", "rank_low", "rank_high"]].to_dict("list")
    {'rank': [1, 2, 3], 'rank_low': [1, 2, 2], 'rank_high': [1, 3, 3]}
    """
    theta = np.asarray(estimates, dtype=np.float64)
    d = theta.size
    v = np.asarray(covariance, dtype=np.float64)
    if v.shape != (d, d):
        raise WeightingError(f"covariance must be {d} x {d} (one row per estimate); got shape {v.shape}")
    if not np.all(np.isfinite(theta)) or not np.all(np.isfinite(v)):
        raise WeightingError("estimates and covariance must be finite (drop domains without an estimate)")
    if not 0 < level < 1:
        raise WeightingError(f"level must be in (0, 1); got {level!r}")
    if draws < 10:
        raise WeightingError(f"draws must be at least 10; got {draws!r}")
    generator = np.random.default_rng(rng)
    eigval, eigvec = np.linalg.eigh((v + v.T) / 2)
    root = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    sims = theta + generator.standard_normal((draws, d)) @ root.T
    sign = -1.0 if descending else 1.0
    ranks = (sign * sims).argsort(axis=1).argsort(axis=1) + 1
    tail = (1 - level) / 2
    low = np.quantile(ranks, tail, axis=0, method="lower")
    high = np.quantile(ranks, 1 - tail, axis=0, method="higher")
    point = pd.Series(sign * theta).rank(method="min").to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {"estimate": theta, "rank": point, "rank_low": low.astype(np.int64), "rank_high": high.astype(np.int64),
         "rank_mean": ranks.mean(axis=0)},
        index=estimates.index,
    )


def bootstrap_rank_intervals(design: Design, items: Sequence[Hashable], *, by: Hashable,
                             weights: ItemWeights = None, level: float = 0.95,
                             descending: bool = True) -> pd.DataFrame:
    r"""Rank intervals of domain composites from bootstrap replicate weights (percentile method).

    Parameters
    ----------
    design : Design
        A design switched to bootstrap replicates (``design.replicate("bootstrap", ...)``); its
        weighting adjustments were re-applied to every replicate.
    items, weights : as :func:`composite_index`.
    by : column name
        The domains to rank (e.g. county).
    level : float
        Coverage of each interval.
    descending : bool
        Rank 1 is the highest composite when True.

    Returns
    -------
    DataFrame
        Index the domains (sorted); ``estimate`` (full-sample composite), ``rank``,
        ``rank_low``, ``rank_high``, ``rank_mean`` over the replicates.

    Notes
    -----
    For replicate :math:`r`, the composite of domain :math:`d` is
    :math:`\sum_k a_k \sum_{i \in d} w_{ir} y_{ik} / \sum_{i \in d} w_{ir}` over the respondents
    who answered item :math:`k`; domains are ranked within each replicate and the interval is
    the percentile interval of each domain's ranks (Hall & Miller 2009). Only bootstrap
    replicates resample the design; jackknife or BRR replicates do not spread like the sampling
    distribution, so they are refused (use :func:`ranked_composite`, which uses their covariance).

    References: Hall, P. and Miller, H. (2009), Using the bootstrap to quantify the authority of
    an empirical ranking, *Annals of Statistics* 37(6B).

    Examples
    --------
    >>> import weighting
    >>> data = pd.DataFrame({"g": ["x", "y"] * 20, "a": [90.0, 10.0] * 20, "b": [80.0, 20.0] * 20})
    >>> d = weighting.Design(data, weights=np.ones(40)).replicate("bootstrap", replicates=50, rng=1)
    >>> bootstrap_rank_intervals(d, ["a", "b"], by="g")[["rank", "rank_low", "rank_high"]]
       rank  rank_low  rank_high
    g
    x     1         1          1
    y     2         2          2
    """
    reps = design.replicates
    if reps is None or reps.method != "bootstrap":
        raise WeightingError("bootstrap_rank_intervals needs a design with bootstrap replicates "
                             "(design.replicate('bootstrap', replicates=..., rng=...))")
    if not 0 < level < 1:
        raise WeightingError(f"level must be in (0, 1); got {level!r}")
    names = list(items)
    a = item_weights(names, weights)
    data = design.data
    x = _numeric(data, names).to_numpy()
    if by not in data.columns:
        raise WeightingError(f"by: column {by!r} is not in the data")
    codes, labels = pd.factorize(data[by], sort=True)
    inside = codes >= 0
    if design.subset_mask is not None:
        inside &= design.subset_mask
    n_domains = len(labels)
    group = sparse.csr_matrix((np.ones(int(inside.sum())), (codes[inside], np.flatnonzero(inside))),
                              shape=(n_domains, len(data)))
    full = design.weights[:, None]
    columns = np.hstack([full, np.asarray(reps.weights, dtype=np.float64)])  # column 0: the full sample
    composite = np.zeros((n_domains, columns.shape[1]))
    for k in np.flatnonzero(a > 0):  # a handful of items; every domain and replicate at once
        present = np.isfinite(x[:, k])
        value = np.where(present, x[:, k], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            composite += a[k] * (group @ (value[:, None] * columns)) / (group @ (present[:, None] * columns))
    sign = -1.0 if descending else 1.0
    ranks = (sign * composite[:, 1:]).argsort(axis=0).argsort(axis=0) + 1
    tail = (1 - level) / 2
    return pd.DataFrame(
        {"estimate": composite[:, 0],
         "rank": pd.Series(sign * composite[:, 0]).rank(method="min").to_numpy(dtype=np.int64),
         "rank_low": np.quantile(ranks, tail, axis=1, method="lower").astype(np.int64),
         "rank_high": np.quantile(ranks, 1 - tail, axis=1, method="higher").astype(np.int64),
         "rank_mean": ranks.mean(axis=1)},
        index=pd.Index(labels, name=by),
    )


def loading_weights(data: pd.DataFrame, items: Sequence[Hashable], *, weights: Hashable | ArrayLike | None = None) -> pd.Series:
    r"""Item weights from a one-factor model: squared loadings of the first principal component.

    Parameters
    ----------
    data : DataFrame
        Respondents' item scores (e.g. on 0-100); rows missing any item are left out.
    items : list of column names
    weights : column name, array_like or None
        Respondent weights for the correlation matrix (equal when None).

    Returns
    -------
    Series
        Item -> weight, non-negative and summing to 1.

    Notes
    -----
    The weighted correlation matrix :math:`R` of the items is decomposed as
    :math:`R = \sum_j \lambda_j v_j v_j^\top`; with the first (largest) component
    :math:`v_1`, the weight of item :math:`k` is :math:`v_{1k}^2` (the squared loading scaled to
    unit sum), as in the factor-analysis weighting of the OECD/JRC *Handbook on Constructing
    Composite Indicators* (Nardo et al. 2008, sec. 6.1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=500)
    >>> d = pd.DataFrame({"a": f + rng.normal(0, .3, 500), "b": f + rng.normal(0, .3, 500),
    ...                   "c": rng.normal(size=500)})
    >>> w = loading_weights(d, ["a", "b", "c"])
    >>> bool(w["a"] > 0.4 and w["b"] > 0.4 and w["c"] < 0.05), round(float(w.sum()), 12)
    (True, 1.0)
    """
    names = list(items)
    if len(names) < 2:
        raise WeightingError("loading_weights needs at least two items")
    x = _numeric(data, names).to_numpy()
    if weights is None:
        w = np.ones(len(data))
    elif isinstance(weights, Hashable) and not isinstance(weights, tuple) and weights in data.columns:
        w = pd.to_numeric(data[weights], errors="coerce").to_numpy(dtype=np.float64)
    else:
        w = np.asarray(weights, dtype=np.float64)
    if w.shape != (len(data),) or not np.all(np.isfinite(w) & (w >= 0)):
        raise WeightingError(f"weights must be one non-negative finite value per row ({len(data)})")
    complete = np.isfinite(x).all(axis=1) & (w > 0)
    if complete.sum() < len(names) + 1:
        raise WeightingError(f"too few rows answering every item ({int(complete.sum())}) to estimate loadings")
    x, w = x[complete], w[complete]
    centred = x - (w @ x) / w.sum()
    cov = (centred * w[:, None]).T @ centred / w.sum()
    sd = np.sqrt(np.diag(cov))
    if np.any(sd == 0):
        raise WeightingError(f"items without variation: {[n for n, s in zip(names, sd, strict=True) if s == 0]}")
    corr = cov / np.outer(sd, sd)
    _values, vectors = np.linalg.eigh(corr)
    first = vectors[:, -1]
    return pd.Series(first**2 / (first**2).sum(), index=pd.Index(names))
