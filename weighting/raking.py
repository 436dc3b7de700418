"""Raking (iterative proportional fitting) to marginal counts (R ``survey::rake``)."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from weighting.adjustment import Adjustment, FloatArray
from weighting.cells import (
    as_matrix,
    check_weights,
    group_sums,
    indicator,
    match_levels,
    require_columns,
    require_complete,
)
from weighting.errors import ConvergenceWarning, WeightingError

#: Rounds of sequential post-stratification residuals used for raked designs (as R).
RESIDUAL_ROUNDS = 10
#: Relative tolerance with which the margins' grand totals must agree.
GRAND_TOTAL_RTOL = 1e-6

NDBool = NDArray[np.bool_]


class _Margin:
    """One raking margin: codes of the units, target counts, sparse indicator."""

    def __init__(self, data: pd.DataFrame, column: Hashable, targets: Mapping[Any, float]):
        argument = f"margins[{column!r}]"
        if not isinstance(targets, Mapping) or not targets:
            raise WeightingError(f"{argument} must be a non-empty mapping of level -> count")
        self.column = column
        self.levels = list(targets.keys())
        values = (
            pd.MultiIndex.from_frame(data[list(column)])
            if isinstance(column, tuple)
            else data[column]
        )
        self.codes = match_levels(values, self.levels, argument)
        counts = np.array([float(v) for v in targets.values()], dtype=np.float64)
        bad = ~np.isfinite(counts) | (counts <= 0)
        if bad.any():
            raise WeightingError(
                f"{argument}: counts must be positive and finite, got "
                f"{ {self.levels[i]: counts[i] for i in np.flatnonzero(bad)} }"
            )
        self.counts = counts
        self.S = indicator(self.codes, len(self.levels))


def _check_margins(margins: list[_Margin], w: FloatArray) -> None:
    for m in margins:
        empty = group_sums(m.S, w) <= 0
        if empty.any():
            raise WeightingError(
                f"margins[{m.column!r}]: level(s) {[m.levels[i] for i in np.flatnonzero(empty)]} "
                "have no respondents with positive weight; collapse them before raking"
            )
    totals = {m.column: float(m.counts.sum()) for m in margins}
    first = margins[0]
    for m in margins[1:]:
        if not np.isclose(totals[m.column], totals[first.column], rtol=GRAND_TOTAL_RTOL, atol=0):
            raise WeightingError(
                f"margins disagree on the population total: margins[{first.column!r}] sums to "
                f"{totals[first.column]!r} but margins[{m.column!r}] sums to {totals[m.column]!r}"
            )


def _ipf(
    margins: list[_Margin],
    joint: sp.csr_matrix,
    W: FloatArray,
    max_iter: int,
    threshold: FloatArray,
) -> tuple[FloatArray, list[FloatArray], int, NDBool]:
    """Sweep the margins until the joint table changes by less than ``threshold`` per column."""
    table = group_sums(joint, W)
    steps: list[FloatArray] = []
    converged = np.zeros(W.shape[1], dtype=bool)
    iterations = 0
    while iterations < max_iter:
        steps = []
        for m in margins:
            totals = group_sums(m.S, W)
            ratio = np.divide(
                m.counts[:, None], totals, out=np.full(totals.shape, np.nan), where=totals > 0
            )
            W = W * ratio[m.codes]
            steps.append(W)
        new_table = group_sums(joint, W)
        iterations += 1
        delta = np.max(np.abs(new_table - table), axis=0)
        # a replicate with an emptied level is nan in that level: nothing more to do for it
        converged = (delta < threshold) | np.isnan(delta)
        if converged.all():
            break
        table = new_table
    return W, steps, iterations, converged


def rake(
    data: pd.DataFrame,
    weights: FloatArray,
    margins: Mapping[Any, Mapping[Any, float]],
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> Adjustment:
    r"""Rake ``weights`` to marginal population counts by iterative proportional fitting.

    Parameters
    ----------
    data : DataFrame
        One row per unit with a column for every margin.
    weights : ndarray, shape (n,)
        Current weights.
    margins : mapping
        ``{column: {level: count}}``; every value of the column must be a level, every count
        positive, and all margins must share the same grand total. A margin over crossed
        columns has a tuple key and tuple levels: ``{("sex", "age"): {("f", "young"): 120,
        ...}}`` (R's ``rake(design, list(~sex + age, ~region), ...)``).
    max_iter : int, default 100
        Maximum number of sweeps over the margins.
    tol : float, default 1e-10
        Stop when no cell of the cross-classification of all margin variables changes by
        more than ``tol * sum(weights)`` during a sweep (R's ``control$epsilon < 1`` convention).

    Returns
    -------
    Adjustment
        ``kind="rake"``; ``details`` has ``sweeps`` and ``converged``.

    Raises
    ------
    WeightingError
        Unknown levels, a level with no respondents, margins with different grand totals.

    Warns
    -----
    ConvergenceWarning
        When ``max_iter`` sweeps did not reach ``tol``.

    Notes
    -----
    Defaults differ from R's on purpose. R's ``rake()`` stops after at most 10 sweeps, or
    when no cell changed by 1 unit or more (``control = list(maxit = 10, epsilon = 1)``):
    weights that can miss their margins by up to about one unit, while the variance formula
    below assumes the fixed point. Here raking runs to ``tol = 1e-10`` relative (at most
    100 sweeps) and warns if it does not get there. To reproduce R's defaults exactly, pass
    ``max_iter=10, tol=1 / weights.sum()`` (R's ``epsilon >= 1`` is an absolute change;
    ``epsilon < 1`` is ``tol=epsilon``); R warns ("Raking did not converge") where this warns
    :class:`~weighting.ConvergenceWarning`. Checked against survey 4.1.1.

    Each sweep post-stratifies to the margins in turn, :math:`w_i \leftarrow w_i N_{m,l}/
    \sum_{j \in l} w_j` (Deming & Stephan 1940); the fixed point is raking calibration
    (Deville, Särndal & Sautory 1993), so :func:`weighting.calibration.calibrate` with
    ``method="raking"`` gives the same weights.

    The linearisation variance follows R's ``svyrecvar`` for ``rake`` designs: starting from
    the weighted influence values :math:`z`, ten rounds over the margins of
    :math:`z \leftarrow z - w^{(m)} \operatorname{ave}_m(z / w^{(m)})`, where :math:`w^{(m)}` are
    the weights after margin :math:`m` in the last sweep and :math:`\operatorname{ave}_m` the
    unweighted mean within the level over the units with positive weight (R would give
    ``NaN`` with zero weights). This approximates the residual of the raking (GREG)
    regression on the margin indicators; ten rounds is R's fixed choice, mirrored so that
    standard errors agree with R. Units with zero weight keep a zero residual. With one margin
    this is not R's ``postStratify`` residual (which weights the mean by the old weights), unless
    the weights are constant within the cells (Lumley 2010, sec. 7.3).

    ``reapply`` rakes every column of an (n, R) matrix at once, sweeping until every column
    meets ``tol`` or ``max_iter`` is reached.

    Examples
    --------
    >>> data = pd.DataFrame({"sex": ["f", "f", "m", "m"], "age": ["y", "o", "y", "o"]})
    >>> adj = rake(data, np.ones(4), {"sex": {"f": 60, "m": 40}, "age": {"y": 50, "o": 50}})
    >>> np.round(adj.weights, 6)
    array([30., 30., 20., 20.])
    """
    if not isinstance(margins, Mapping) or not margins:
        raise WeightingError("margins must be a non-empty mapping {column: {level: count}}")
    if max_iter < 1:
        raise WeightingError(f"max_iter must be at least 1, got {max_iter!r}")
    if not tol > 0:
        raise WeightingError(f"tol must be positive, got {tol!r}")
    columns = list(margins.keys())
    flat = [c for key in columns for c in (key if isinstance(key, tuple) else (key,))]
    require_columns(data, flat, "margins")
    require_complete(data, flat, "rake")
    w = check_weights(weights, len(data))
    ms = [_Margin(data, c, margins[c]) for c in columns]
    _check_margins(ms, w)
    joint_codes = np.zeros(len(data), dtype=np.intp)
    for m in ms:  # cells of the cross-classification, renumbered at each step (no overflow)
        joint_codes = pd.factorize(joint_codes * len(m.levels) + m.codes)[0].astype(np.intp)
    joint = indicator(joint_codes, int(joint_codes.max()) + 1)

    W, steps, iterations, converged = _ipf(
        ms, joint, w[:, None], max_iter, tol * w.sum(keepdims=True)
    )
    new = W[:, 0]
    step_weights = [s[:, 0] for s in steps]
    if not converged.all():
        warnings.warn(
            f"raking did not converge in max_iter={max_iter} sweeps (tol={tol!r}); "
            "increase max_iter or collapse sparse levels",
            ConvergenceWarning,
            stacklevel=2,
        )

    def reapply(weights_in: FloatArray) -> FloatArray:
        M, flat = as_matrix(weights_in)
        out, _, _, ok = _ipf(ms, joint, M, max_iter, tol * M.sum(axis=0))
        if not ok.all():
            warnings.warn(
                f"raking of {int((~ok).sum())} replicate column(s) did not converge in "
                f"max_iter={max_iter} sweeps",
                ConvergenceWarning,
                stacklevel=2,
            )
        return out[:, 0] if flat else out

    # units with zero weight are out of the sample: left out of the level averages
    sizes = [np.bincount(m.codes[w > 0], minlength=len(m.levels)).astype(np.float64) for m in ms]

    def residualize(z: FloatArray) -> FloatArray:
        Z, flat = as_matrix(z)
        Z = Z.copy()
        for _ in range(RESIDUAL_ROUNDS):
            for m, psw, size in zip(ms, step_weights, sizes):
                ratio = np.divide(Z, psw[:, None], out=np.zeros_like(Z), where=psw[:, None] > 0)
                means = group_sums(m.S, ratio) / size[:, None]
                Z = Z - psw[:, None] * means[m.codes]
        return Z[:, 0] if flat else Z

    return Adjustment(
        kind="rake",
        weights=new,
        reapply=reapply,
        residualize=residualize,
        details={
            "margins": tuple(columns),
            "sweeps": int(iterations),
            "converged": bool(converged.all()),
            "factor_min": float(np.min(new[w > 0] / w[w > 0])),
            "factor_max": float(np.max(new[w > 0] / w[w > 0])),
            "population_total": float(ms[0].counts.sum()),
        },
    )
