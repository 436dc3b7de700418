"""Calibration distance functions and the Newton solver behind :func:`calibrate`.

The solver works on a matrix of weights, one calibration problem per column, so that the
full-sample weights and every replicate are calibrated by the same code (the Newton
iterations loop over iterations and replicate columns, never over rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit

FloatArray = NDArray[np.float64]

METHODS = ("linear", "raking", "logit", "sinh")


@dataclass(frozen=True)
class CalibrationFunction:
    r"""A user calibration distance (R ``make.calfun``), given by its g-weight function.

    Parameters
    ----------
    g : callable
        ``g(u, lower, upper)``: the g-weights :math:`F(u)` for :math:`u = x'\lambda` (an
        array), with :math:`F(0) = 1`; ``lower``/``upper`` are the calibration ``bounds``
        (``-inf``/``inf`` without bounds). R's ``Fm1`` is :math:`F - 1`.
    dg : callable
        ``dg(u, lower, upper)``: the derivative :math:`F'(u)` (0 where a bound truncates).
    name : str
        Recorded in the adjustment's details.

    Examples
    --------
    The Hellinger distance :math:`G(g) = 2(\sqrt g - 1)^2`, :math:`F(u) = (1 - u/2)^{-2}`:

    >>> hellinger = CalibrationFunction(lambda u, lo, hi: (1 - u / 2) ** -2.0,
    ...                                 lambda u, lo, hi: (1 - u / 2) ** -3.0, "hellinger")
    >>> float(hellinger.g(np.array([0.0]), -np.inf, np.inf)[0])
    1.0
    """

    g: Callable[[FloatArray, float, float], ArrayLike]
    dg: Callable[[FloatArray, float, float], ArrayLike]
    name: str = "user"
#: Ratio of population to sample totals above which R's ``grake`` rescales the weights first.
RESCALE_THRESHOLD = 20.0
#: Relative tolerance of the Moore–Penrose inverse (R: ``MASS::ginv(tol = 256 * eps)``).
PINV_RTOL = 256 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class Distance:
    """A calibration distance: g-weight function ``g(u)`` and derivative of ``u = x'lambda``.

    Examples
    --------
    >>> d = Distance("logit", 0.5, 2.0)
    >>> float(d.g(np.array([0.0]))[0])
    1.0
    >>> Distance("linear", 0.5, 1.5).g(np.array([-1.0, 0.2, 3.0]))
    array([0.5, 1.2, 1.5])
    """

    method: str
    lower: float
    upper: float
    function: CalibrationFunction | None = None

    def g(self, u: FloatArray) -> FloatArray:
        """g-weights :math:`F(u)`, :math:`F(0) = 1`."""
        if self.function is not None:
            return np.asarray(self.function.g(u, self.lower, self.upper), dtype=np.float64)
        if self.method == "sinh":
            return np.clip(_sinh_inverse(u), self.lower, self.upper)
        if self.method == "linear":
            return np.clip(1.0 + u, self.lower, self.upper)
        if self.method == "raking":
            with np.errstate(over="ignore"):
                return np.clip(np.exp(u), self.lower, self.upper)
        L, U = self.lower, self.upper
        A = (U - L) / ((U - 1.0) * (1.0 - L))
        return L + (U - L) * expit(A * u + np.log((1.0 - L) / (U - 1.0)))

    def evaluate(self, u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(g(u), dg(u))`` sharing the exponentials (one pass over an (n, R) array each)."""
        if self.function is not None or self.method == "sinh":
            return self.g(u), self.dg(u)
        if self.method == "raking" and np.isinf(self.lower) and np.isinf(self.upper):
            with np.errstate(over="ignore"):
                e = np.exp(u)
            return e, e
        if self.method == "logit":
            L, U = self.lower, self.upper
            A = (U - L) / ((U - 1.0) * (1.0 - L))
            s = expit(A * u + np.log((1.0 - L) / (U - 1.0)))
            return L + (U - L) * s, (U - L) * A * s * (1.0 - s)
        return self.g(u), self.dg(u)

    def dg(self, u: FloatArray) -> FloatArray:
        """Derivative :math:`F'(u)` (zero where a bound truncates)."""
        if self.function is not None:
            return np.asarray(self.function.dg(u, self.lower, self.upper), dtype=np.float64)
        if self.method == "sinh":  # R cal.sinh: zero unless lower - 1 < u < upper - 1
            p = np.arcsinh(2.0 * u)
            d = (1.0 + p / np.sqrt(p * p + 4.0)) / np.sqrt(1.0 + 4.0 * u * u)
            return np.where((u > self.lower - 1.0) & (u < self.upper - 1.0), d, 0.0)
        if self.method == "linear":
            inside = (1.0 + u > self.lower) & (1.0 + u < self.upper)
            return inside.astype(np.float64)
        if self.method == "raking":
            with np.errstate(over="ignore"):
                e = np.exp(u)
            return np.where((e > self.lower) & (e < self.upper), e, 0.0)
        L, U = self.lower, self.upper
        A = (U - L) / ((U - 1.0) * (1.0 - L))
        s = expit(A * u + np.log((1.0 - L) / (U - 1.0)))
        return (U - L) * A * s * (1.0 - s)


