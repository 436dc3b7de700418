r"""Means, totals and ratios for every (domain, variable) pair in one vectorised pass.

Influence values (STATS.md; R ``svymean``, ``svytotal``, ``svyratio``), with :math:`w_i` set to
0 outside the domain and for rows where the variable is missing:

* total of :math:`y`: :math:`z_i = w_i y_i`;
* mean of :math:`y`: :math:`z_i = w_i (y_i - \bar y) / \sum w_i`;
* ratio :math:`\hat R = \sum w y / \sum w x`: :math:`z_i = w_i (y_i - \hat R x_i) / \sum w_i x_i`.

All three are :math:`z_i = w_i (y_i - c\, x_i) / s` with (c, s) per (domain, variable), so the
cluster totals of :math:`z` follow from weighted sums of :math:`y` and :math:`x` in (cluster,
domain) cells, :math:`Z_{cell} = (S_{wy} - c\, S_{wx}) / s` (:math:`S_{wx}` is the cell's weight
of rows with a value for a mean): one ``bincount`` per variable over the rows, no ``n x k``
influence matrix. All cells of a (stratum, domain) pair share :math:`s`, so the variance is
computed from :math:`S_{wy} - c\, S_{wx}` and each pair's sum of squares divided by
:math:`s^2`. The cells and variance layouts depend only on the design's stages and the domain
codes; they are cached per design and reused while the codes are equal.
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

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .influence import dense_variance, replicate_thetas
from .stages import Stage
from .variance import CellLayout, compress, replicate_variance

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

#: Cell-level temporaries of the domain path are kept to about this many values per block.
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
        Numerators, 0 where not ``present`` (callers zero their own copies once).
    x : ndarray, shape (n, k), optional
        Denominators of ratios, 0 where not ``present``.
    present : ndarray of bool, shape (n, k), optional
        Rows used for each column (``None``: all).
    dom : ndarray of intp, shape (n,)
        Domain codes, ``-1`` outside every domain.
    n_dom : int
        Number of domains.
    """
    w_all = design.weights
    n, k = y.shape
    cells = _structure(design, dom, n_dom)
    rows, full, d = cells.rows, cells.full, cells.d
    w = w_all if full else w_all[rows]
    pres = None if present is None else (present if full else present[rows])
    # Missing entries (row, column) are usually few: handled as sparse corrections.
    miss: tuple[IntArray, IntArray] | None = None
    if pres is not None:
        flat = np.flatnonzero(~pres.T.ravel())  # column-major positions: sorted by column
        c_miss = flat // d.size
        miss = ((flat - c_miss * d.size).astype(np.intp), c_miss.astype(np.intp))
    codes, n_cells, cell_dom = cells.stages[0].codes, cells.stages[0].n_cells, cells.stages[0].cell_dom
    w_sums, nonzero_sums = _present_sums_of(d, n_dom, [w, (w != 0).astype(np.float64)], miss, k)
    psum = np.broadcast_to(w_sums, (n_dom, k))
    n_obs = np.broadcast_to(np.rint(nonzero_sums), (n_dom, k)).astype(np.int64)
    # Variables are processed in blocks (small temporaries): cell sums of w*y (and w*x for
    # ratios), domain sums of squares and cross-products (deff), then the variance.
    n_mom = 3 if kind == "ratio" else 1
    t_y, t_x = np.empty((n_dom, k)), np.array(psum)
    moments = np.empty((n_dom, n_mom * k))
    variance = np.zeros((n_dom, k))
    fast = design.replicates is None and not design.calibrated
    layouts = []
    if fast:
        for sc in cells.stages:
            layouts.append((sc.codes, sc.n_cells, sc.cell_dom, sc.layout, _sums(sc.codes, w, sc.n_cells)))
    step = max(1, CHUNK_CELLS // (2 * max(n_cells, d.size // 4, 1)))
    for j0 in range(0, k, step):
        js = range(j0, min(k, j0 + step))
        sel = slice(j0, j0 + len(js))
        wys, wxs = [], []
        num = np.empty((n_cells, len(js)))
        den = np.empty((n_cells, len(js))) if kind == "ratio" else None
        for i, j in enumerate(js):
            yj = _column(y, j, rows, full)
            wy = w * yj
            wys.append(wy)
            num[:, i] = np.bincount(codes, weights=wy, minlength=n_cells)
            moments[:, j] = np.bincount(d, weights=wy * yj, minlength=n_dom)
            if kind == "ratio":
                assert den is not None and x is not None
                xj = _column(x, j, rows, full)
                wx = w * xj
                wxs.append(wx)
                den[:, i] = np.bincount(codes, weights=wx, minlength=n_cells)
                moments[:, k + j] = np.bincount(d, weights=wx * xj, minlength=n_dom)
                moments[:, 2 * k + j] = np.bincount(d, weights=wx * yj, minlength=n_dom)
        # Domain sums from the cell sums (cells in order within each domain).
        for i in range(len(js)):
            t_y[:, j0 + i] = np.bincount(cell_dom, weights=num[:, i], minlength=n_dom)
            if den is not None:
                t_x[:, j0 + i] = np.bincount(cell_dom, weights=den[:, i], minlength=n_dom)
        if not fast:
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            centre = np.zeros((n_dom, len(js))) if kind == "total" else t_y[:, sel] / t_x[:, sel]
            scale = np.ones((n_dom, len(js))) if kind == "total" else t_x[:, sel]
        block_miss = _block_missing(miss, j0, len(js))
        for level, (c_codes, m_cells, c_dom, layout, cell_w) in enumerate(layouts):
            if level > 0:
                num = np.column_stack([np.bincount(c_codes, weights=v, minlength=m_cells) for v in wys])
                if kind == "ratio":
                    den = np.column_stack([np.bincount(c_codes, weights=v, minlength=m_cells) for v in wxs])
            z = _cell_influence(kind, num, den, cell_w, c_codes, c_dom, d, w, block_miss, centre)
            present_cells = None
            if layout.dropped.any():
                present_cells = _present_sums(c_codes, m_cells, np.ones(d.size), block_miss, len(js)) > 0
                present_cells = present_cells * np.ones((1, len(js)), dtype=bool)
            variance[:, sel] += layout.variance(z, present_cells, None if kind == "total" else scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "total":
            estimate, centre, scale = t_y, np.zeros((n_dom, k)), np.ones((n_dom, k))
        else:
            estimate = t_y / t_x
            centre, scale = estimate, t_x
    if design.replicates is not None:
        rep = design.replicates
        thetas = replicate_thetas(design, kind, y, x, present, dom, n_dom)
        variance = replicate_variance(thetas, estimate, rep.scale, rep.rscales, mse=rep.mse)
    elif design.calibrated:
        variance = dense_variance(design, y, x, present, dom, n_dom, centre, scale)
    parts = [t_y, t_x, moments[:, :k]]
    if kind == "ratio":
        parts += [moments[:, k : 2 * k], moments[:, 2 * k :]]
    weight_sum = psum if kind != "ratio" else w_sums * np.ones((1, k))
    t_yy = parts[2]
    deff = _deff(kind, variance, estimate, t_y, t_yy, parts, weight_sum, n_obs)
    return LinearEstimates(estimate, variance, n_obs, deff, np.asarray(weight_sum))


def _column(values: FloatArray, j: int, rows: IntArray, full: bool) -> FloatArray:
    """Column ``j`` of ``values`` for the rows in a domain."""
    return values[:, j] if full else values[rows, j]


def _sums(codes: IntArray, values: FloatArray, n_groups: int) -> FloatArray:
    """Group sums of ``values`` (float64)."""
    return np.asarray(np.bincount(codes, weights=values, minlength=n_groups), dtype=np.float64)


def _block_missing(
    missing: tuple[IntArray, IntArray] | None, first: int, size: int
) -> tuple[IntArray, IntArray] | None:
    """The missing entries of columns ``first .. first + size - 1`` (entries sorted by column),
    with columns renumbered from 0."""
    if missing is None:
        return None
    r, c = missing
    lo, hi = np.searchsorted(c, [first, first + size])
    return r[lo:hi], c[lo:hi] - first


def _cell_influence(
    kind: str,
    num: FloatArray,
    den: FloatArray | None,
    cell_w: FloatArray,
    codes: IntArray,
    cell_dom: IntArray,
    d: IntArray,
    w: FloatArray,
    missing: tuple[IntArray, IntArray] | None,
    centre: FloatArray,
) -> FloatArray:
    r"""Cell totals of the influence values times their scale, :math:`\sum w y - c \sum w x`.

    The division by :math:`s` (one value per domain, so per (stratum, domain) pair) is left
    to :meth:`CellLayout.variance`, which divides the pair sums of squares by :math:`s^2`.
    For means the denominator is the weight of the rows with a value: the cell's weight minus
    the weights of its missing entries, whose :math:`c\, w_i` are added back per column with
    one ``bincount`` over the (few) missing rows. ``num`` is overwritten.
    """
    if kind == "total":
        return num
    m = num.shape[0]
    buf = np.empty(m)
    bounds = None
    if den is None and missing is not None:
        bounds = np.searchsorted(missing[1], np.arange(num.shape[1] + 1))
    with np.errstate(invalid="ignore"):
        for j in range(num.shape[1]):  # per column: 1-D gathers are much faster than row gathers
            np.take(centre[:, j], cell_dom, out=buf)
            np.multiply(buf, cell_w if den is None else den[:, j], out=buf)
            num[:, j] -= buf
            if bounds is not None and missing is not None and bounds[j + 1] > bounds[j]:
                r = missing[0][bounds[j] : bounds[j + 1]]
                back = centre[:, j].take(d[r]) * w[r]
                num[:, j] += np.bincount(codes[r], weights=back, minlength=m)
    return num


@dataclass(frozen=True)
class _StageCells:
    """(cluster, domain) cells of one stage: cell of every row, each cell's domain, layout."""

    codes: IntArray
    n_cells: int
    cell_dom: IntArray
    layout: CellLayout


@dataclass(frozen=True)
class _Structure:
    """Everything :func:`linear_estimates` derives from the design's stages and the domain
    codes alone (not from weights or variables): reused while both are unchanged."""

    stage_ids: tuple[Stage, ...]
    dom: IntArray
    n_dom: int
    rows: IntArray
    full: bool
    d: IntArray
    stages: tuple[_StageCells, ...]


#: Last structure per design (a design is immutable; entries go with their design).
_STRUCTURES: weakref.WeakKeyDictionary[Design, _Structure] = weakref.WeakKeyDictionary()


def _structure(design: Design, dom: IntArray, n_dom: int) -> _Structure:
    """Cells and variance layouts of every stage for the domain codes ``dom``, cached on the
    design and reused when called again with equal codes (e.g. several tables by the same
    ``by``); the check compares the codes themselves, so a changed ``by`` is never stale."""
    cached = _STRUCTURES.get(design)
    if (
        cached is not None
        and cached.stage_ids is design.stages
        and cached.n_dom == n_dom
        and np.array_equal(cached.dom, dom)
    ):
        return cached
    dom = dom.copy()
    rows = np.flatnonzero(dom >= 0)
    full = rows.size == dom.size
    d = dom if full else dom[rows]
    per_stage = []
    for stage in design.stages:
        codes, cell_cluster, cell_dom, n_cells = _cells(stage, d, n_dom, rows, full)
        layout = CellLayout(stage, cell_cluster, cell_dom, n_dom, design.domain_lonely)
        per_stage.append(_StageCells(codes, n_cells, cell_dom, layout))
    out = _Structure(design.stages, dom, n_dom, rows, full, d, tuple(per_stage))
    _STRUCTURES[design] = out
    return out


def _cells(stage: Stage, d: IntArray, n_dom: int, rows: IntArray, full: bool) -> tuple[IntArray, IntArray, IntArray, int]:
    """(cluster, domain) cell of every row in a domain, and each cell's cluster and domain."""
    cluster = stage.cluster if full else stage.cluster[rows]
    keys = cluster.astype(np.int64) * n_dom + d
    codes, uniq = compress(keys, stage.n_clusters * n_dom)
    return codes, (uniq // n_dom).astype(np.intp), (uniq % n_dom).astype(np.intp), int(uniq.size)


def _present_sums(
    codes: IntArray, n_groups: int, w: FloatArray, missing: tuple[IntArray, IntArray] | None, k: int
) -> FloatArray:
    """Sums of ``w`` over the rows with a value, per group and column: ``(n_groups, k)``
    (``(n_groups, 1)`` when nothing is missing). A group whose rows are all missing for a
    column gets exactly 0."""
    return _present_sums_of(codes, n_groups, [w], missing, k)[0]


def _present_sums_of(
    codes: IntArray, n_groups: int, weights: list[FloatArray], missing: tuple[IntArray, IntArray] | None, k: int
) -> list[FloatArray]:
    """:func:`_present_sums` of several weight vectors, sharing the (group, column) key of
    the missing entries and the all-missing test."""
    totals = [np.asarray(np.bincount(codes, weights=w, minlength=n_groups), dtype=np.float64)[:, None] for w in weights]
    if missing is None:
        return totals
    r, c = missing
    key = codes[r] * k + c
    none_left = np.bincount(key, minlength=n_groups * k).reshape(n_groups, k) == np.bincount(
        codes, minlength=n_groups
    )[:, None]
    out = []
    for w, total in zip(weights, totals):
        lost = np.asarray(np.bincount(key, weights=w[r], minlength=n_groups * k), dtype=np.float64)
        sums = total - lost.reshape(n_groups, k)
        sums[none_left] = 0.0
        out.append(sums)
    return out


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
