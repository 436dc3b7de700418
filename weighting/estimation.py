r"""Means, totals and ratios for every (domain, variable) pair in one vectorised pass.

Influence values (STATS.md; R ``svymean``, ``svytotal``, ``svyratio``), with :math:`w_i` set to
0 outside the domain and for rows where the variable is missing:

* total of :math:`y`: :math:`z_i = w_i y_i`;
* mean of :math:`y`: :math:`z_i = w_i (y_i - \bar y) / \sum w_i`;
* ratio :math:`\hat R = \sum w y / \sum w x`: :math:`z_i = w_i (y_i - \hat R x_i) / \sum w_i x_i`.

All three are :math:`z_i = w_i (y_i - c\, x_i) / s` with (c, s) per (domain, variable), so the
cluster totals of :math:`z` follow from weighted sums of :math:`y` and :math:`x` in (cluster,
domain) cells, computed with one sparse product for every variable and domain at once.
After a calibration-type adjustment the residualised :math:`z` no longer vanishes outside its
domain; then dense influence values are built in column chunks and residualised by every
recorded adjustment in order (R ``svyrecvar``).

Design effects follow R's ``deff=TRUE``: :math:`V / V_{srs}` with, for a mean,
:math:`V_{srs} = s^2 (\hat N - n) / (\hat N n)`, :math:`s^2` the weighted variance with the
:math:`n/(n-1)` factor, :math:`\hat N` the domain's sum of weights and :math:`n` its rows with
a nonzero weight; for a total :math:`V_{srs}` is multiplied by :math:`\hat N^2`; for a ratio
:math:`s^2` is the variance of :math:`(y - \hat R x)/\sum w x`, times :math:`\hat N^2`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .stages import Stage
from .variance import (
    cell_variance,
    compress,
    group_matrix,
    linearization_variance,
    replicate_variance,
)

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

#: Dense influence values are built this many cells (rows x columns) at a time.
CHUNK_CELLS = 4_000_000


@dataclass(frozen=True)
class LinearEstimates:
    """Estimates of one statistic for ``n_domains x k`` (domain, variable) pairs."""

    estimate: FloatArray
    variance: FloatArray
    n: NDArray[np.int64]
    deff: FloatArray
    weight_sum: FloatArray


def linear_estimates(
    design: Design,
    kind: str,
    y: FloatArray,
    x: FloatArray | None,
    present: BoolArray | None,
    dom: IntArray,
    n_dom: int,
) -> LinearEstimates:
    """Estimates, variances, counts and design effects of means, totals or ratios.

    Parameters
    ----------
    design : Design
        The design (linearisation or replicate).
    kind : {"mean", "total", "ratio"}
        The statistic.
    y : ndarray, shape (n, k)
        Numerators; missing values may be NaN (they are excluded through ``present``).
    x : ndarray, shape (n, k), optional
        Denominators of ratios.
    present : ndarray of bool, shape (n, k), optional
        Rows used for each column (``None``: all).
    dom : ndarray of intp, shape (n,)
        Domain codes, ``-1`` outside every domain.
    n_dom : int
        Number of domains.
    """
    w_all = design.weights
    n, k = y.shape
    rows = np.flatnonzero(dom >= 0)
    full = rows.size == n
    d = dom if full else dom[rows]
    w = w_all if full else w_all[rows]
    pres = None if present is None else (present if full else present[rows])
    # Columns summed in cells: y, (x, for ratios), and the squares and cross-products for deff.
    width = 5 * k if kind == "ratio" else 2 * k
    M = np.empty((d.size, width))
    _fill(M[:, :k], y if full else y[rows], pres)
    if kind == "ratio":
        assert x is not None
        _fill(M[:, k : 2 * k], x if full else x[rows], pres)
        np.multiply(M[:, :k], M[:, :k], out=M[:, 2 * k : 3 * k])
        np.multiply(M[:, k : 2 * k], M[:, k : 2 * k], out=M[:, 3 * k : 4 * k])
        np.multiply(M[:, :k], M[:, k : 2 * k], out=M[:, 4 * k :])
    else:
        np.multiply(M[:, :k], M[:, :k], out=M[:, k:])
    stage = design.stages[0]
    codes, cell_cluster, cell_dom, n_cells = _cells(stage, d, n_dom, rows, full)
    sums = np.asarray(group_matrix(codes, n_cells, w) @ M)
    del M
    to_dom = group_matrix(cell_dom, n_dom)
    totals = np.asarray(to_dom @ sums)
    present_w = _present_sums(codes, n_cells, w, pres, k)
    psum = np.broadcast_to(_present_sums(d, n_dom, w, pres, k), (n_dom, k))
    nonzero = (w != 0).astype(np.float64)
    n_obs = np.broadcast_to(
        np.rint(_present_sums(d, n_dom, nonzero, pres, k)), (n_dom, k)
    ).astype(np.int64)
    t_y = totals[:, :k]
    den_cells = sums[:, k : 2 * k] if kind == "ratio" else present_w
    t_x = totals[:, k : 2 * k] if kind == "ratio" else psum
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "total":
            estimate, centre, scale = t_y, np.zeros((n_dom, k)), np.ones((n_dom, k))
        else:
            estimate = t_y / t_x
            centre, scale = estimate, t_x
    if design.replicates is not None:
        rep = design.replicates
        thetas = _replicate_thetas(design, kind, y, x, present, dom, n_dom)
        variance = replicate_variance(thetas, estimate, rep.scale, rep.rscales, mse=rep.mse)
    elif design.calibrated:
        variance = _dense(design, y, x, present, dom, n_dom, centre, scale)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            zc = (sums[:, :k] - centre[cell_dom] * den_cells) / scale[cell_dom]
        variance = cell_variance(
            stage, zc, cell_cluster, cell_dom, n_dom,
            present=_cell_presence(stage, codes, n_cells, pres, k),
        )
        if len(design.stages) > 1:
            y0 = np.empty((d.size, k))
            _fill(y0, y if full else y[rows], pres)
            x0 = None
            if kind == "ratio":
                x0 = np.empty((d.size, k))
                _fill(x0, x if full else x[rows], pres)  # type: ignore[index, arg-type]
            for later in design.stages[1:]:
                c2, cc, cd, m2 = _cells(later, d, n_dom, rows, full)
                g2 = group_matrix(c2, m2, w)
                den2 = np.asarray(g2 @ x0) if x0 is not None else _present_sums(c2, m2, w, pres, k)
                with np.errstate(divide="ignore", invalid="ignore"):
                    z2 = (np.asarray(g2 @ y0) - centre[cd] * den2) / scale[cd]
                variance = variance + cell_variance(
                    later, z2, cc, cd, n_dom, present=_cell_presence(later, c2, m2, pres, k)
                )
    parts = [t_y, t_x, totals[:, k:2 * k] if kind != "ratio" else totals[:, 2 * k : 3 * k]]
    if kind == "ratio":
        parts += [totals[:, 3 * k : 4 * k], totals[:, 4 * k :]]
    weight_sum = psum if kind != "ratio" else _present_sums(d, n_dom, w, pres, k) * np.ones((1, k))
    t_yy = parts[2]
    deff = _deff(kind, variance, estimate, t_y, t_yy, parts, weight_sum, n_obs)
    return LinearEstimates(estimate, variance, n_obs, deff, np.asarray(weight_sum))


def _fill(out: FloatArray, values: FloatArray, present: BoolArray | None) -> None:
    """``out[:] = values`` with 0 where not ``present``."""
    if present is None:
        np.copyto(out, values)
    else:
        np.copyto(out, 0.0)
        np.copyto(out, values, where=present)


def _cells(stage: Stage, d: IntArray, n_dom: int, rows: IntArray, full: bool) -> tuple[IntArray, IntArray, IntArray, int]:
    """(cluster, domain) cell of every row in a domain, and each cell's cluster and domain."""
    cluster = stage.cluster if full else stage.cluster[rows]
    keys = cluster.astype(np.int64) * n_dom + d
    codes, uniq = compress(keys, stage.n_clusters * n_dom)
    return codes, (uniq // n_dom).astype(np.intp), (uniq % n_dom).astype(np.intp), int(uniq.size)


def _present_sums(
    codes: IntArray, n_groups: int, w: FloatArray, present: BoolArray | None, k: int
) -> FloatArray:
    """Sums of ``w`` over present rows per group and column, ``(n_groups, k)`` (or
    ``(n_groups, 1)`` when everything is present).

    Missing values are usually few: their weights are subtracted from the group totals. A
    group whose rows are all missing gets exactly 0 (its count of present rows is 0).
    """
    total = np.asarray(np.bincount(codes, weights=w, minlength=n_groups), dtype=np.float64)[:, None]
    if present is None:
        return total
    r, c = np.nonzero(~present)
    if r.size > present.size // 4:
        return np.asarray(group_matrix(codes, n_groups, w) @ present.astype(np.float64))
    key = codes[r] * k + c
    out = total - np.asarray(np.bincount(key, weights=w[r], minlength=n_groups * k), dtype=np.float64).reshape(n_groups, k)
    if n_groups * k <= 1_000_000:
        missing = np.bincount(key, minlength=n_groups * k).reshape(n_groups, k)
        out[missing == np.bincount(codes, minlength=n_groups)[:, None]] = 0.0
    return out


def _cell_presence(stage: Stage, codes: IntArray, n_cells: int, present: BoolArray | None, k: int) -> BoolArray | None:
    """Whether each cell has rows R keeps for each column (only needed for ``average``)."""
    if not stage.dropped.any():
        return None
    ones = np.ones(codes.size)
    return np.asarray(_present_sums(codes, n_cells, ones, present, k) > 0) * np.ones((1, k), dtype=bool)


def _deff(
    kind: str,
    variance: FloatArray,
    estimate: FloatArray,
    t_y: FloatArray,
    t_yy: FloatArray,
    parts: list[FloatArray],
    psum: FloatArray,
    n_obs: NDArray[np.int64],
) -> FloatArray:
    """R's ``deff=TRUE`` design effect (without-replacement SRS of the same size)."""
    n = n_obs.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "ratio":
            t_x, t_xx, t_xy = parts[1], parts[3], parts[4]
            r = estimate
            ss = (t_yy - 2 * r * t_xy + r * r * t_xx) / (t_x * t_x)
        else:
            ss = t_yy - t_y * t_y / psum
        s2 = n / (n - 1) * ss / psum
        vsrs = s2 * (psum - n) / (psum * n)
        if kind != "mean":
            vsrs = vsrs * psum * psum
        out = variance / vsrs
    return np.where((psum >= n) & (n > 1), out, np.nan)


def _influence(
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


def _filled(y: FloatArray, x: FloatArray | None, present: BoolArray | None) -> tuple[FloatArray, FloatArray]:
    n, k = y.shape
    x0 = np.ones((n, k)) if x is None else x
    if present is None:
        return y, x0
    return np.where(present, np.nan_to_num(y), 0.0), np.where(present, np.nan_to_num(x0), 0.0)


def _dense(
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
    y0, x0 = _filled(y, x, present)
    pairs = n_dom * k
    out = np.empty(pairs)
    step = max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, pairs, step):
        idx = np.arange(start, min(start + step, pairs))
        out[idx] = linearization_variance(_influence(design, y0, x0, dom, idx, centre, scale), design.stages)
    return out.reshape(n_dom, k)


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
        thetas = _replicate_thetas(design, kind, y, None, present, dom, n_dom).reshape(-1, n_dom * k)
        rep = design.replicates
        centre = res.estimate.reshape(-1) if rep.mse else thetas[rep.rscales > 0].mean(axis=0)
        dev = (thetas - centre) * np.sqrt(rep.rscales)[:, None]
        return np.asarray(rep.scale * dev.T @ dev)
    if kind == "total":
        centre, scale = np.zeros((n_dom, k)), np.ones((n_dom, k))
    else:
        centre, scale = res.estimate, res.weight_sum
    y0, x0 = _filled(y, None, present)
    z = _influence(design, y0, x0, dom, np.arange(n_dom * k), centre, scale)
    return linearization_variance(z, design.stages, covariance=True)


def _replicate_thetas(
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
