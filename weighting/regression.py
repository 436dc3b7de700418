r"""Design-based generalised linear models (R ``svyglm``), Wald tests of terms, predictions.

:func:`fit_glm` fits a linear (``gaussian``), logistic (``quasibinomial``) or Poisson
(``quasipoisson``) model with the design's final weights and returns a :class:`Regression`:
a tidy coefficient table with design-based standard errors, the model's df, dispersion and
n, Wald tests of terms and predictions with standard errors.

Notes (R ``survey`` 4.1.1: ``svyglm``, ``svy.varcoef``, ``summary.svyglm``, ``regTermTest``,
``predict.svyglm``; Binder 1983; Lumley 2010, ch. 5):

* Estimates solve the weighted score equations :math:`\sum_i w_i x_i (y_i - \mu_i)
  \mu'_i / V(\mu_i) = 0` (IRLS, :mod:`weighting.families`).
* Linearisation (sandwich) covariance: influence values :math:`U A^{-1}` with scores
  :math:`U_i = w_i x_i (y_i - \mu_i)\mu'_i/V(\mu_i)` and :math:`A = X' \mathrm{diag}(w
  \mu'^2/V) X`, residualised for post-stratification, raking and calibration and summed over
  the design's stages, strata and PSUs (R ``svyrecvar``). Replicate designs refit the model
  with every replicate's weights, starting from the full-sample estimate, and use the
  replicate covariance (R ``svyglm.svyrep.design``).
* Degrees of freedom: the design's df plus 1 minus the number of coefficients (R
  ``degf(design) + 1 - p``); see :func:`weighting.coefficients.base_df` for which design df
  (rows with missing values, domains). t tests and intervals use it; R's ``confint`` uses
  the normal quantile unless ``ddf=`` is given.
* Dispersion (reported, not used by the standard errors): R's ``summary.svyglm``, the
  design-weighted variance (with :math:`n/(n-1)`, R ``svyvar``) of the Pearson residuals
  :math:`(y - \mu)/\sqrt{V(\mu)}`, times :math:`\bar w_{used}/\bar w_{all}` as R's
  ``residuals.svyglm`` (the mean weight of the rows without missing values over that of all
  rows of the domain: R rescales the weights before dropping missing values). For replicate
  designs R's ``residuals.svrepglm`` divides by the weights' sum instead of their mean, which
  multiplies its dispersion by the number of rows; we report the same quantity as for
  linearisation designs (R's value divided by that number).
* Domains: :meth:`Design.subset` keeps every PSU in the variance; ``by=`` fits every domain
  in the same iterations (:mod:`weighting.partitions`) and estimates its covariance from
  the full design, as ``svyby(..., svyglm)``; its degrees of freedom are the design's, as
  in every ``by`` table (R's ``svyby`` would use each domain's).
* A predictor column with no weight in a domain (a level absent there) gives a NaN
  coefficient (R's aliased ``NA``); other linear dependencies raise :class:`WeightingError`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .coefficients import (
    Domains,
    base_df,
    coefficient_table,
    model_domains,
    model_formula,
    replicate_covariance,
    sandwich_covariance,
    wald_table,
)
from .errors import WeightingError
from .families import Family, family, fit_partition, unalias
from .intervals import check_level, t_quantile
from .model_frame import ModelFrame, build_model_frame
from .partitions import Partition

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

#: Replicate weight columns fitted at a time (rows x columns values).
CHUNK_CELLS = 2_000_000
SCALES = ("link", "response")


@dataclass(frozen=True)
class Regression:
    """A fitted design-based GLM (see :mod:`weighting.regression`).

    Attributes
    ----------
    coefficients : DataFrame
        The ``by`` columns, then ``term, estimate, se, t, df, p, ci_low, ci_high``: one row per
        (domain, coefficient); ``t = estimate / se``, ``p`` two-sided on ``df``.
    model : DataFrame
        The ``by`` columns, then ``n`` (rows used), ``df`` (residual degrees of freedom) and
        ``dispersion``: one row per domain.
    family, link : str
        ``"gaussian"``/``"identity"``, ``"quasibinomial"``/``"logit"``,
        ``"quasipoisson"``/``"log"``.
    """

    coefficients: pd.DataFrame
    model: pd.DataFrame
    family: str
    link: str
    frame: ModelFrame
    estimate: FloatArray
    cov: FloatArray
    dfs: FloatArray
    labels: pd.DataFrame
    level: float

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the coefficients (columns of the model matrix)."""
        return self.frame.names

    @property
    def df(self) -> float:
        """Residual degrees of freedom (a model without ``by``)."""
        return float(self._single("df"))

    @property
    def dispersion(self) -> float:
        """R's dispersion estimate (a model without ``by``)."""
        return float(self._single("dispersion"))

    @property
    def n(self) -> int:
        """Rows used (a model without ``by``)."""
        return int(self._single("n"))

    def _single(self, column: str) -> Any:
        if len(self.model) != 1 or len(self.labels.columns):
            raise WeightingError(f"{column}: this model was fitted by domain; read the 'model' table")
        return self.model[column].iloc[0]

    def covariance(self) -> pd.DataFrame:
        """Covariance of the coefficients: rows ``(by..., term)``, columns the terms."""
        p = len(self.names)
        index = self.labels.loc[np.repeat(np.arange(len(self.labels)), p)].reset_index(drop=True)
        index["term"] = np.tile(np.asarray(self.names, dtype=object), len(self.labels))
        return pd.DataFrame(
            self.cov.reshape(-1, p), index=pd.MultiIndex.from_frame(index), columns=list(self.names)
        )

    def wald_test(
        self,
        terms: str | Sequence[str],
        *,
        method: str = "F",
        null: Sequence[float] | None = None,
        df: float | None = None,
    ) -> pd.DataFrame:
        r"""Wald test that every coefficient of ``terms`` is 0 (R ``regTermTest``).

        Parameters
        ----------
        terms : str or list of str
            Term labels (``"x"``, ``"g"`` for all the indicators of a categorical, ``"x:g"``).
        method : {"F", "chisq"}
            ``"F"``: :math:`F = X^2/k` on :math:`(k, \mathit{ddf})` degrees of freedom (R's
            default); ``"chisq"``: :math:`X^2` on :math:`k` (R ``regTermTest(df=Inf)``).
        null : sequence of float, optional
            Null values of the coefficients (default 0).
        df : float, optional
            Denominator degrees of freedom for ``"F"`` (default the model's residual df).

        Returns
        -------
        DataFrame
            The ``by`` columns, then ``terms`` (labels joined by ``+``), ``method``,
            ``statistic`` (F or chi-square), ``chisq``, ``df`` (:math:`k`), ``ddf`` (inf for
            ``"chisq"``) and ``p``.
        """
        return wald_table(self.frame.terms, self.estimate, self.cov, self.dfs, self.labels, terms, method, null, df)

    def predict(
        self, newdata: pd.DataFrame | None = None, *, scale: str = "link", level: float | None = None
    ) -> pd.DataFrame:
        r"""Predictions with standard errors (R ``predict(model, newdata, type, se.fit=TRUE)``).

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict for (default: the rows the model used).
        scale : {"link", "response"}
            ``"link"``: :math:`x'\hat\beta` with SE :math:`\sqrt{x'Vx}`; ``"response"``:
            :math:`g^{-1}(x'\hat\beta)` with the delta-method SE :math:`\mu'(\eta)\sqrt{x'Vx}`
            (R).
        level : float, optional
            Confidence level (default the model's). The interval is computed on the link scale,
            :math:`\eta \pm t_{df} SE`, and transformed by :math:`g^{-1}` for ``"response"`` (so
            that it stays inside the range of the mean; R's ``confint`` of a response-scale
            prediction is the symmetric :math:`\hat\mu \pm z\,SE`).

        Returns
        -------
        DataFrame
            The ``by`` columns, ``row`` (index label of ``newdata``), then ``estimate``,
            ``se``, ``ci_low``, ``ci_high``, ``df``.
        """
        if scale not in SCALES:
            raise WeightingError(f"scale must be 'link' or 'response'; got {scale!r}")
        lvl = self.level if level is None else check_level(level)
        if newdata is None:
            X = self.frame.X[self.frame.used]
            rows = np.asarray(self.frame.response.index[self.frame.used])
        else:
            X = self.frame.matrix(newdata)
            rows = np.asarray(newdata.index)
        fam = family(self.family)
        n_dom, m = len(self.labels), X.shape[0]
        eta = X @ np.nan_to_num(self.estimate).T  # (m, n_dom)
        se_link = np.sqrt(np.einsum("mi,dij,mj->md", X, np.nan_to_num(self.cov), X))
        t = t_quantile(lvl, self.dfs)[None, :]
        lo, hi = eta - t * se_link, eta + t * se_link
        if scale == "response":
            est, se = fam.linkinv(eta), fam.mu_eta(eta) * se_link
            lo, hi = fam.linkinv(lo), fam.linkinv(hi)
        else:
            est, se = eta, se_link
        out = self.labels.loc[np.repeat(np.arange(n_dom), m)].reset_index(drop=True)
        out["row"] = np.tile(rows, n_dom)
        for key, value in (("estimate", est), ("se", se), ("ci_low", lo), ("ci_high", hi)):
            out[key] = np.asarray(value, dtype=np.float64).T.ravel()
        out["df"] = np.repeat(self.dfs, m)
        return out