def _sinh_inverse(u: FloatArray) -> FloatArray:
    r"""R ``cal.sinh``'s g-weights (survey 4.1.1, :math:`\alpha = 1`):
    :math:`(p + \sqrt{p^2 + 4})/2` with :math:`p = \operatorname{asinh}(2u)`, clipped to the
    bounds (which R requires to be finite)."""
    p = np.arcsinh(2.0 * u)
    return np.asarray((p + np.sqrt(p * p + 4.0)) / 2.0, dtype=np.float64)


def trim_g(G: FloatArray, W: FloatArray, lower: float, upper: float) -> tuple[FloatArray, FloatArray]:
    r"""R ``calibrate(trim=)``: g-weights outside ``[lower, upper]`` are set to the bound and the
    weight they lose or gain, :math:`\sum (g - g')w`, is shared by the other units in
    proportion to their weights ``W`` (one pass, column by column). Returns the new g-weights
    and the number trimmed per column.

    Examples
    --------
    >>> G, k = trim_g(np.array([[0.5], [1.0], [2.0]]), np.ones((3, 1)), 0.8, 1.5)
    >>> G[:, 0], k
    (array([0.8, 1.2, 1.5]), array([2]))
    """
    clipped = np.clip(G, lower, upper)
    outside = (lower > G) | (upper < G)
    excess = ((G - clipped) * W).sum(axis=0)
    inside_w = (W * ~outside).sum(axis=0)
    share = np.divide(excess, inside_w, out=np.zeros_like(excess), where=inside_w > 0)
    return np.where(outside, clipped, clipped + share), outside.sum(axis=0)


def cluster_means(values: FloatArray, codes: NDArray[np.intp]) -> FloatArray:
    """Every row's cluster mean of each column of ``values`` (R ``ave``), for ``aggregate``.

    Examples
    --------
    >>> cluster_means(np.array([[1.0], [3.0], [5.0]]), np.array([0, 0, 1]))[:, 0]
    array([2., 2., 5.])
    """
    n_groups = int(codes.max()) + 1
    S = sp.csr_matrix((np.ones(codes.size), (codes, np.arange(codes.size))), shape=(n_groups, codes.size))
    counts = np.bincount(codes, minlength=n_groups).astype(np.float64)
    return np.asarray((np.asarray(S @ values) / counts[:, None])[codes], dtype=np.float64)


@dataclass(frozen=True)
class CalibrationFit:
    """Result of :func:`solve_calibration` for an (n, R) matrix of weights."""

    g: FloatArray  # (n, R)
    iterations: int
    converged: NDArray[np.bool_]  # (R,)
    achieved: FloatArray  # (R,) max relative discrepancy
    worst: NDArray[np.intp]  # (R,) index of the total with the largest discrepancy


#: Rows per block when forming weighted cross-products (bounds the temporary memory).
CHUNK_ROWS = 16_384
#: Below this many weight columns the cross-products are formed column by column.
FEW_COLUMNS = 8


def _totals(X: FloatArray, M: FloatArray) -> FloatArray:
    """Weighted column totals :math:`X'M`, shape (p, R) (as ``M'X``: much faster in BLAS)."""
    return np.asarray((M.T @ X).T, dtype=np.float64)


