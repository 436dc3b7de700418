r"""Confidence intervals: Student-t intervals with the design degrees of freedom and the
proportion intervals of R's ``svyciprop``.

All functions are vectorised over arrays of estimates.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from .errors import WeightingError

FloatArray = NDArray[np.float64]

PROPORTION_METHODS = ("logit", "beta", "wilson", "wald", "asin")


def check_level(level: float) -> float:
    """Validate a confidence level in (0, 1)."""
    if not isinstance(level, (int, float)) or not 0 < float(level) < 1:
        raise WeightingError(f"level must be between 0 and 1; got {level!r}")
    return float(level)


def t_quantile(level: float, df: ArrayLike) -> FloatArray:
    """Two-sided critical value :math:`t_{df, 1 - \\alpha/2}` (normal for ``df = inf``).

    ``df <= 0`` gives NaN (no degrees of freedom, no interval).

    Examples
    --------
    >>> round(float(t_quantile(0.95, 14)), 6)
    2.144787
    >>> round(float(t_quantile(0.95, np.inf)), 6)
    1.959964
    """
    df_arr = np.asarray(df, dtype=np.float64)
    q = 1 - (1 - level) / 2
    with np.errstate(invalid="ignore"):
        out = np.where(
            np.isinf(df_arr), stats.norm.ppf(q), stats.t.ppf(q, np.where(df_arr > 0, df_arr, 1))
        )
    return np.where(df_arr > 0, out, np.nan)


def t_interval(
    estimate: ArrayLike, se: ArrayLike, df: ArrayLike, level: float
) -> tuple[FloatArray, FloatArray]:
    r"""Wald interval :math:`\hat\theta \pm t_{df, 1-\alpha/2}\, SE` (R ``confint(x, df=)``).

    Examples
    --------
    >>> lo, hi = t_interval(10.0, 1.0, 14, 0.95)
    >>> round(float(lo), 4), round(float(hi), 4)
    (7.8552, 12.1448)
    """
    t = t_quantile(level, df)
    est = np.asarray(estimate, dtype=np.float64)
    half = t * np.asarray(se, dtype=np.float64)
    return est - half, est + half


def proportion_interval(
    p: ArrayLike,
    variance: ArrayLike,
    df: ArrayLike,
    level: float,
    method: str,
    *,
    n: ArrayLike,
    n_rows: ArrayLike,
    domain_df: ArrayLike | None = None,
    logit_variance: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    r"""Confidence interval for a proportion estimated from a complex sample.

    Parameters
    ----------
    p, variance : array_like
        Estimated proportions and their design variances.
    df : array_like
        Design degrees of freedom.
    level : float
        Confidence level.
    method : {"logit", "beta", "wilson", "wald", "asin"}
        See Notes.
    n : array_like
        Unweighted sample size of each proportion (used when :math:`\hat p \in \{0, 1\}`).
    n_rows : array_like
        ``nrow(design)`` in R's Korn-Graubard degrees-of-freedom correction.
    domain_df : array_like, optional
        ``degf(design)`` of the (domain) design in that correction (R uses the subset's own
        degrees of freedom there, whatever ``df``); default ``df``.
    logit_variance : array_like, optional
        Variance of :math:`\operatorname{logit}\hat p` to use instead of the delta method
        :math:`V/(\hat p(1-\hat p))^2` (replicate designs: the replicate variance of the
        replicates' logits, as R's ``svyglm`` on a replicate design).

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper bounds.

    Notes
    -----
    With :math:`t = t_{df, 1-\alpha/2}` and :math:`V` the design variance of :math:`\hat p`:

    * ``logit`` (R ``svyciprop(method="logit")``): :math:`\operatorname{expit}(\operatorname{logit}
      \hat p \pm t \sqrt V / (\hat p (1 - \hat p)))`.
    * ``beta`` (Korn & Graubard 1998; R ``method="beta"``): effective size
      :math:`n^* = \hat p(1-\hat p)/V \cdot (t_{n-1}/t_{df_D})^2` (:math:`df_D` the domain's
      degrees of freedom) and the Clopper-Pearson limits
      :math:`B^{-1}(\alpha/2; n^*\hat p, n^*(1-\hat p) + 1)`,
      :math:`B^{-1}(1-\alpha/2; n^*\hat p + 1, n^*(1-\hat p))`.
    * ``wilson``: Wilson's score interval with the Kish effective size
      :math:`n^* = \hat p(1-\hat p)/V` and the t quantile: centre
      :math:`(\hat p + t^2/2n^*)/(1 + t^2/n^*)`, half-width
      :math:`t/(1 + t^2/n^*) \sqrt{\hat p(1-\hat p)/n^* + t^2/4n^{*2}}`.
    * ``wald`` (R ``method="mean"``): :math:`\hat p \pm t \sqrt V`.
    * ``asin`` (R ``method="asin"``): :math:`\sin^2(\arcsin\sqrt{\hat p} \pm t \sqrt V /
      (2\sqrt{\hat p(1-\hat p)}))`.

    When :math:`\hat p` is 0 or 1 the variance is 0 and the formulas above degenerate (R gives
    a zero-width interval or NaN). Then every method uses the one-sided-exact limit with the
    unweighted size ``n`` (Clopper-Pearson, as the beta method with :math:`n^* = n`): the
    interval :math:`[0, 1 - (\alpha/2)^{1/n}]` for :math:`\hat p = 0` (mirrored for 1), or for
    ``wilson`` the Wilson interval with :math:`n^* = n`, :math:`[0, t^2/(n + t^2)]`.

    References: Korn, E. L. and Graubard, B. I. (1998), Confidence intervals for proportions
    with small expected number of positive counts estimated from survey data, *Survey
    Methodology* 24, 193-201; Lumley, T., R package ``survey``, ``svyciprop``.

    Examples
    --------
    >>> lo, hi = proportion_interval(0.0, 0.0, 14, 0.95, "logit", n=14, n_rows=14)
    >>> float(lo), round(float(hi), 4)
    (0.0, 0.2316)
    """
    if method not in PROPORTION_METHODS:
        raise WeightingError(f"ci must be one of {', '.join(PROPORTION_METHODS)}; got {method!r}")
    p_arr = np.asarray(p, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    t = t_quantile(level, df)
    alpha = 1 - level
    n_arr = np.asarray(n, dtype=np.float64)
    degenerate = (p_arr <= 0) | (p_arr >= 1) | (v <= 0)
    pq = p_arr * (1 - p_arr)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "logit":
            half = t * (np.sqrt(v) / pq if logit_variance is None else np.sqrt(logit_variance))
            logit = special.logit(p_arr)
            lo, hi = special.expit(logit - half), special.expit(logit + half)
        elif method == "asin":
            centre = np.arcsin(np.sqrt(p_arr))
            half = t * np.sqrt(v) / (2 * np.sqrt(pq))
            lo, hi = np.sin(centre - half) ** 2, np.sin(centre + half) ** 2
        elif method == "wald":
            lo, hi = p_arr - t * np.sqrt(v), p_arr + t * np.sqrt(v)
        elif method == "wilson":
            lo, hi = _wilson(p_arr, pq / v, t)
        else:
            rows = np.asarray(n_rows, dtype=np.float64)
            ddf = np.asarray(df if domain_df is None else domain_df, dtype=np.float64)
            ratio = stats.t.ppf(alpha / 2, rows - 1) / stats.t.ppf(alpha / 2, ddf)
            lo, hi = _clopper_pearson(p_arr, pq / v * ratio**2, alpha)
        if method == "wilson":
            flo, fhi = _wilson(p_arr, n_arr, t)
        else:
            flo, fhi = _clopper_pearson(p_arr, n_arr, alpha)
    lo = np.where(degenerate, np.where(p_arr <= 0, 0.0, flo), lo)
    hi = np.where(degenerate, np.where(p_arr >= 1, 1.0, fhi), hi)
    return np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)


def _clopper_pearson(p: FloatArray, n_eff: FloatArray, alpha: float) -> tuple[FloatArray, FloatArray]:
    x = n_eff * p
    lo = np.where(p <= 0, 0.0, stats.beta.ppf(alpha / 2, x, n_eff - x + 1))
    hi = np.where(p >= 1, 1.0, stats.beta.ppf(1 - alpha / 2, x + 1, n_eff - x))
    return lo, hi


def _wilson(p: FloatArray, n_eff: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    t2 = t**2
    denom = 1 + t2 / n_eff
    centre = (p + t2 / (2 * n_eff)) / denom
    half = t / denom * np.sqrt(p * (1 - p) / n_eff + t2 / (4 * n_eff**2))
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
