"""Dense influence values: the variance path after calibration-type adjustments.

After post-stratification, raking or calibration the influence values are replaced by their
residuals (R ``svyrecvar``), which no longer vanish outside a domain. Then the ``n x m``
influence matrix of a block of (domain, variable) columns is built, residualised by every
recorded adjustment in order, and passed to
:func:`weighting.variance.linearization_variance`; blocks keep the memory bounded. The
replicate path recomputes the statistic with every column of replicate weights.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .variance import group_matrix, linearization_variance

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

#: Dense influence values are built this many cells (rows x columns) at a time.
CHUNK_CELLS = 4_000_000


def influence_values(
    design: Design,
    y0: FloatArray,
    x0: FloatArray,
    dom: IntArray,
    cols: IntArray,
    centre: FloatArray,
    scale: FloatArray,
) -> FloatArray:
    """Residualised influence values ``(n, len(cols))`` of (domain, variable) columns."""
    k = y0.shape[1]
    dj, kj = cols // k, cols % k
    member = dom[:, None] == dj[None, :]
    z = (design.weights[:, None] * member) * (y0[:, kj] - centre[dj, kj] * x0[:, kj]) / scale[dj, kj]
    for adjustment in design.adjustments:
        if adjustment.residualize is not None:
            z = np.asarray(adjustment.residualize(z), dtype=np.float64)
    return z


def filled(y: FloatArray, x: FloatArray | None, present: BoolArray | None) -> tuple[FloatArray, FloatArray]:
    n, k = y.shape
    x0 = np.ones((n, k)) if x is None else x
    if present is None:
        return y, x0
    return np.where(present, np.nan_to_num(y), 0.0), np.where(present, np.nan_to_num(x0), 0.0)


def dense_variance(
    design: Design,
    y: FloatArray,
    x: FloatArray | None,
    present: BoolArray | None,
    dom: IntArray,
    n_dom: int,
    centre: FloatArray,
    scale: FloatArray,
) -> FloatArray:
    """Variances from dense, residualised influence values, a chunk of columns at a time."""
    n, k = y.shape
    y0, x0 = filled(y, x, present)
    pairs = n_dom * k
    out = np.empty(pairs)
    step = max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, pairs, step):
        idx = np.arange(start, min(start + step, pairs))
        out[idx] = linearization_variance(influence_values(design, y0, x0, dom, idx, centre, scale), design.stages)
    return out.reshape(n_dom, k)


def replicate_thetas(
    design: Design,
    kind: str,
    y: FloatArray,
    x: FloatArray | None,
    present: BoolArray | None,
    dom: IntArray,
    n_dom: int,
) -> FloatArray:
    """The statistic recomputed with every replicate's weights, shape ``(R, n_dom, k)``."""
    W = design.replicates.weights
    rows = np.flatnonzero(dom >= 0)
    member = group_matrix(dom[rows], n_dom)
    k = y.shape[1]
    thetas = np.empty((W.shape[1], n_dom, k))
    for j in range(k):
        ok = np.ones(rows.size, bool) if present is None else present[rows, j]
        yj = np.where(ok, np.nan_to_num(y[rows, j]), 0.0)
        num = np.asarray(sp.csr_matrix(member.multiply(yj[None, :])) @ W[rows]).T
        if kind == "total":
            thetas[:, :, j] = num
            continue
        xj = ok.astype(np.float64) if x is None else np.where(ok, np.nan_to_num(x[rows, j]), 0.0)
        den = np.asarray(sp.csr_matrix(member.multiply(xj[None, :])) @ W[rows]).T
        with np.errstate(divide="ignore", invalid="ignore"):
            thetas[:, :, j] = num / den
    return thetas


def with_weights(rep: Any, weights: FloatArray) -> Any:
    """A copy of a ``ReplicateWeights`` with other (re-adjusted) weights."""
    return dataclasses.replace(rep, weights=np.asarray(weights, dtype=np.float64))


def replicate_rank(W: FloatArray) -> int:
    """Rank of the replicate weights (R: ``qr(weights, tol=1e-5)$rank``)."""
    gram = W.T @ W
    eig = np.linalg.eigvalsh(gram)
    return int(np.sum(eig > eig.max() * 1e-10)) if eig.size else 0