def fit_glm(
    design: Design,
    formula: str | None = None,
    *,
    response: Hashable | None = None,
    predictors: Sequence[Hashable] | Hashable | None = None,
    family_name: str = "gaussian",
    reference: Mapping[Hashable, Any] | None = None,
    intercept: bool = True,
    by: Hashable | Sequence[Hashable] | None = None,
    level: float = 0.95,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> Regression:
    r"""Fit a design-based GLM; :meth:`weighting.Design.glm` is the public entry point.

    Notes
    -----
    Estimating equations :math:`\sum_i w_i x_i (y_i - \mu_i)\mu'(\eta_i)/V(\mu_i) = 0`
    (Binder 1983). Covariance: :math:`A^{-1}` in the influence values
    :math:`w_i x_i (y_i - \mu_i)\mu'_i/V_i \, A^{-1}`, :math:`A = \sum_i w_i \mu_i'^2 x_i
    x_i'/V_i`, through the design's linearisation variance (R ``svy.varcoef``), or the replicate
    covariance of refitted coefficients (R ``svyglm.svyrep.design``); residual df
    :math:`\mathrm{degf} + 1 - p`. Follows R ``survey`` 4.1.1; see the module for the choices
    where R is not the only defensible answer (dispersion on replicate designs, ``by``
    degrees of freedom, prediction intervals).
    """
    level = check_level(level)
    fam = family(family_name)
    formula = model_formula(formula, response, predictors, intercept)
    w = design.weights
    inside = np.ones(w.size, dtype=bool) if design.subset_mask is None else design.subset_mask
    mf = build_model_frame(design.data, formula, rows=inside & (w != 0), reference=reference)
    values = pd.to_numeric(mf.response, errors="coerce").to_numpy(dtype=np.float64, na_value=0.0)
    y = np.where(mf.used, values, 0.0)
    fam.check_response(y[mf.used], f"response {mf.response.name!r}")
    domains = model_domains(design, by, mf.used)
    labels, part = domains.labels, domains.partition
    fits = fit_partition(mf.X, y, w[:, None], part, fam, max_iter=max_iter, tol=tol, names=mf.names)
    beta = fits.beta[:, :, 0]  # (p, n_dom)
    if design.replicates is not None:
        thetas = replicate_fits(design, mf, y, part, beta, fam, max_iter, tol)
        cov = replicate_covariance(design, thetas, beta.T)
    else:
        cov = sandwich_covariance(design, glm_influence(mf.X, y, w, part, beta, fam), domains.codes, len(labels))
    nan = np.isnan(beta.T)
    cov = np.where(nan[:, :, None] | nan[:, None, :], np.nan, cov)
    p_eff = (~fits.aliased[:, :, 0]).sum(axis=0)
    dfs = (base_df(design, mf.used, by is not None) + 1.0 - p_eff).astype(np.float64)
    table = coefficient_table(labels, mf.names, beta.T, cov, dfs, level)
    model = labels.reset_index(drop=True).copy()
    model["n"] = domains.n
    model["df"] = dfs
    model["dispersion"] = glm_dispersion(design, mf, y, domains, beta, fam)
    return Regression(table, model, fam.name, fam.link, mf, beta.T.copy(), cov, dfs, labels, level)


def glm_influence(
    X: FloatArray, y: FloatArray, w: FloatArray, part: Partition, beta: FloatArray, fam: Family
) -> FloatArray:
    """Influence values :math:`U A_d^{-1}` of every row for its own domain's coefficients,
    ``(n, p)`` (0 on rows in no domain)."""
    n, p = X.shape
    W = (w * part.valid)[:, None]
    eta = part.linear(X, np.nan_to_num(beta)[:, :, None])
    mu, mu_eta = fam.linkinv(eta), fam.mu_eta(eta)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = fam.variance(mu)
        c = np.where(W != 0, W * mu_eta**2 / v, 0.0)
        s = np.where(W != 0, W * (y[:, None] - mu) * mu_eta / v, 0.0)[:, 0]
    G = part.gram(X, c)[:, 0]  # (n_dom, p, p)
    aliased = np.isnan(beta)  # (p, n_dom)
    Ainv = np.asarray(np.linalg.solve(unalias(G, aliased), np.broadcast_to(np.eye(p), G.shape)), dtype=np.float64)
    return part.linear_rows(X * s[:, None], Ainv)


def replicate_fits(
    design: Design,
    mf: ModelFrame,
    y: FloatArray,
    part: Partition,
    beta: FloatArray,
    fam: Family,
    max_iter: int,
    tol: float,
) -> FloatArray:
    """Coefficients refitted with every replicate's weights in every domain: ``(R, n_dom, p)``."""
    Wrep = design.replicates.weights
    n, R = Wrep.shape
    out = np.empty((R, part.n_groups, beta.shape[0]))
    step = max(1, CHUNK_CELLS // max(n, 1))
    for r0 in range(0, R, step):  # blocks of replicate columns, every domain at once
        fit = fit_partition(
            mf.X, y, Wrep[:, r0 : r0 + step], part, fam, start=beta, max_iter=max_iter, tol=tol, names=mf.names
        )
        out[r0 : r0 + step] = fit.beta.transpose(2, 1, 0)
    return out


def glm_dispersion(
    design: Design, mf: ModelFrame, y: FloatArray, domains: Domains, beta: FloatArray, fam: Family
) -> FloatArray:
    """R's ``summary.svyglm`` dispersion of every domain (see the module notes)."""
    w = design.weights
    D = len(domains.labels)
    used, rows = domains.codes, domains.all_codes
    complete = np.where(mf.complete, rows, -1)

    def sums(codes: IntArray, values: FloatArray | None = None) -> FloatArray:
        inside = codes >= 0
        weights = None if values is None else values[inside]
        return np.bincount(codes[inside], weights=weights, minlength=D).astype(np.float64)

    calibrated = design.replicates is None and design.calibrated  # R keeps every row, weight 0
    n_all = np.full(D, float(w.size)) if calibrated else sums(rows)
    n_used = np.full(D, float(w.size)) if calibrated else sums(complete)
    ratio = (sums(complete, w) / n_used) / (sums(rows, w) / n_all)
    # svyvar counts the rows with a nonzero weight (replicate designs: every row)
    n = sums(used) if design.replicates is None else sums(complete)
    part = domains.partition
    mu = fam.linkinv(part.linear(mf.X, np.nan_to_num(beta)[:, :, None]))[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.nan_to_num((y - mu) * np.sqrt(ratio[part.codes]) / np.sqrt(fam.variance(mu)))
        ww = np.where(part.valid, w, 0.0)
        total = sums(used, ww)
        rbar = sums(used, ww * r) / total
        out = sums(used, ww * (r - rbar[part.codes]) ** 2) / total * n / (n - 1.0)
    return np.asarray(out, dtype=np.float64)
