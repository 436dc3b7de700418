r"""Linearisation (Taylor) and replicate variances of design-based estimators.

The linearisation variance follows R ``survey``'s ``svyrecvar``/``multistage``/``onestage``/
``onestrat``. With influence values :math:`z_i` summed to cluster totals :math:`z_{hj}`,

.. math::

    V = \sum_h (1 - f_h) \frac{n_h}{n_h - 1} \sum_j (z_{hj} - \bar z_h)(z_{hj} - \bar z_h)^T
        + \sum_{j} \frac{n_h}{N_h} V_j^{(2)} + \dots

where :math:`V_j^{(2)}` is the same formula applied to the second-stage units of PSU :math:`j`
(only when second-stage FPCs are given), recursively. Certainty strata (:math:`f_h \ge 1 -
10^{-7}`) contribute 0 at their stage; lonely strata follow ``survey.lonely.psu`` (see
:mod:`weighting.stages`).

Two implementations give the same numbers:

* :func:`linearization_variance` takes dense influence values ``z`` of shape ``(n, k)`` and
  returns variances or the full ``(k, k)`` covariance (used after calibration, whose residuals
  are not confined to a domain);
* :func:`cell_variance` takes the totals of the influence values in (cluster, domain) cells,
  which is all the formula needs when :math:`z` vanishes outside its domain: the variance of
  every (domain, variable) pair in one pass, without an ``n x (domains x variables)`` matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from .stages import Stage

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


def compress(keys: NDArray[np.int64], space: int) -> tuple[IntArray, NDArray[np.int64]]:
    """Number the distinct ``keys`` (in ``[0, space)``) ``0..m-1`` in increasing key order.

    Uses a presence table instead of a sort when ``space`` is not much larger than the number
    of keys. Returns ``(codes, unique_keys)``.
    """
    if space <= 4 * keys.size + 1_000_000:
        seen = np.zeros(space, dtype=bool)
        seen[keys] = True
        uniq = np.flatnonzero(seen)
        lookup = np.zeros(space, dtype=np.intp)
        lookup[uniq] = np.arange(uniq.size)
        return lookup[keys], uniq.astype(np.int64)
    uniq, inverse = np.unique(keys, return_inverse=True)
    return inverse.astype(np.intp), uniq


def group_matrix(codes: IntArray, n_groups: int, values: FloatArray | None = None) -> sp.csr_matrix:
    """Sparse ``(n_groups, len(codes))`` matrix whose product with ``X`` gives group sums."""
    data = np.ones(codes.size) if values is None else values
    return sp.csr_matrix((data, (codes, np.arange(codes.size))), shape=(n_groups, codes.size))


def _group_scale(
    stage: Stage, stratum: IntArray, present: BoolArray, n_out: int, out_of: IntArray,
    dropped: BoolArray | None = None,
) -> FloatArray:
    """R ``onestage`` for ``average``: n_strata / n_strata_not_lonely within each call.

    ``stratum`` gives the stratum of every row of ``present`` (shape ``(m, k)``), ``out_of`` the
    output cell (group x domain) of every row. Returns the multiplier per (output cell, column).
    """
    nstrat = group_matrix(out_of, n_out) @ present.astype(np.float64)
    gone = stage.dropped[stratum] if dropped is None else dropped
    ok = present & ~gone[:, None]
    nok = group_matrix(out_of, n_out) @ ok.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(nstrat > 0, nstrat / nok, 0.0)


def linearization_variance(
    z: FloatArray,
    stages: Sequence[Stage],
    *,
    present: BoolArray | None = None,
    covariance: bool = False,
) -> FloatArray:
    """Variance (or covariance matrix) of the totals of the columns of ``z``.

    Parameters
    ----------
    z : ndarray, shape (n, k)
        Influence values (already residualised for any calibration).
    stages : sequence of Stage
        The design's stages.
    present : ndarray of bool, shape (n, k), optional
        Rows that R would keep in the (sub)design for each column; only used by
        ``lonely_psu="average"`` (strata without rows are not counted). Default: all rows.
    covariance : bool, default False
        Return the ``(k, k)`` covariance matrix instead of the ``(k,)`` variances.

    Returns
    -------
    ndarray
        ``(k,)`` variances or ``(k, k)`` covariance.

    Examples
    --------
    Simple random sample of 4 units without strata or FPC (each unit its own PSU):

    >>> import numpy as np
    >>> from weighting.stages import build_stages
    >>> n = 4
    >>> stages = build_stages(np.zeros(n, dtype=np.intp), ["all"], [np.arange(n)], None, "fail")
    >>> z = np.array([[1.0], [2.0], [3.0], [6.0]])
    >>> float(linearization_variance(z, stages)[0])  # n/(n-1) * sum((z - 3)^2)
    18.666666666666664
    """
    z = np.asarray(z, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    k = z.shape[1]
    total = np.zeros((k, k)) if covariance else np.zeros(k)
    for stage in stages:
        Zc = np.asarray(stage.cluster_indicator @ z)
        mean = np.asarray(stage.stratum_indicator @ Zc) / stage.sampled[:, None]
        mean[~stage.centered] = 0.0
        dev = Zc - mean[stage.cluster_stratum]
        weight = np.ones(stage.n_strata)
        if stage.dropped.any():
            pres = np.ones_like(z, dtype=bool) if present is None else present
            counts = stage.stratum_indicator @ (stage.cluster_indicator @ pres.astype(np.float64))
            pres_strata: BoolArray = np.asarray(counts) > 0
            if covariance:
                pres_strata = np.asarray(pres_strata.any(axis=1, keepdims=True))
            scale = _group_scale(
                stage, np.arange(stage.n_strata), pres_strata, stage.n_groups, stage.stratum_group
            )
            weight_sk = scale[stage.stratum_group]
            if not covariance:
                terms = np.asarray(stage.stratum_indicator @ (stage.coef[stage.cluster_stratum][:, None] * dev**2))
                with np.errstate(invalid="ignore"):
                    total += np.sum(np.where(pres_strata, terms * weight_sk, 0.0), axis=0)
                continue
            weight = weight_sk[:, 0]
        cw = (stage.coef * weight)[stage.cluster_stratum]
        if covariance:
            total += dev.T @ (cw[:, None] * dev)
        else:
            total += cw @ dev**2
    return total


class CellLayout:
    """The (stratum, domain) structure of (cluster, domain) cells at one stage, built once
    and reused for every block of variables (see :func:`cell_variance`).

    Parameters
    ----------
    stage : Stage
        The stage whose clusters define the cells.
    cell_cluster, cell_dom : ndarray of intp, shape (cells,)
        Cluster and domain of every cell.
    n_dom : int
        Number of domains.
    domain_lonely : {"none", "adjust", "average"}
        R's ``options(survey.adjust.domain.lonely=TRUE)`` with ``survey.lonely.psu`` =
        ``"adjust"`` or ``"average"``: a (stratum, domain) pair whose domain has rows in only one
        of the stratum's :math:`n_h > 1` PSUs is not centred (``"adjust"``) or is left out and
        the other strata of its group scaled up (``"average"``), as R's ``onestrat`` does for
        such a stratum of a subset design (survey 4.1).
    """

    def __init__(
        self, stage: Stage, cell_cluster: IntArray, cell_dom: IntArray, n_dom: int, domain_lonely: str = "none"
    ) -> None:
        self.stage = stage
        self.n_dom = n_dom
        cell_stratum = stage.cluster_stratum[cell_cluster]
        self.pair_codes, pair_keys = compress(
            cell_stratum.astype(np.int64) * n_dom + cell_dom, stage.n_strata * n_dom
        )
        n_pairs = pair_keys.size
        self.pair_stratum = (pair_keys // n_dom).astype(np.intp)
        self.pair_dom = (pair_keys % n_dom).astype(np.intp)
        self.B = group_matrix(self.pair_codes, n_pairs)
        self.to_dom = group_matrix(self.pair_dom, n_dom)
        self.n_h = stage.sampled[self.pair_stratum].astype(np.float64)
        self.centered = stage.centered[self.pair_stratum]
        self.absent = self.n_h - np.bincount(self.pair_codes, minlength=n_pairs)
        self.coef = stage.coef[self.pair_stratum]
        self.dropped = stage.dropped[self.pair_stratum]
        if domain_lonely in ("adjust", "average"):
            lonely = (np.bincount(self.pair_codes, minlength=n_pairs) == 1) & (self.n_h > 1)
            if domain_lonely == "adjust":
                self.centered = self.centered & ~lonely
            else:
                self.dropped = self.dropped | lonely
                self.coef = np.where(lonely, 0.0, self.coef)

    def variance(
        self, Z: FloatArray, present: BoolArray | None = None, scale: FloatArray | None = None
    ) -> FloatArray:
        """The stage's contribution for the columns of ``Z`` (cells x m): ``(n_dom, m)``.

        ``scale`` (``(n_dom, m)``, optional): give the variance of ``Z / scale[domain]``
        instead; all cells of a (stratum, domain) pair share the divisor, so the pair's sum of
        squares is divided by its square. ``Z`` is overwritten (a temporary of the caller).
        """
        stage = self.stage
        # Centre on the stratum mean over all n_h clusters (cells absent from a domain are 0):
        # sum_j (Z_j - m)^2 = sum_cells (Z - m)^2 + (n_h - cells) m^2, without cancellation.
        mean = np.asarray(self.B @ Z) / self.n_h[:, None]
        mean[~self.centered] = 0.0
        pres = None
        if self.dropped.any():
            pres = np.ones_like(Z, dtype=bool) if present is None else present
        for j in range(Z.shape[1]):  # per column: 1-D gathers are much faster than row gathers
            np.subtract(Z[:, j], mean[:, j].take(self.pair_codes), out=Z[:, j])
        dev = np.square(Z, out=Z)
        terms = np.asarray(self.B @ dev)
        terms += self.absent[:, None] * mean**2
        terms *= self.coef[:, None]
        if scale is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                terms /= np.square(scale[self.pair_dom])
        if pres is None:
            return np.asarray(self.to_dom @ terms)
        pair_present = np.asarray(self.B @ pres.astype(np.float64)) > 0
        out_codes, out_keys = compress(
            stage.stratum_group[self.pair_stratum].astype(np.int64) * self.n_dom + self.pair_dom,
            stage.n_groups * self.n_dom,
        )
        scale = _group_scale(stage, self.pair_stratum, pair_present, out_keys.size, out_codes, self.dropped)
        contrib = np.asarray(group_matrix(out_codes, out_keys.size) @ terms)
        with np.errstate(invalid="ignore"):
            scaled = contrib * scale
        return np.asarray(group_matrix((out_keys % self.n_dom).astype(np.intp), self.n_dom) @ scaled)


def cell_variance(
    stage: Stage,
    Z: FloatArray,
    cell_cluster: IntArray,
    cell_dom: IntArray,
    n_dom: int,
    *,
    present: BoolArray | None = None,
) -> FloatArray:
    r"""Stage contribution to the variance of every (domain, column) from cell totals.

    Parameters
    ----------
    stage : Stage
        The stage whose clusters define the cells.
    Z : ndarray, shape (cells, k)
        Influence-value totals per (cluster, domain) cell; column ``j`` of a cell of domain
        ``d`` is the total for the (d, j) estimate. Cells not listed are zero.
    cell_cluster, cell_dom : ndarray of intp, shape (cells,)
        Cluster and domain of every cell.
    n_dom : int
        Number of domains.
    present : ndarray of bool, shape (cells, k), optional
        Whether the cell has rows R keeps for that column (``lonely_psu="average"`` only).

    Returns
    -------
    ndarray, shape (n_dom, k)
        :math:`\sum_h c_h \sum_{j=1}^{n_h} (Z_{hj} - \bar Z_h)^2` per domain and column.

    Examples
    --------
    One stratum of 3 PSUs, one domain present in PSUs 0 and 2 (PSU 1 contributes 0):

    >>> import numpy as np
    >>> from weighting.stages import build_stages
    >>> st = build_stages(np.zeros(3, dtype=np.intp), ["s"], [np.arange(3)], None, "fail")
    >>> float(cell_variance(st[0], np.array([[1.0], [2.0]]), np.array([0, 2]), np.array([0, 0]), 1)[0, 0])
    3.0
    """
    return CellLayout(stage, cell_cluster, cell_dom, n_dom).variance(np.array(Z, dtype=np.float64), present)


def replicate_variance(
    thetas: FloatArray,
    estimate: FloatArray,
    scale: float,
    rscales: FloatArray,
    *,
    mse: bool = False,
) -> FloatArray:
    r"""Replicate variance :math:`V = s \sum_r c_r (\theta_r - \bar\theta)^2` (R ``svrVar``).

    Parameters
    ----------
    thetas : ndarray, shape (R, ...)
        Replicate estimates (first axis: replicates).
    estimate : ndarray
        Full-sample estimate (the centre when ``mse`` is true).
    scale : float
        Overall multiplier :math:`s`.
    rscales : ndarray, shape (R,)
        Per-replicate multipliers :math:`c_r`.
    mse : bool, default False
        Centre on the full-sample estimate instead of the mean of the replicates with
        :math:`c_r > 0`.

    Returns
    -------
    ndarray
        Variances, the shape of ``estimate``.

    Examples
    --------
    >>> import numpy as np
    >>> thetas = np.array([1.0, 2.0, 3.0])
    >>> float(replicate_variance(thetas, np.array(2.0), 0.5, np.ones(3)))
    1.0
    """
    thetas = np.asarray(thetas, dtype=np.float64)
    rscales = np.asarray(rscales, dtype=np.float64)
    centre = estimate if mse else thetas[rscales > 0].mean(axis=0)
    dev = thetas - centre
    shape = (-1,) + (1,) * (thetas.ndim - 1)
    return np.asarray(scale * np.sum(rscales.reshape(shape) * dev**2, axis=0))
