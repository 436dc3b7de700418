"""Weight trimming with redistribution of the excess (R ``survey::trimWeights``)."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import NDArray

from weighting.adjustment import Adjustment, FloatArray
from weighting.cells import as_matrix, check_weights
from weighting.errors import ConvergenceWarning, WeightingError

#: Cap on the rounds of ``strict`` trimming (each round is a few vector operations).
MAX_ROUNDS = 10_000


def _trim_columns(
    weights: FloatArray, lower: float, upper: float, strict: bool
) -> tuple[FloatArray, int, NDArray[np.bool_]]:
    """Trim every column of ``weights``; return weights, rounds done and per-column stability."""
    current = weights.copy()
    active = current > 0
    rounds = 0
    stable: NDArray[np.bool_] = np.zeros(current.shape[1], dtype=bool)
    while rounds < (MAX_ROUNDS if strict else 1):
        outside = active & ((current < lower) | (current > upper))
        stable = np.asarray(~outside.any(axis=0))
        if stable.all():
            break
        rounds += 1
        clipped = np.where(outside, np.clip(current, lower, upper), current)
        excess = (current - clipped).sum(axis=0)
        receivers = active & ~outside
        # when every unit is outside (R: division by zero) all of them share the excess
        receivers = np.where(receivers.any(axis=0), receivers, active)
        count = receivers.sum(axis=0)
        share = np.divide(excess, count, out=np.zeros_like(excess), where=count > 0)
        current = clipped + receivers * share
    if not strict:  # one pass is the whole job, whatever it leaves outside the bounds
        stable = np.ones(current.shape[1], dtype=bool)
    return current, rounds, stable


def _check_feasible(w: FloatArray, lower: float, upper: float, argument: str) -> None:
    positive = w[w > 0]
    total, k = positive.sum(), positive.size
    if k * upper < total * (1 - 1e-12) or k * lower > total * (1 + 1e-12):
        raise WeightingError(
            f"{argument}: bounds lower={lower!r}, upper={upper!r} cannot keep the total {float(total)!r} "
            f"of {k} positive weights (need lower <= {float(total / k)!r} <= upper)"
        )


def trim(
    weights: FloatArray,
    *,
    lower: float | None = None,
    upper: float | None = None,
    strict: bool = False,
) -> Adjustment:
    r"""Cap weights at ``lower``/``upper`` and share the excess among the untrimmed units.

    Parameters
    ----------
    weights : ndarray, shape (n,)
        Current weights.
    lower, upper : float, optional
        Bounds on the weights (not on the ratio to the base weights). At least one is needed.
    strict : bool, default False
        ``False``: one pass, as R's ``trimWeights`` default (after redistribution some weights
        may again lie outside the bounds). ``True``: repeat until every weight is within the
        bounds, as ``trimWeights(strict=TRUE)``.

    Returns
    -------
    Adjustment
        ``kind="trim"``, ``residualize=None`` (the variance treats the trimmed weights as
        fixed, as R does); ``details`` has ``rounds``, ``n_trimmed_lower``,
        ``n_trimmed_upper``, ``n_changed``, ``amount_moved`` (sum of absolute changes / 2) and
        ``max_change``.

    Raises
    ------
    WeightingError
        No bound, ``lower >= upper``, or bounds that cannot keep the total (``strict``).

    Notes
    -----
    One pass (Potter 1990; Lumley 2010 sec. 7.5; R ``trimWeights``): :math:`w'_i =
    \min(\max(w_i, L), U)` for the units outside :math:`[L, U]`, then every unit inside
    receives the same amount :math:`\sum_i (w_i - w'_i) / \#\{\text{inside}\}`, so the total is
    unchanged. Units with zero weight (nonrespondents, out-of-sample) neither count as inside
    nor receive a share: this differs from R only when zero weights are present. When every
    unit is outside the bounds (R returns ``NaN``) all of them share the excess. ``reapply``
    trims every column of a replicate-weight matrix with the same bounds.

    Examples
    --------
    >>> trim(np.array([1.0, 1.0, 1.0, 9.0]), upper=5.0).weights
    array([2.33333333, 2.33333333, 2.33333333, 5.        ])
    """
    if lower is None and upper is None:
        raise WeightingError("trim needs lower=, upper= or both")
    lo = -np.inf if lower is None else float(lower)
    hi = np.inf if upper is None else float(upper)
    if np.isnan(lo) or np.isnan(hi) or not lo < hi:
        raise WeightingError(f"trim needs lower < upper, got lower={lower!r}, upper={upper!r}")
    w = check_weights(weights)
    if strict:
        _check_feasible(w, lo, hi, "trim")
    W, rounds, stable = _trim_columns(w[:, None], lo, hi, strict)
    new = W[:, 0]
    if strict and not stable.all():
        warnings.warn(
            f"trimming did not stabilise in {MAX_ROUNDS} rounds", ConvergenceWarning, stacklevel=2
        )

    def reapply(weights_in: FloatArray) -> FloatArray:
        M, flat = as_matrix(weights_in)
        out, _, ok = _trim_columns(M, lo, hi, strict)
        if strict and not ok.all():
            warnings.warn(
                f"trimming of {int((~ok).sum())} replicate column(s) did not stabilise",
                ConvergenceWarning,
                stacklevel=2,
            )
        return out[:, 0] if flat else out

    change = new - w
    return Adjustment(
        kind="trim",
        weights=new,
        reapply=reapply,
        residualize=None,
        details={
            "lower": lo,
            "upper": hi,
            "strict": bool(strict),
            "rounds": int(rounds),
            "n_trimmed_lower": int(np.sum((w > 0) & (w < lo))),
            "n_trimmed_upper": int(np.sum(w > hi)),
            "n_changed": int(np.sum(change != 0)),
            "amount_moved": float(np.abs(change).sum() / 2),
            "max_change": float(np.abs(change).max(initial=0.0)),
        },
    )