def _gram(X: FloatArray, C: FloatArray) -> FloatArray:
    """Stack of :math:`X' \\mathrm{diag}(c_r) X` for every column ``c_r`` of ``C``: (R, p, p).

    ``C`` is non-negative (weights times :math:`F'`). For many columns (replicates), one
    matrix product per block of rows serves all of them: the products :math:`x_{ij} x_{ik}`
    (upper triangle) of a block times the block of ``C``.
    """
    if C.shape[1] < FEW_COLUMNS:  # B'B with B = X sqrt(c): a symmetric product per column
        return np.stack([(B.T @ B) for B in (X * np.sqrt(C[:, [r]]) for r in range(C.shape[1]))])
    p = X.shape[1]
    upper, lower = np.triu_indices(p)
    flat = np.zeros((C.shape[1], upper.size))
    for start in range(0, X.shape[0], CHUNK_ROWS):  # blocks of rows, not rows
        block = X[start : start + CHUNK_ROWS]
        flat += C[start : start + CHUNK_ROWS].T @ (block[:, upper] * block[:, lower])
    gram = np.empty((C.shape[1], p, p))
    gram[:, upper, lower] = flat
    gram[:, lower, upper] = flat
    return gram


def _discrepancy(
    X: FloatArray, W: FloatArray, G: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray]:
    misfit = T[:, None] - _totals(X, W * G)
    return misfit, np.abs(misfit) / (1.0 + np.abs(T[:, None]))


def solve_calibration(
    X: FloatArray,
    W: FloatArray,
    T: FloatArray,
    distance: Distance,
    max_iter: int,
    tol: float,
    rescale_basis: tuple[FloatArray, FloatArray] | None = None,
) -> CalibrationFit:
    """g-weights calibrating each column of ``W`` (n, R) to the totals ``T`` of ``X`` (n, p).

    See :func:`weighting.calibration.calibrate` for the method (R ``grake`` / ``regcalibrate``).
    ``rescale_basis`` = (columns, totals) whose ratios decide R's rescaling (default X, T).

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> fit = solve_calibration(X, np.ones((3, 1)), np.array([4.0, 3.0]),
    ...                         Distance("raking", -np.inf, np.inf), 50, 1e-12)
    >>> fit.g[:, 0]
    array([2., 2., 3.])
    """
    n_rep = W.shape[1]
    sample = _totals(X, W)
    if distance.method == "linear" and np.isinf(distance.lower) and np.isinf(distance.upper):
        rhs = (T[:, None] - sample).T[:, :, None]
        gram = _gram(X, W)
        try:
            lam = np.linalg.solve(gram, rhs)[:, :, 0].T
        except np.linalg.LinAlgError:  # a replicate that lost a level: least squares, as ginv
            lam = np.einsum("rpq,rq->pr", np.linalg.pinv(gram, rtol=PINV_RTOL), rhs[:, :, 0])
        G = 1.0 + X @ lam
        _, rel = _discrepancy(X, W, G, T)
        achieved = rel.max(axis=0)
        return CalibrationFit(
            G, 1, np.ones(n_rep, dtype=bool), achieved, np.argmax(rel, axis=0).astype(np.intp)
        )

    Xr, Tr = (X, T) if rescale_basis is None else rescale_basis
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = Tr[:, None] / _totals(Xr, W)
    rescale = np.all(ratios > RESCALE_THRESHOLD, axis=0)
    scale = np.where(rescale, np.mean(np.where(rescale, ratios, 1.0), axis=0), 1.0)
    Ws = W * scale
    eta = np.zeros((X.shape[1], n_rep))
    G, D = distance.evaluate(X @ eta)
    misfit, _ = _discrepancy(X, Ws, G, T)
    iterations = 1
    while True:
        step = np.linalg.pinv(_gram(X, Ws * D), rtol=PINV_RTOL)
        delta = np.einsum("rpq,qr->pr", step, misfit)
        eta = eta + delta
        G, D = distance.evaluate(X @ eta)
        bad = ~(np.isfinite(G).all(axis=0) & np.isfinite(D).all(axis=0))
        while iterations < max_iter and bad.any():  # step halving, as grake
            iterations += 1
            delta[:, bad] /= 2.0
            eta[:, bad] -= delta[:, bad]
            G, D = distance.evaluate(X @ eta)
            bad = ~(np.isfinite(G).all(axis=0) & np.isfinite(D).all(axis=0))
        misfit, rel = _discrepancy(X, Ws, G, T)
        achieved = rel.max(axis=0)
        converged = achieved < tol
        if converged.all():
            break
        iterations += 1
        if iterations > max_iter:
            break
    return CalibrationFit(
        G * scale, iterations, converged, achieved, np.argmax(rel, axis=0).astype(np.intp)
    )
