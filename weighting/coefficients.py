r"""Design-based covariance, degrees of freedom and tidy tables of model coefficients.

Shared by :mod:`weighting.regression` and :mod:`weighting.ordinal`.

* Linearisation: the influence values of the coefficients, :math:`U A^{-1}` (scores times the
  inverse of the information), are residualised by every calibration-type adjustment and
  passed to the design's variance (R ``svy.varcoef`` / ``svyrecvar``), one domain's block of
  columns at a time.
* Replicates: :math:`V = s \sum_r c_r (\hat\beta_r - \bar\beta)(\hat\beta_r - \bar\beta)'`
  (R ``svrVar``; centred on the full-sample estimate when ``mse``).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from .domains import domain_df, make_domains
from .errors import WeightingError
from .influence import replicate_rank
from .intervals import t_interval
from .model_frame import formula_from_columns
from .partitions import Partition
from .variance import linearization_variance

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

#: Influence columns passed to the variance at a time (rows x columns values).
CHUNK_CELLS = 4_000_000
#: At most this many influence columns (domains x coefficients) per covariance block.
BLOCK_COLUMNS = 64

COLUMNS = ("term", "estimate", "se", "t", "df", "p", "ci_low", "ci_high")
WALD_METHODS = ("F", "chisq")


def sandwich_covariance(design: Design, influence: FloatArray, codes: IntArray, n_dom: int) -> FloatArray:
    """Linearisation covariance of every domain's coefficients: ``(n_dom, p, p)``.

    ``influence`` is ``(n, p)``: every row's influence values for the coefficients of its own
    domain ``codes`` (``-1``: none); a domain's influence values are 0 on the other rows.
    """
    n, p = influence.shape
    out = np.empty((n_dom, p, p))
    # blocks of domains: the covariance of a block is (block x p)^2, only its diagonal blocks kept
    step = max(1, min(CHUNK_CELLS // max(n * p, 1), BLOCK_COLUMNS // p))
    for d0 in range(0, n_dom, step):
        d1 = min(n_dom, d0 + step)
        k = d1 - d0
        rows = np.flatnonzero((codes >= d0) & (codes < d1))
        z = np.zeros((n, k * p))
        z[rows[:, None], ((codes[rows] - d0) * p)[:, None] + np.arange(p)] = influence[rows]
        for adjustment in design.adjustments:
            if adjustment.residualize is not None:
                z = np.asarray(adjustment.residualize(z), dtype=np.float64)
        cov = linearization_variance(z, design.stages, covariance=True).reshape(k, p, k, p)
        out[d0:d1] = cov[np.arange(k), :, np.arange(k), :]
    return out


def replicate_covariance(design: Design, thetas: FloatArray, estimate: FloatArray) -> FloatArray:
    """Replicate covariance from ``thetas`` ``(R, n_dom, p)`` around ``estimate`` ``(n_dom, p)``.

    Replicates whose fit failed (NaN) are left out of every entry they touch, as R's
    ``svrVar`` with ``na.rm``; aliased coefficients (NaN in the estimate) give NaN.
    """
    rep = design.replicates
    rs = np.asarray(rep.rscales, dtype=np.float64)
    aliased = np.isnan(estimate)[None, :, :]
    ok: BoolArray = np.asarray((np.isfinite(thetas) | aliased).all(axis=2))  # (R, n_dom)
    values = np.where(ok[:, :, None] & ~aliased, thetas, 0.0)
    if rep.mse:
        centre = estimate
    else:
        use = ok & (rs[:, None] > 0)
        centre = (values * use[:, :, None]).sum(axis=0) / np.maximum(use.sum(axis=0), 1)[:, None]
    dev = np.where(ok[:, :, None], values - centre[None], 0.0) * np.sqrt(rs)[:, None, None]
    return np.asarray(rep.scale * np.einsum("rdi,rdj->dij", dev, dev), dtype=np.float64)


def base_df(design: Design, used: BoolArray, by: bool) -> float:
    """Degrees of freedom of the design behind a model, before the model's parameters.

    R's ``degf`` of the design the model is fitted on: for a linearisation design, the
    first-stage PSUs minus strata among the rows used (R drops rows with missing values,
    ``design[-nas, ]``), unless the design keeps the full design's df (a :meth:`subset` with
    ``df="design"``, or ``by=`` domains, as every ``by`` table); for a replicate design, the
    rank of the replicate weights minus 1 of the domain (R ``degf`` after ``subset``, before
    rows with missing values are dropped) or of the full design.
    """
    subset = design.subset_mask
    keeps_design_df = by or (subset is not None and getattr(design, "_subset_df", "design") == "design")
    if keeps_design_df:
        return design.df
    if design.replicates is not None:
        if subset is None:
            return design.df
        return float(replicate_rank(design.replicates.weights[subset]) - 1)
    s1 = design.stages[0]
    return float(domain_df(s1.cluster, s1.n_clusters, s1.cluster_stratum[s1.cluster], s1.n_strata, used))


def coefficient_table(
    labels: pd.DataFrame,
    names: Sequence[str],
    estimate: FloatArray,
    covariance: FloatArray,
    df: FloatArray,
    level: float,
) -> pd.DataFrame:
    """Tidy coefficients: the ``by`` columns, then :data:`COLUMNS`, one row per (domain, term).

    ``estimate`` is ``(n_dom, p)``, ``covariance`` ``(n_dom, p, p)``, ``df`` ``(n_dom,)``.
    ``t = estimate / se``, ``p`` two-sided from the t distribution with ``df``, the interval
    ``estimate +- t_{df} se``.
    """
    n_dom, p = estimate.shape
    se = np.sqrt(np.einsum("dii->di", covariance))
    dfs = np.broadcast_to(np.asarray(df, dtype=np.float64)[:, None], (n_dom, p))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = estimate / se
        pvalue = np.where(dfs > 0, 2.0 * stats.t.sf(np.abs(t), np.where(dfs > 0, dfs, 1.0)), np.nan)
    lo, hi = t_interval(estimate, se, dfs, level)
    frame: dict[object, object] = {}
    for col in labels.columns:
        frame[col] = np.repeat(labels[col].to_numpy(), p)
    frame["term"] = np.tile(np.asarray(list(names), dtype=object), n_dom)
    for key, value in zip(COLUMNS[1:], (estimate, se, t, dfs, pvalue, lo, hi)):
        frame[key] = np.asarray(value, dtype=np.float64).ravel()
    out = pd.DataFrame(frame)
    for col in labels.columns:
        out[col] = out[col].astype(labels[col].dtype)
    return out


def term_columns(terms: dict[str, tuple[int, ...]], wanted: Sequence[str], offset: int = 0) -> list[int]:
    """Columns of the named terms (R ``regTermTest``'s ``test.terms``); error naming a bad one.

    Examples
    --------
    >>> term_columns({"1": (0,), "x": (1,), "g": (2, 3), "x:g": (4, 5)}, ["g:x", "x"])
    [1, 4, 5]
    """
    cols: list[int] = []
    for term in wanted:
        key = _canonical(term)
        match = [k for k in terms if _canonical(k) == key]
        if not match:
            raise WeightingError(f"terms: {term!r} is not a term of the model; terms are {list(terms)}")
        cols += [offset + j for j in terms[match[0]]]
    return sorted(set(cols))


def _canonical(term: str) -> str:
    """``b:a`` and ``a:b`` are the same interaction (R ``canonicalOrder``)."""
    return ":".join(sorted(part.strip().strip("`") for part in str(term).split(":")))


def wald_statistics(
    beta: FloatArray, cov: FloatArray, null: FloatArray, df: FloatArray, method: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Wald tests of :math:`\beta = \beta_0` for every domain (R ``regTermTest``).

    ``beta`` ``(n_dom, k)``, ``cov`` ``(n_dom, k, k)``. ``method="F"``:
    :math:`F = X^2/k` on :math:`(k, df)` degrees of freedom; ``"chisq"``: :math:`X^2` on
    :math:`k`. Returns (statistic, chisq, p).
    """
    diff = beta - null
    k = beta.shape[1]
    chisq = np.einsum("di,di->d", diff, np.linalg.solve(cov, diff[:, :, None])[:, :, 0])
    if method == "F":
        stat = chisq / k
        with np.errstate(invalid="ignore"):
            p = np.where(df > 0, stats.f.sf(stat, k, np.where(df > 0, df, 1.0)), np.nan)
        return stat, chisq, p
    return chisq, chisq, stats.chi2.sf(chisq, k)


def wald_table(
    terms_map: Mapping[str, tuple[int, ...]],
    estimate: FloatArray,
    cov: FloatArray,
    dfs: FloatArray,
    labels: pd.DataFrame,
    terms: str | Sequence[str],
    method: str,
    null: Sequence[float] | None,
    df: float | None,
    offset: int = 0,
) -> pd.DataFrame:
    """The table of :meth:`Regression.wald_test` (shared with ordinal models)."""
    if method not in WALD_METHODS:
        raise WeightingError(f"method must be one of {', '.join(WALD_METHODS)}; got {method!r}")
    wanted = [terms] if isinstance(terms, str) else list(terms)
    cols = term_columns(dict(terms_map), wanted, offset)
    k = len(cols)
    null_values = np.zeros(k) if null is None else np.asarray(null, dtype=np.float64)
    if null_values.shape != (k,):
        raise WeightingError(f"null must have {k} values (one per coefficient tested); got {null!r}")
    n_dom = len(labels)
    if method == "chisq":
        ddf = np.full(n_dom, np.inf)
    else:
        ddf = np.asarray(dfs, dtype=np.float64) if df is None else np.full(n_dom, float(df))
    stat, chisq, p = wald_statistics(estimate[:, cols], cov[:, cols][:, :, cols], null_values, ddf, method)
    out = labels.reset_index(drop=True).copy()
    out["terms"] = "+".join(wanted)
    out["method"] = method
    out["statistic"], out["chisq"], out["df"], out["ddf"], out["p"] = stat, chisq, float(k), ddf, p
    return out


def model_formula(
    formula: str | None,
    response: Hashable | None,
    predictors: Sequence[Hashable] | Hashable | None,
    intercept: bool,
) -> str:
    """The formula of the model: given, or built from ``response`` and ``predictors``."""
    if formula is not None:
        if response is not None or predictors is not None:
            raise WeightingError("give either formula= or response= (with predictors=), not both")
        if not intercept:
            raise WeightingError("intercept=False is for the columns form; write '0 +' in the formula")
        return formula
    if response is None:
        raise WeightingError("give formula= ('y ~ x + g') or response= and predictors=")
    return formula_from_columns(response, predictors, intercept)


@dataclass(frozen=True)
class Domains:
    """The domains of a model: ``codes`` the domain of every row the model uses (``-1``
    elsewhere), ``all_codes`` the domain of every row (also those with missing values),
    ``n`` the rows used per domain, and the ``by`` labels (no columns without ``by``)."""

    codes: IntArray
    all_codes: IntArray
    n: NDArray[np.int64]
    labels: pd.DataFrame

    @property
    def partition(self) -> Partition:
        """The rows used, partitioned into the domains."""
        return Partition(self.codes, len(self.labels))


def model_domains(design: Design, by: Hashable | Sequence[Hashable] | None, used: BoolArray) -> Domains:
    """The domains of ``by`` (one without), leaving out those without a used row (as
    ``svyby`` leaves out empty groups)."""
    doms = make_domains(design.data, by, design.weights, design.subset_mask)
    codes = np.where(used, doms.codes, -1)
    counts = np.bincount(codes[codes >= 0], minlength=doms.n_domains)
    keep = np.flatnonzero(counts > 0)
    renumber = np.full(doms.n_domains + 1, -1, dtype=np.intp)
    renumber[keep] = np.arange(keep.size)
    return Domains(
        renumber[codes], renumber[doms.codes], counts[keep].astype(np.int64),
        doms.labels.iloc[keep].reset_index(drop=True),
    )
