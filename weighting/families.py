r"""Generalised linear model families and a weighted IRLS solver for many weight columns at once.

:func:`fit_partition` fits the same model (same :math:`X`, same :math:`y`) in every domain
(the rows are partitioned into domains) with every column of a weight matrix (the full-sample
weights, or every replicate's), in one set of iterations; each iteration forms every fit's
weighted cross-product matrix with sparse group sums over blocks of rows
(:mod:`weighting.partitions`), never a loop over fits, domains or rows.

Iteratively reweighted least squares (McCullagh & Nelder 1989, sec. 2.5; R ``glm.fit``): with
:math:`\eta = X\beta`, :math:`\mu = g^{-1}(\eta)`, working response
:math:`z = \eta + (y - \mu)/\mu'(\eta)` and working weights :math:`c = w\,\mu'(\eta)^2/V(\mu)`,
solve :math:`(X'CX)\beta = X'Cz` until the deviance changes by less than ``tol`` relative
(R's criterion :math:`|D - D_{old}|/(|D| + 0.1)`) at two successive iterations, so that the
last Newton step is taken after the criterion is met (the coefficients are then accurate to
rounding). Columns of :math:`X` are scaled to unit root mean square before the cross-products
are formed, which keeps the normal equations well conditioned.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from .errors import ConvergenceWarning, WeightingError
from .partitions import Partition

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Smallest eigenvalue (relative) of a scaled cross-product matrix that is not a rank deficiency.
RANK_TOL = 1e-11
#: Smallest mu'(eta), as R's binomial ``mu.eta`` (``.Machine$double.eps``).
EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Family:
    """A GLM family with its canonical link: ``gaussian`` (identity), ``quasibinomial``
    (logit), ``quasipoisson`` (log).

    Examples
    --------
    >>> f = family("quasibinomial")
    >>> float(f.linkinv(np.array([0.0]))[0]), float(f.variance(np.array([0.5]))[0])
    (0.5, 0.25)
    """

    name: str
    link: str

    def linkinv(self, eta: FloatArray) -> FloatArray:
        """:math:`\\mu = g^{-1}(\\eta)`."""
        if self.link == "identity":
            return eta
        if self.link == "logit":
            return np.asarray(special.expit(eta), dtype=np.float64)
        with np.errstate(over="ignore"):
            return np.exp(eta)

    def mu_eta(self, eta: FloatArray) -> FloatArray:
        """:math:`d\\mu/d\\eta` (R ``mu.eta``; at least machine epsilon for the logit)."""
        if self.link == "identity":
            return np.ones_like(eta)
        if self.link == "logit":
            e = np.exp(-np.abs(eta))
            return np.maximum(e / (1.0 + e) ** 2, EPS)
        with np.errstate(over="ignore"):
            return np.maximum(np.exp(eta), EPS)

    def variance(self, mu: FloatArray) -> FloatArray:
        """Variance function :math:`V(\\mu)`."""
        if self.name == "gaussian":
            return np.ones_like(mu)
        if self.name == "quasibinomial":
            return mu * (1.0 - mu)
        return mu

    def start(self, y: FloatArray) -> FloatArray:
        """Starting linear predictor from the response (R's ``mustart``, unweighted)."""
        if self.name == "gaussian":
            return y.copy()
        if self.name == "quasibinomial":
            return np.asarray(special.logit((y + 0.5) / 2.0), dtype=np.float64)
        return np.log(y + 0.1)

    def unit_deviance(self, y: FloatArray, mu: FloatArray) -> FloatArray:
        """Deviance of every row and column, ``(n, R)`` (weight it and sum it)."""
        yy = y[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.name == "gaussian":
                return np.asarray((yy - mu) ** 2, dtype=np.float64)
            if self.name == "quasibinomial":
                return np.asarray(
                    2.0 * (special.xlogy(yy, yy / mu) + special.xlogy(1.0 - yy, (1.0 - yy) / (1.0 - mu))),
                    dtype=np.float64,
                )
            return np.asarray(2.0 * (special.xlogy(yy, yy / mu) - (yy - mu)), dtype=np.float64)

    def check_response(self, y: FloatArray, argument: str) -> None:
        """Raise :class:`WeightingError` when the response is outside the family's range."""
        if self.name == "quasibinomial" and ((y < 0) | (y > 1)).any():
            bad = float(y[(y < 0) | (y > 1)][0])
            raise WeightingError(f"{argument}: a quasibinomial response must be in [0, 1]; got {bad!r}")
        if self.name == "quasipoisson" and (y < 0).any():
            raise WeightingError(f"{argument}: a quasipoisson response must be >= 0; got {float(y[y < 0][0])!r}")


FAMILIES = {
    "gaussian": Family("gaussian", "identity"),
    "quasibinomial": Family("quasibinomial", "logit"),
    "binomial": Family("quasibinomial", "logit"),
    "quasipoisson": Family("quasipoisson", "log"),
    "poisson": Family("quasipoisson", "log"),
}


def family(name: str) -> Family:
    """The family called ``name`` (``"binomial"`` and ``"poisson"`` give the quasi families,
    which have the same estimates and design-based standard errors)."""
    if name not in FAMILIES:
        raise WeightingError(f"family must be one of {', '.join(FAMILIES)}; got {name!r}")
    return FAMILIES[name]


def solve_grams(G: FloatArray, rhs: FloatArray, aliased: BoolArray) -> FloatArray:
    """Solve ``G[r] x = rhs[:, r]`` for every column; aliased coefficients are set to 0.

    ``G`` is ``(m, p, p)``, ``rhs`` ``(p, m)``, ``aliased`` ``(p, m)`` (a column of the model
    matrix with no weight in that fit). Returns ``(p, m)``.
    """
    rhs = np.where(aliased, 0.0, rhs)
    return np.asarray(np.linalg.solve(unalias(G, aliased), rhs.T[:, :, None])[:, :, 0].T, dtype=np.float64)


def unalias(G: FloatArray, aliased: BoolArray) -> FloatArray:
    """A copy of the ``(m, p, p)`` stack with the rows and columns of aliased coefficients
    (``aliased`` ``(p, m)``) replaced by the identity's, so that they solve to 0."""
    G = G.copy()
    r_idx, j_idx = np.nonzero(aliased.T)
    G[r_idx, j_idx, :] = 0.0
    G[r_idx, :, j_idx] = 0.0
    G[r_idx, j_idx, j_idx] = 1.0
    return G


def rank_deficient(G: FloatArray) -> BoolArray:
    """Whether each ``(p, p)`` matrix of the stack is numerically singular (after scaling to
    unit diagonal; a zero diagonal entry counts as fine: it is an aliased column)."""
    d = np.sqrt(np.abs(np.einsum("rii->ri", G)))
    d = np.where(d > 0, d, 1.0)
    scaled = G / d[:, :, None] / d[:, None, :]
    eig = np.linalg.eigvalsh(scaled)
    return np.asarray(eig[:, 0] < RANK_TOL * np.maximum(eig[:, -1], 1.0))


@dataclass(frozen=True)
class Fits:
    """Coefficients of :func:`fit_partition`: ``beta`` ``(p, D, R)`` (NaN where aliased),
    ``aliased`` ``(p, D, R)``, ``converged`` ``(D, R)``."""

    beta: FloatArray
    aliased: BoolArray
    converged: BoolArray
    iterations: int


def fit_partition(
    X: FloatArray,
    y: FloatArray,
    W: FloatArray,
    part: Partition,
    fam: Family,
    *,
    start: FloatArray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
    names: Sequence[str] | None = None,
) -> Fits:
    """Fit the GLM in every domain of ``part`` with every column of ``W`` ``(n, R)`` as prior
    weights: ``D x R`` fits in one set of iterations (see the module).

    ``start`` ``(p, D)`` or ``(p, D, R)``: starting coefficients (R starts the replicate fits
    at the full-sample estimate); default from the response. ``names``: column names of ``X``
    for error messages. Raises :class:`WeightingError` on a singular model matrix; warns
    :class:`ConvergenceWarning` when a fit stops at ``max_iter``.
    """
    n, p = X.shape
    D, R = part.n_groups, W.shape[1]
    W = W * part.valid[:, None]
    scale = np.sqrt(np.mean(X[np.any(W != 0, axis=1)] ** 2, axis=0))
    scale = np.where(scale > 0, scale, 1.0)
    Xs = X / scale
    ones = np.ones((n, 1))
    aliased = (part.gram(Xs**2, W, ones)[..., 0] == 0).transpose(2, 0, 1)  # (p, D, R)
    if start is None:
        eta = np.repeat(fam.start(y)[:, None], R, axis=1)
        gamma = np.zeros((p, D, R))
    else:
        gamma = np.array(np.broadcast_to(np.nan_to_num(start).reshape(p, D, -1), (p, D, R))) * scale[:, None, None]
        eta = part.linear(Xs, gamma)
    mu = fam.linkinv(eta)
    dev_old = part.sums(W * fam.unit_deviance(y, mu))
    small_before = np.zeros((D, R), dtype=bool)
    converged = np.zeros((D, R), dtype=bool)
    flat_aliased = aliased.reshape(p, D * R)
    iterations = 0
    for iterations in range(1, max_iter + 1):
        mu_eta = fam.mu_eta(eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(W != 0, W * mu_eta**2 / fam.variance(mu), 0.0)
            z = np.where(W != 0, eta + (y[:, None] - mu) / mu_eta, 0.0)
        G = part.gram(Xs, c).reshape(D * R, p, p)
        if iterations == 1:
            bad = rank_deficient(unalias(G, flat_aliased))
            if bad.any():
                d, r = divmod(int(np.flatnonzero(bad)[0]), R)
                raise _singular(Xs, c[:, r] * (part.codes == d) * part.valid, names)
        rhs = part.gram(Xs, c * z, ones)[..., 0].reshape(D * R, p).T
        gamma_new = solve_grams(G, rhs, flat_aliased).reshape(p, D, R)
        eta_new = part.linear(Xs, gamma_new)
        mu_new = fam.linkinv(eta_new)
        dev = part.sums(W * fam.unit_deviance(y, mu_new))
        halvings = 0
        while not np.isfinite(dev).all() and iterations > 1 and halvings < 30:  # step halving, as glm.fit
            off = ~np.isfinite(dev)
            gamma_new[:, off] = (gamma_new[:, off] + gamma[:, off]) / 2.0
            eta_new = part.linear(Xs, gamma_new)
            mu_new = fam.linkinv(eta_new)
            dev = part.sums(W * fam.unit_deviance(y, mu_new))
            halvings += 1
        gamma, eta, mu = gamma_new, eta_new, mu_new
        with np.errstate(invalid="ignore"):
            small = np.abs(dev - dev_old) / (np.abs(dev) + 0.1) < tol
        converged = small & small_before
        if converged.all():
            break
        small_before, dev_old = small, dev
    if not converged.all():
        warnings.warn(
            f"the model did not converge in max_iter={max_iter} iterations for "
            f"{int((~converged).sum())} of {D * R} fit(s) (separation or a rare outcome?)",
            ConvergenceWarning,
            stacklevel=3,
        )
    beta = np.where(aliased, np.nan, gamma / scale[:, None, None])
    return Fits(beta, aliased, converged, iterations)


def _singular(Xs: FloatArray, c: FloatArray, names: Sequence[str] | None) -> WeightingError:
    """The error for a model matrix whose columns are linearly dependent in the data."""
    from scipy.linalg import qr

    keep = np.any(Xs != 0, axis=0)
    _, R, piv = qr(Xs[:, keep] * np.sqrt(c)[:, None], mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int(np.sum(diag > 1e-9 * diag[0]))
    cols = np.flatnonzero(keep)[piv[rank:]].tolist()
    labels = cols if names is None else [names[j] for j in cols]
    return WeightingError(
        f"the model matrix is singular: column(s) {labels} are linear combinations of "
        "the others in the data used; drop or recode predictors"
    )
