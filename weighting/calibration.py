"""Calibration to auxiliary totals: linear (GREG), raking and logit distances (R ``calibrate``).

:func:`rake` (iterative proportional fitting) lives in :mod:`weighting.raking` and is
re-exported here.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg

from weighting.adjustment import Adjustment, FloatArray
from weighting.calfun import (
    METHODS,
    CalibrationFunction,
    Distance,
    cluster_means,
    solve_calibration,
    trim_g,
)
from weighting.cells import as_matrix, check_weights, match_levels, require_columns
from weighting.errors import ConvergenceWarning, WeightingError
from weighting.raking import rake

__all__ = ["CalibrationFunction", "calibrate", "rake"]

#: Relative tolerance with which the categorical auxiliaries' grand totals must agree.
GRAND_TOTAL_RTOL = 1e-6
#: A pivot of the weighted model matrix smaller than this times the largest is a rank deficiency.
RANK_TOL = 1e-9


@dataclass(frozen=True)
class _Auxiliaries:
    X: FloatArray
    targets: FloatArray
    names: list[str]
    # R's parametrisation (intercept + treatment contrasts against the first sorted level),
    # used only for grake's rescaling rule, which looks at the ratios of R's columns.
    r_basis: tuple[FloatArray, FloatArray]


def _model_matrix(data: pd.DataFrame, totals: Mapping[Any, Any], w: FloatArray) -> _Auxiliaries:
    """Indicator columns for categorical totals and numeric columns, as R's ``model.matrix``.

    The first categorical auxiliary contributes one indicator per level (it plays the part of
    R's intercept); later ones drop their first level, whose total is implied by the common
    grand total. The column space is the one of R's ``~ a + b + x`` model matrix.
    """
    require_columns(data, list(totals.keys()), "totals")
    columns: list[FloatArray] = []
    targets: list[float] = []
    names: list[str] = []
    r_columns: list[FloatArray] = []
    r_targets: list[float] = []
    grand: tuple[Hashable, float] | None = None
    for column, spec in totals.items():
        argument = f"totals[{column!r}]"
        values = data[column]
        if values.isna().to_numpy().any():
            raise WeightingError(f"{argument}: column {column!r} has missing values")
        if isinstance(spec, Mapping):
            if not spec:
                raise WeightingError(f"{argument} has no levels")
            levels = list(spec.keys())
            counts = np.array([float(v) for v in spec.values()], dtype=np.float64)
            if not np.isfinite(counts).all() or (counts < 0).any():
                raise WeightingError(f"{argument}: counts must be finite and non-negative")
            codes = match_levels(values, levels, argument)
            has_units = np.bincount(codes[w > 0], minlength=len(levels)) > 0
            unreachable = ~has_units & (counts > 0)
            if unreachable.any():
                raise WeightingError(
                    f"{argument}: level(s) {[levels[k] for k in np.flatnonzero(unreachable)]} have "
                    "no units with positive weight, so their counts cannot be met; collapse levels"
                )
            used = np.flatnonzero(has_units)  # a level with count 0 and no units is dropped (R)
            total = float(counts.sum())
            if grand is None:
                grand = (column, total)
                keep = used
            else:
                if not np.isclose(total, grand[1], rtol=GRAND_TOTAL_RTOL, atol=0):
                    raise WeightingError(
                        f"categorical totals disagree on the population size: "
                        f"totals[{grand[0]!r}] sums to {grand[1]!r} but {argument} sums to {total!r}"
                    )
                keep = used[1:]
            for k in keep:
                columns.append((codes == k).astype(np.float64))
                targets.append(float(counts[k]))
                names.append(f"{column}={levels[k]}")
            reference = int(pd.Index(levels).argsort()[0])  # R: first level in sorted order
            for j in range(len(levels)):
                if j != reference:
                    r_columns.append((codes == j).astype(np.float64))
                    r_targets.append(float(counts[j]))
        else:
            if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                raise WeightingError(
                    f"{argument} is a single total, so column {column!r} must be numeric; "
                    f"it has dtype {values.dtype} (give {{level: count}} for a categorical)"
                )
            target = float(spec)
            if not np.isfinite(target):
                raise WeightingError(f"{argument} must be finite, got {spec!r}")
            columns.append(values.to_numpy(dtype=np.float64))
            targets.append(target)
            names.append(str(column))
            r_columns.append(columns[-1])
            r_targets.append(target)
    if grand is not None:
        r_columns.insert(0, np.ones(len(data)))
        r_targets.insert(0, grand[1])
    r_basis = (np.column_stack(r_columns), np.asarray(r_targets, dtype=np.float64))
    X = np.column_stack(columns)
    T = np.asarray(targets, dtype=np.float64)
    present = np.any(X[w > 0] != 0, axis=0)
    impossible = ~present & (T != 0)
    if impossible.any():
        raise WeightingError(
            f"calibration total(s) {[names[j] for j in np.flatnonzero(impossible)]} have no units "
            "with positive weight and a non-zero value, so they cannot be met; collapse levels"
        )
    keep_cols = present | (T != 0)
    names_kept = [n for n, k in zip(names, keep_cols) if k]
    return _Auxiliaries(X[:, keep_cols], T[keep_cols], names_kept, r_basis)


def _weighted_qr(aux: _Auxiliaries, whalf: FloatArray) -> FloatArray:
    """Orthonormal basis of the columns of ``X * sqrt(w)``; error on a rank deficiency."""
    Q, Rm, pivots = scipy.linalg.qr(aux.X * whalf[:, None], mode="economic", pivoting=True)
    diag = np.abs(np.diag(Rm))
    rank = int(np.sum(diag > RANK_TOL * diag[0])) if diag.size and diag[0] > 0 else 0
    if rank < aux.X.shape[1]:
        dependent = [aux.names[j] for j in pivots[rank:]]
        raise WeightingError(
            f"calibration model matrix is singular: total(s) {dependent} are linear combinations "
            "of the others in the sample; drop them or collapse levels"
        )
    return np.asarray(Q, dtype=np.float64)


def _distance(method: str | CalibrationFunction, bounds: tuple[float, float] | None) -> Distance:
    if isinstance(method, CalibrationFunction):
        lower, upper = (-np.inf, np.inf) if bounds is None else _bounds(bounds)
        distance = Distance(method.name, lower, upper, method)
        at_zero = np.asarray(distance.g(np.zeros(1)), dtype=np.float64)
        if at_zero.shape != (1,) or not np.isclose(at_zero[0], 1.0, rtol=0, atol=1e-12):
            raise WeightingError(
                f"method: the calibration function {method.name!r} must give g = 1 at u = 0 (an "
                f"array of the shape of u); got {at_zero.tolist()}"
            )
        return distance
    if method not in METHODS:
        raise WeightingError(f"method must be one of {METHODS} or a CalibrationFunction, got {method!r}")
    if bounds is None:
        if method in ("logit", "sinh"):
            raise WeightingError(f"method={method!r} needs finite bounds=(lower, upper)")
        return Distance(method, -np.inf, np.inf)
    lower, upper = _bounds(bounds)
    if method in ("logit", "sinh") and not (np.isfinite(lower) and np.isfinite(upper)):
        raise WeightingError(f"method={method!r} needs finite bounds, got {bounds!r}")
    return Distance(method, lower, upper)


def _bounds(bounds: tuple[float, float]) -> tuple[float, float]:
    try:
        lower, upper = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise WeightingError(f"bounds must be a pair (lower, upper), got {bounds!r}") from None
    if not lower < 1 < upper:
        raise WeightingError(f"bounds must satisfy lower < 1 < upper, got {bounds!r}")
    return lower, upper


def _trim_bounds(trim: tuple[float, float] | None) -> tuple[float, float] | None:
    if trim is None:
        return None
    try:
        lower, upper = (float(b) for b in trim)
    except (TypeError, ValueError):
        raise WeightingError(f"trim must be a pair (lower, upper) of g-weights, got {trim!r}") from None
    if not lower < upper:
        raise WeightingError(f"trim must satisfy lower < upper, got {trim!r}")
    return lower, upper


def _aggregated(aux: _Auxiliaries, aggregate: Any, n: int) -> tuple[_Auxiliaries, np.ndarray | None]:
    """The auxiliaries averaged within the clusters of ``aggregate`` (R ``aggregate.stage``)."""
    if aggregate is None:
        return aux, None
    values = np.asarray(aggregate)
    if values.shape != (n,):
        raise WeightingError(f"aggregate must give one cluster per row ({n}); got shape {values.shape}")
    codes_, _ = pd.factorize(values)
    if (codes_ < 0).any():
        raise WeightingError(f"aggregate has {int((codes_ < 0).sum())} missing cluster id(s)")
    codes = codes_.astype(np.intp)
    X, T = aux.r_basis
    return dataclasses.replace(aux, X=cluster_means(aux.X, codes), r_basis=(cluster_means(X, codes), T)), codes


def calibrate(
    data: pd.DataFrame,
    weights: FloatArray,
    totals: Mapping[Any, Any],
    *,
    method: str | CalibrationFunction = "linear",
    bounds: tuple[float, float] | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
    trim: tuple[float, float] | None = None,
    aggregate: Any = None,
) -> Adjustment:
    r"""Calibrate ``weights`` so that the weighted totals of the auxiliaries equal ``totals``.

    Parameters
    ----------
    data : DataFrame
        One row per unit with the auxiliary columns.
    weights : ndarray, shape (n,)
        Current (design) weights :math:`d_i`.
    totals : mapping
        ``{column: {level: count}}`` for a categorical auxiliary (every level, with its
        population count) and ``{column: total}`` for a numeric one. No intercept is added: the
        population size enters through the categorical counts (add a column of ones with total
        :math:`N` when calibrating to numeric totals only). The model matrix has one indicator
        per level of the first categorical auxiliary and per level but the first of the others
        (whose counts must share the same grand total): the column space, hence the weights
        and residuals, of R's ``~ a + b + x`` with its intercept and treatment contrasts. A
        level with population count 0 and no units is dropped, as R does.
    method : {"linear", "raking", "logit", "sinh"} or CalibrationFunction
        Distance function: :math:`g = 1 + x'\lambda` (GREG; truncated to ``bounds`` when given),
        :math:`g = \exp(x'\lambda)` (clipped to ``bounds`` when given), the logit distance
        with ``bounds = (L, U)``, :math:`L < g < U`, R's ``cal.sinh`` (finite ``bounds``
        required, as R), or a user distance (:class:`~weighting.calfun.CalibrationFunction`,
        R's ``make.calfun``).
    bounds : (float, float), optional
        Bounds :math:`(L, U)` on the g-weights, :math:`L < 1 < U`; required for ``"logit"``.
    max_iter : int, default 100
        Newton iteration cap.
    tol : float, default 1e-10
        Convergence when :math:`\max_j |X_j - \hat X_j| / (1 + |X_j|) < ` ``tol``, the
        criterion of R's ``grake`` (its ``epsilon``).
    trim : (float, float), optional
        Bounds on the g-weights applied after calibrating (R ``calibrate(trim=)``): g-weights
        outside are set to the bound and the difference in weight is shared by the other
        units in proportion to their weights, in one pass; the totals are then met only
        approximately. R ignores ``trim`` for the linear distance without bounds (its
        ``regcalibrate`` path); here it always applies, as R does with ``calfun=cal.linear``.
    aggregate : array_like, shape (n,), optional
        Cluster (e.g. household) of every row: integrated weighting (Lemaître & Dufour 1987;
        R ``aggregate.stage``/``aggregate.index``). The auxiliaries and the weights are
        replaced by their cluster means before calibrating, so every row of a cluster gets the
        same g-weight (one weight per cluster when the design weights are equal within it).

    Returns
    -------
    Adjustment
        ``kind="calibrate"``; ``details`` has ``method``, ``bounds``, ``iterations``,
        ``converged``, ``max_discrepancy``, the g-weight range, ``n_negative`` (negative
        weights, possible with unbounded linear calibration) and the auxiliary ``names``.

    Raises
    ------
    WeightingError
        Unknown levels, missing or non-numeric values, a level or auxiliary with no units,
        categorical totals with different grand totals, a singular model matrix, bad bounds.

    Warns
    -----
    ConvergenceWarning
        Newton stopped at ``max_iter`` (usually bounds that cannot be met); the weights are
        returned with ``details["converged"] = False``.

    Notes
    -----
    Deville & Särndal (1992): find :math:`\lambda` with
    :math:`\sum_i d_i F(x_i'\lambda) x_i = X`, weights :math:`w_i = d_i F(x_i'\lambda)`. The
    unbounded linear case has the closed form :math:`\lambda = (\sum d_i x_i x_i')^{-1}
    (X - \hat X_d)` (R's ``regcalibrate``). Otherwise Newton–Raphson as R's ``grake``: start at
    :math:`\lambda = 0`, step :math:`(\sum d_i F'(x_i'\lambda) x_i x_i')^{+}(X - \hat X_w)` with a
    Moore–Penrose inverse (relative tolerance :math:`256\epsilon`), halve steps that give
    non-finite g; if every ratio :math:`X_j/\hat X_j` exceeds 20 the weights are first scaled by
    their mean and bounds apply to the scaled g, as in R (the ratios are those of R's
    columns: intercept, numeric auxiliaries and every level but the first in sorted order). The logit distance is
    :math:`F(u) = L + (U-L)\,\mathrm{expit}(Au + \log\frac{1-L}{U-1})`,
    :math:`A = \frac{U-L}{(1-L)(U-1)}`.

    Variance (Lumley 2010, sec. 7.4; R's ``svyrecvar`` for ``greg_calibration``): with
    :math:`h_i = \sqrt{d_i}` and :math:`v_i = g_i h_i`, the weighted influence values become
    :math:`v \cdot \mathrm{resid}(z / v \sim X h)`, the least-squares residual on the columns
    of :math:`X` scaled by :math:`h` (the weights before calibrating).

    Examples
    --------
    >>> data = pd.DataFrame({"sex": ["f", "f", "m"], "x": [1.0, 2.0, 3.0]})
    >>> adj = calibrate(data, np.ones(3), {"sex": {"f": 20, "m": 10}, "x": 60.0})
    >>> np.round(adj.weights, 8)
    array([10., 10., 10.])
    """
    if not isinstance(totals, Mapping) or not totals:
        raise WeightingError("totals must be a non-empty mapping {column: total or {level: count}}")
    if max_iter < 1:
        raise WeightingError(f"max_iter must be at least 1, got {max_iter!r}")
    if not tol > 0:
        raise WeightingError(f"tol must be positive, got {tol!r}")
    distance = _distance(method, bounds)
    trim_to = _trim_bounds(trim)
    w = check_weights(weights, len(data))
    aux, clusters = _aggregated(_model_matrix(data, totals, w), aggregate, len(data))
    wc = w if clusters is None else cluster_means(w[:, None], clusters)[:, 0]
    whalf = np.sqrt(wc)
    Q = _weighted_qr(aux, whalf)

    fit = solve_calibration(aux.X, wc[:, None], aux.targets, distance, max_iter, tol, aux.r_basis)
    G, n_trimmed = (fit.g, np.zeros(1, dtype=np.intp)) if trim_to is None else trim_g(fit.g, wc[:, None], *trim_to)
    g = G[:, 0]
    if not fit.converged[0]:
        worst = aux.names[int(fit.worst[0])]
        warnings.warn(
            f"calibration (method={method!r}, bounds={bounds!r}) did not converge in "
            f"max_iter={max_iter} iterations: relative discrepancy {fit.achieved[0]:.3g} for "
            f"total {worst!r}; "
            + (
                "the bounds may be infeasible"
                if bounds is not None
                else "the totals may be out of reach of this distance function"
            ),
            ConvergenceWarning,
            stacklevel=2,
        )
    new = w * g
    v = g * whalf

    def reapply(weights_in: FloatArray) -> FloatArray:
        M, flat = as_matrix(weights_in)
        Mc = M if clusters is None else cluster_means(M, clusters)
        rep = solve_calibration(aux.X, Mc, aux.targets, distance, max_iter, tol, aux.r_basis)
        if not rep.converged.all():
            warnings.warn(
                f"calibration of {int((~rep.converged).sum())} replicate column(s) did not "
                f"converge in max_iter={max_iter} iterations",
                ConvergenceWarning,
                stacklevel=2,
            )
        out = M * (rep.g if trim_to is None else trim_g(rep.g, Mc, *trim_to)[0])
        return out[:, 0] if flat else out

    def residualize(z: FloatArray) -> FloatArray:
        Z, flat = as_matrix(z)
        # v < 0 for negative GREG weights; v = 0 only where the weight was 0 (z is 0 there)
        Y = np.divide(Z, v[:, None], out=np.zeros_like(Z), where=v[:, None] != 0)
        out = (Y - Q @ (Y.T @ Q).T) * v[:, None]
        return out[:, 0] if flat else out

    positive = w > 0
    return Adjustment(
        kind="calibrate",
        weights=new,
        reapply=reapply,
        residualize=residualize,
        details={
            "method": method if isinstance(method, str) else method.name,
            "bounds": None if bounds is None else (distance.lower, distance.upper),
            "names": tuple(aux.names),
            "iterations": int(fit.iterations),
            "converged": bool(fit.converged[0]),
            "max_discrepancy": float(fit.achieved[0]),
            "g_min": float(g[positive].min()),
            "g_max": float(g[positive].max()),
            "n_negative": int(np.sum(new < 0)),
            "trim": trim_to,
            "n_trimmed": int(n_trimmed[0]),
            "clusters": None if clusters is None else int(clusters.max()) + 1,
        },
    )
