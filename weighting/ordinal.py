r"""Proportional-odds (cumulative logit) regression for ordinal outcomes (R ``svyolr``).

For an outcome with ordered levels :math:`1, \dots, K` (Likert items),
:math:`P(y_i \le k) = \operatorname{expit}(\zeta_k - x_i'\beta)`, :math:`k < K`, with cut points
:math:`\zeta_1 < \dots < \zeta_{K-1}` and no intercept in :math:`x` (McCullagh 1980). The
estimates maximise the weighted log-likelihood :math:`\sum_i w_i \log P_i`,
:math:`P_i = F(\zeta_{y_i} - \eta_i) - F(\zeta_{y_i - 1} - \eta_i)`.

Notes (R ``survey`` 4.1.1 ``svyolr``; Lumley 2010, sec. 6.3.2):

* Newton-Raphson with the analytic gradient and Hessian, for every domain and replicate at
  once (:mod:`weighting.partitions`), step halving while the cut points are out of order or the
  likelihood falls; converged when the log-likelihood changes by less than ``tol`` relative
  at two successive iterations.
* Linearisation: influence values :math:`s_i H^{-1}` (per-row scores of the negative
  log-likelihood times the inverse Hessian) in the design's variance, residualised for
  calibration-type adjustments (R: ``gmini(...) %*% solve(H)`` in ``svyrecvar``). R takes
  :math:`H` from ``optim``'s finite-difference Hessian (central differences of the gradient
  with step ``1e-3`` in its parametrisation :math:`(\beta, \zeta_1, \log(\zeta_k -
  \zeta_{k-1}))`); we use the exact Hessian, so our standard errors are R's in the limit of
  small steps. R's ``optim`` (BFGS, ``reltol`` ``1e-8``) also stops early. With R's defaults
  the two differ by up to about ``1e-4`` relative in the estimates and ``3e-4`` in the SEs
  (the apistrat case of the fixture); the reference fixture runs R with ``reltol = 1e-15``
  and ``ndeps = 1e-6``, where they agree to about ``5e-8``.
* Replicate designs refit with every replicate's weights from the full-sample estimates
  (R ``svyolr.svyrep.design``, ``MASS::polr``).
* Degrees of freedom: the design's minus the number of coefficients :math:`\beta` (R
  ``degf(design) - length(beta)``; see :func:`weighting.coefficients.base_df`).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from .coefficients import (
    base_df,
    coefficient_table,
    model_domains,
    model_formula,
    replicate_covariance,
    sandwich_covariance,
    wald_table,
)
from .errors import ConvergenceWarning, WeightingError
from .intervals import check_level
from .model_frame import ModelFrame, build_model_frame
from .partitions import Partition

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Weight columns fitted at a time in the replicate refits (rows x columns values).
CHUNK_CELLS = 1_000_000


@dataclass(frozen=True)
class OrdinalRegression:
    """A fitted proportional-odds model (see :mod:`weighting.ordinal`).

    Attributes
    ----------
    coefficients : DataFrame
        The ``by`` columns, then ``term, estimate, se, t, df, p, ci_low, ci_high``: the
        coefficients :math:`\\beta` followed by the cut points, named ``"1|2"``, ``"2|3"``, ...
        (the adjacent outcome levels, as R).
    model : DataFrame
        The ``by`` columns, then ``n`` (rows used) and ``df``: one row per domain.
    levels : tuple
        The outcome levels, in order.
    """

    coefficients: pd.DataFrame
    model: pd.DataFrame
    levels: tuple[Any, ...]
    frame: ModelFrame
    estimate: FloatArray
    cov: FloatArray
    dfs: FloatArray
    labels: pd.DataFrame

    @property
    def df(self) -> float:
        """Degrees of freedom (a model without ``by``)."""
        if len(self.labels.columns):
            raise WeightingError("df: this model was fitted by domain; read the 'model' table")
        return float(self.dfs[0])

    def wald_test(
        self,
        terms: str | Sequence[str],
        *,
        method: str = "F",
        null: Sequence[float] | None = None,
        df: float | None = None,
    ) -> pd.DataFrame:
        """Wald test of predictor terms (R ``regTermTest`` on ``svyolr``); as
        :meth:`weighting.regression.Regression.wald_test`."""
        return wald_table(self.frame.terms, self.estimate, self.cov, self.dfs, self.labels, terms, method, null, df)


def fit_olr(
    design: Design,
    formula: str | None = None,
    *,
    response: Hashable | None = None,
    predictors: Sequence[Hashable] | Hashable | None = None,
    reference: Mapping[Hashable, Any] | None = None,
    by: Hashable | Sequence[Hashable] | None = None,
    level: float = 0.95,
    max_iter: int = 100,
    tol: float = 1e-12,
) -> OrdinalRegression:
    r"""Fit a proportional-odds model; :meth:`weighting.Design.ordinal_logit` is the entry point.

    Notes
    -----
    :math:`P(y \le k \mid x) = \operatorname{expit}(\zeta_k - x'\beta)` (McCullagh 1980),
    maximum weighted likelihood; covariance :math:`H^{-1}` applied to the per-row scores in the
    design's linearisation variance, or the replicate covariance of refitted
    :math:`(\beta, \zeta)`; df :math:`\mathrm{degf} - \dim\beta` (R ``survey`` 4.1.1
    ``svyolr``; see the module for the optimiser differences).
    """
    level = check_level(level)
    formula = model_formula(formula, response, predictors, True)
    w = design.weights
    inside = np.ones(w.size, dtype=bool) if design.subset_mask is None else design.subset_mask
    mf = build_model_frame(design.data, formula, rows=inside & (w != 0), reference=reference, response_kind="ordinal")
    if "Intercept" not in mf.names:
        raise WeightingError(f"formula {formula!r}: a proportional-odds model needs the intercept (no '0 +')")
    keep = [j for j, name in enumerate(mf.names) if name != "Intercept"]
    shift = {name: tuple(j - 1 for j in cols) for name, cols in mf.terms.items() if name != "1"}
    X = mf.X[:, keep]
    y, levels = outcome_codes(mf)
    domains = model_domains(design, by, mf.used)
    labels, part = domains.labels, domains.partition
    K = len(levels)
    present = part.gram(np.eye(K)[y], w[:, None], np.ones((w.size, 1)))[:, 0, :, 0]  # (n_dom, K)
    empty = np.argwhere(present == 0)
    if empty.size:
        d, k = empty[0]
        where = "" if not len(labels.columns) else f" in domain {labels.iloc[d].to_dict()}"
        raise WeightingError(
            f"response level {levels[k]!r} has no weight{where}: its cut point is not identified; "
            "collapse levels or domains"
        )
    theta = newton(X, y, K, w[:, None], part, None, max_iter, tol)[:, :, 0]  # (k, n_dom)
    if design.replicates is not None:
        Wrep = design.replicates.weights
        thetas = np.empty((Wrep.shape[1], part.n_groups, theta.shape[0]))
        step = max(1, CHUNK_CELLS // max(w.size, 1))
        for r0 in range(0, Wrep.shape[1], step):  # blocks of replicate columns, every domain at once
            fit = newton(X, y, K, Wrep[:, r0 : r0 + step], part, theta, max_iter, tol)
            thetas[r0 : r0 + step] = fit.transpose(2, 1, 0)
        cov = replicate_covariance(design, thetas, theta.T)
    else:
        scores, hessian = derivatives(X, y, K, w[:, None], part, theta[:, :, None])
        infl = part.linear_rows(scores, np.asarray(np.linalg.inv(hessian[:, 0]), dtype=np.float64))
        cov = sandwich_covariance(design, infl, domains.codes, part.n_groups)
    dfs = np.full(part.n_groups, base_df(design, mf.used, by is not None) - X.shape[1])
    names = [mf.names[j] for j in keep] + [f"{levels[k]}|{levels[k + 1]}" for k in range(len(levels) - 1)]
    table = coefficient_table(labels, names, theta.T, cov, dfs, level)
    model = labels.reset_index(drop=True).copy()
    model["n"] = domains.n
    model["df"] = dfs
    frame = ModelFrame(mf.X, mf.response, mf.used, mf.complete, tuple(names), shift, mf.levels, mf.spec, mf.columns)
    return OrdinalRegression(table, model, tuple(levels), frame, theta.T.copy(), cov, dfs, labels)


def outcome_codes(mf: ModelFrame) -> tuple[IntArray, list[Any]]:
    """Codes ``0..K-1`` of the outcome on the used rows (0 elsewhere) and its levels: the
    categories of an ordered ``category`` column that occur, else the sorted values."""
    values = mf.response[mf.used]
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = [c for c in values.cat.categories if (values == c).any()]
    elif pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        levels = sorted(pd.unique(values).tolist())
        if all(isinstance(v, float) and v.is_integer() for v in levels):  # codes read with NaN
            levels = [int(v) for v in levels]
    else:
        raise WeightingError(
            f"response {mf.response.name!r}: an ordinal outcome must be numeric codes or an ordered "
            f"pandas category (dtype {values.dtype}); string levels have no order"
        )
    if len(levels) < 3:
        raise WeightingError(f"response {mf.response.name!r} has {len(levels)} level(s); an ordinal model needs 3 or more")
    codes = np.zeros(len(mf.response), dtype=np.intp)
    codes[mf.used] = pd.Index(levels).get_indexer(values)
    return codes, levels


def _probabilities(
    X: FloatArray, y: IntArray, part: Partition, theta: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """``a = zeta_y - eta`` and ``b = zeta_{y-1} - eta`` (``+-inf`` at the ends) with every
    row's own domain's parameters ``theta`` ``(k, D, R)``, the row probabilities ``P`` and the
    logistic densities at ``a`` and ``b`` (all ``(n, R)``)."""
    p = X.shape[1]
    eta = part.linear(X, theta[:p])
    zeta = part.per_row(theta[p:])  # (n, K-1, R)
    edge = np.full((zeta.shape[0], 1, zeta.shape[2]), np.inf)
    padded = np.concatenate([-edge, zeta, edge], axis=1)
    a = np.take_along_axis(padded, (y + 1)[:, None, None], axis=1)[:, 0, :] - eta
    b = np.take_along_axis(padded, y[:, None, None], axis=1)[:, 0, :] - eta
    Fa, Fb = special.expit(a), special.expit(b)
    # F(a) - F(b) = F(-b) - F(-a): take the form without cancellation
    P = np.where(a + b > 0, special.expit(-b) - special.expit(-a), Fa - Fb)
    return a, b, P, Fa * (1 - Fa), Fb * (1 - Fb)


def _design_vectors(X: FloatArray, y: IntArray, K: int) -> tuple[FloatArray, FloatArray]:
    """Derivatives of ``a`` and ``b`` in ``(beta, zeta)``: ``[-x, e_y]`` and ``[-x, e_{y-1}]``."""
    n = X.shape[0]
    Ea = np.zeros((n, K - 1))
    Eb = np.zeros((n, K - 1))
    top, bottom = y < K - 1, y > 0
    Ea[np.flatnonzero(top), y[top]] = 1.0
    Eb[np.flatnonzero(bottom), y[bottom] - 1] = 1.0
    return np.hstack([-X, Ea]), np.hstack([-X, Eb])


def derivatives(
    X: FloatArray, y: IntArray, K: int, W: FloatArray, part: Partition, theta: FloatArray, per_row: bool = True
) -> tuple[FloatArray, FloatArray]:
    r"""Scores of the negative log-likelihood and its Hessian ``(D, R, k, k)`` for every fit.

    ``per_row``: the scores of every row for its own domain, ``(n, k)`` (one weight column);
    else their sums, ``(D, R, k)``. With :math:`g_i = (f(a_i) v_{a,i} - f(b_i) v_{b,i}) / P_i`:
    score :math:`-w_i g_i`, Hessian
    :math:`\sum_i w_i [g_i g_i' - (f'(a_i) v_a v_a' - f'(b_i) v_b v_b')/P_i]`,
    :math:`f' = f(1 - 2F)` for the logistic.
    """
    W = W * part.valid[:, None]
    Va, Vb = _design_vectors(X, y, K)
    a, b, P, fa, fb = _probabilities(X, y, part, theta)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(W != 0, fa / P, 0.0)
        beta = np.where(W != 0, -fb / P, 0.0)
        dfa = np.where(W != 0, fa * (1 - 2 * special.expit(a)) / P, 0.0)
        dfb = np.where(W != 0, fb * (1 - 2 * special.expit(b)) / P, 0.0)
    c1, c2, c3 = W * (alpha**2 - dfa), W * alpha * beta, W * (beta**2 + dfb)
    cross = part.gram(Va, c2, Vb)
    H = part.gram(Va, c1) + cross + cross.transpose(0, 1, 3, 2) + part.gram(Vb, c3)
    if not per_row:
        ones = np.ones((X.shape[0], 1))
        return -(part.gram(Va, W * alpha, ones) + part.gram(Vb, W * beta, ones))[..., 0], H
    return -(W * alpha)[:, [0]] * Va - (W * beta)[:, [0]] * Vb, H


def _objective(X: FloatArray, y: IntArray, W: FloatArray, part: Partition, theta: FloatArray) -> FloatArray:
    """Negative weighted log-likelihood of every fit, ``(D, R)`` (``inf`` with cut points out
    of order)."""
    _, _, P, _, _ = _probabilities(X, y, part, theta)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = -part.sums(np.where(W != 0, W * np.log(P), 0.0))
    ordered = np.all(np.diff(theta[X.shape[1] :], axis=0) > 0, axis=0)
    return np.where(ordered & np.isfinite(value), value, np.inf)


def newton(
    X: FloatArray,
    y: IntArray,
    K: int,
    W: FloatArray,
    part: Partition,
    start: FloatArray | None,
    max_iter: int,
    tol: float,
) -> FloatArray:
    """Maximum-likelihood ``(beta, zeta)`` in every domain with every weight column of ``W``
    ``(n, R)``: ``(k, D, R)``; ``start`` ``(k, D)`` (default: ``beta = 0`` and the cut points
    at the logits of the weighted cumulative shares)."""
    W = W * part.valid[:, None]
    p, D, R = X.shape[1], part.n_groups, W.shape[1]
    if start is None:
        shares = part.gram(np.eye(K)[y], W, np.ones((W.shape[0], 1)))[..., 0]  # (D, R, K)
        cum = np.cumsum(shares, axis=2)[:, :, :-1] / shares.sum(axis=2, keepdims=True)
        theta = np.concatenate([np.zeros((p, D, R)), special.logit(cum).transpose(2, 0, 1)])
    else:
        theta = np.repeat(start[:, :, None], R, axis=2)
    k = theta.shape[0]
    value = _objective(X, y, W, part, theta)
    small_before = np.zeros((D, R), dtype=bool)
    converged = np.zeros((D, R), dtype=bool)
    for _ in range(max_iter):
        grad, H = derivatives(X, y, K, W, part, theta, per_row=False)  # (D, R, k), (D, R, k, k)
        step = np.linalg.solve(H.reshape(-1, k, k), grad.reshape(-1, k, 1))[:, :, 0].reshape(D, R, k)
        step = step.transpose(2, 0, 1)
        new = theta - step
        new_value = _objective(X, y, W, part, new)
        for _ in range(40):  # step halving while out of order or worse
            worse = ~(new_value <= value + 1e-12 * np.abs(value))
            if not worse.any():
                break
            step[:, worse] /= 2.0
            new[:, worse] = theta[:, worse] - step[:, worse]
            new_value = np.where(worse, _objective(X, y, W, part, new), new_value)
        small = np.abs(new_value - value) / (np.abs(new_value) + 0.1) < tol
        theta, value = new, new_value
        converged = small & small_before
        if converged.all():
            break
        small_before = small
    if not converged.all():
        warnings.warn(
            f"the ordinal model did not converge in max_iter={max_iter} iterations for "
            f"{int((~converged).sum())} of {D * R} fit(s)",
            ConvergenceWarning,
            stacklevel=3,
        )
    return np.asarray(theta, dtype=np.float64)
