r"""Likelihood (profile, Rao-Scott scaled) intervals for proportions: R
``svyciprop(method="likelihood")``.

R fits ``svyglm(y ~ 1, family=quasibinomial)`` and calls ``confint(method="likelihood")``
(survey 4.1: ``MASSprofile_glm`` then ``confint_profile``). For an intercept-only logistic
model everything has a closed form in the domain's proportion :math:`\hat p`, so no model is
fitted here:

* the signed root of the scaled deviance at :math:`\beta` (:math:`p_\beta =
  \operatorname{expit}\beta`) is :math:`z(\beta) = \operatorname{sign}(\beta - \hat\beta)
  \sqrt{2 (m - 1) [\hat p \log(\hat p / p_\beta) + \hat q \log(\hat q / q_\beta)]}`, the
  deviance difference over the Pearson dispersion, with :math:`m` the rows with a value and a
  nonzero weight;
* the Rao-Scott factor :math:`\lambda = V(\hat p)\, S_W / (\hat p \hat q)` is the design
  variance of :math:`\hat\beta` over its model variance (:math:`S_W` the sum of the glm's
  rescaled weights, weights over their mean in the (domain) design);
* the interval is where :math:`z(\beta) = \pm t_{df, 1-\alpha/2}\sqrt\lambda`, found as R does:
  :math:`z` is evaluated at :math:`\hat\beta \pm k \delta\, \mathrm{se}`, :math:`k = 1, 2,
  \dots` (at most 9 steps a side, stopping once :math:`|z| \ge z_{max}`,
  :math:`z_{max}^2` the upper :math:`2\alpha^*` quantile of :math:`F_{1, n-1}` with
  :math:`\alpha^* = \Phi(t\sqrt\lambda)/2`, :math:`\delta = z_{max}/5`, se the model SE
  :math:`1/\sqrt{(m-1)\hat p\hat q}`), interpolated by R's ``spline(method="fmm")`` on
  :math:`3\times` as many equally spaced points and inverted linearly (``approx``).

R's fitted value comes from its IRLS iterations (``glm.fit`` stops when the deviance changes
by less than :math:`10^{-8}` relative), not from the exact :math:`\hat p`; the iterations are
repeated here (:func:`irls_intercept`) so that the profile is centred where R's is. The
dispersion is ``summary(svyglm)``'s: the design variance (``svyvar``) of the Pearson
residuals. Replicate designs use the replicate variance of the replicates' logits for
:math:`V(\hat\beta)` (R's ``svyglm`` on a replicate design) and the dispersion
:math:`\sum w r^2 / \sum w` of the Pearson residuals :math:`r` scaled as for linearisation
designs: survey 4.1 scales them by the sum of the weights, so its profile never reaches the
cut-off and its interval is ``NA`` (fixed in survey 4.3, "error in scaling Pearson residuals
for svyrepglm"); this follows the corrected scaling. The spline makes R's interval an
approximation of the exact profile-likelihood limits; it is reproduced because the
agreement with R is the contract. Degenerate proportions (0 or 1) get the exact limits of
:func:`weighting.intervals.proportion_interval`.

References: Rao, J. N. K. and Scott, A. J. (1984), On chi-squared tests for multiway
contingency tables with cell proportions estimated from survey data, *Ann. Statist.* 12;
Lumley, T., R package ``survey``, ``svyciprop``, ``confint.svyglm``; Forsythe, Malcolm and
Moler (1977), *Computer Methods for Mathematical Computations* (the "fmm" spline).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy import special, stats

from .domains import Domains
from .influence import replicate_thetas
from .intervals import proportion_interval, t_quantile
from .variance import group_matrix, replicate_variance

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: R ``MASSprofile_glm``'s ``maxsteps``.
MAX_STEPS = 10


def fmm_spline(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Coefficients ``(b, c, d)`` of R's ``spline_coef(method="fmm")`` (x increasing).

    Examples
    --------
    >>> b, c, d = fmm_spline(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 8.0, 27.0]))
    >>> float(spline_eval(np.array([1.5]), np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 8.0, 27.0]), b, c, d)[0])
    3.375
    """
    n = x.size
    b, c, d = np.zeros(n), np.zeros(n), np.zeros(n)
    if n < 3:
        b[:] = (y[1] - y[0]) / (x[1] - x[0])
        return b, c, d
    nm1 = n - 1
    d[0] = x[1] - x[0]
    c[1] = (y[1] - y[0]) / d[0]
    for i in range(1, nm1):
        d[i] = x[i + 1] - x[i]
        b[i] = 2.0 * (d[i - 1] + d[i])
        c[i + 1] = (y[i + 1] - y[i]) / d[i]
        c[i] = c[i + 1] - c[i]
    b[0] = -d[0]
    b[nm1] = -d[n - 2]
    c[0] = c[nm1] = 0.0
    if n > 3:
        c[0] = c[2] / (x[3] - x[1]) - c[1] / (x[2] - x[0])
        c[nm1] = c[n - 2] / (x[nm1] - x[n - 3]) - c[n - 3] / (x[n - 2] - x[n - 4])
        c[0] = c[0] * d[0] * d[0] / (x[3] - x[0])
        c[nm1] = -c[nm1] * d[n - 2] * d[n - 2] / (x[nm1] - x[n - 4])
    for i in range(1, n):
        t = d[i - 1] / b[i - 1]
        b[i] = b[i] - t * d[i - 1]
        c[i] = c[i] - t * c[i - 1]
    c[nm1] = c[nm1] / b[nm1]
    for i in range(n - 2, -1, -1):
        c[i] = (c[i] - d[i] * c[i + 1]) / b[i]
    b[nm1] = (y[n - 1] - y[n - 2]) / d[n - 2] + d[n - 2] * (c[n - 2] + 2.0 * c[n - 1])
    for i in range(nm1):
        b[i] = (y[i + 1] - y[i]) / d[i] - d[i] * (c[i + 1] + 2.0 * c[i])
        d[i] = (c[i + 1] - c[i]) / d[i]
        c[i] = 3.0 * c[i]
    c[nm1] = 3.0 * c[nm1]
    d[nm1] = d[n - 2]
    return b, c, d


def spline_eval(u: FloatArray, x: FloatArray, y: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray) -> FloatArray:
    """R ``spline_eval`` for the "fmm" method: the piece whose knot is at or below ``u``."""
    i = np.clip(np.searchsorted(x, u, side="right") - 1, 0, x.size - 1)
    dx = u - x[i]
    return np.asarray(y[i] + dx * (b[i] + dx * (c[i] + dx * d[i])), dtype=np.float64)


def _approx(x: FloatArray, y: FloatArray, xout: FloatArray) -> FloatArray:
    """R ``approx(x, y, xout)`` (linear, ties averaged, NA outside the range)."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    ux, inverse = np.unique(xs, return_inverse=True)
    uy = np.bincount(inverse, weights=ys) / np.bincount(inverse)
    out = np.interp(xout, ux, uy)
    return np.where((xout < ux[0]) | (xout > ux[-1]), np.nan, out)


def profile_limits(
    p: float, mu: float, s_w: float, dispersion: float, v_logit: float, naive: float, n: float, t: float
) -> tuple[float, float]:
    """R's spline-interpolated likelihood limits (on the probability scale) for one proportion.

    ``p``: the weighted proportion; ``mu``: R's fitted value (the IRLS iterate, see
    :func:`irls_intercept`); ``s_w``: the sum of the glm's rescaled weights; ``dispersion``:
    ``summary(svyglm)``'s; ``v_logit``: the design variance of the coefficient; ``naive``: its
    model variance without dispersion (``summary(glm)$cov.unscaled``); ``n``: rows of the glm's
    model frame; ``t``: the lower t quantile ``qt((1-level)/2, df)`` (normal for infinite df).
    """
    lam = v_logit / naive
    alpha = stats.norm.cdf(t * np.sqrt(lam)) / 2
    zmax = float(np.sqrt(stats.f.isf(alpha, 1, n - 1)))
    delta = zmax / 5
    beta0 = float(special.logit(mu))
    se = float(np.sqrt(v_logit))
    betas, zs = [beta0], [0.0]
    for sgn in (-1.0, 1.0):
        z, step = 0.0, 0
        while (step := step + 1) < MAX_STEPS and abs(z) < zmax:
            b = beta0 + sgn * step * delta * se
            pb = float(special.expit(b))
            gain = p * np.log(mu / pb) + (1 - p) * np.log((1 - mu) / (1 - pb))
            z = sgn * float(np.sqrt(max(2 * s_w * gain / dispersion, 0.0)))
            betas.append(b)
            zs.append(z)
    bi, zi = np.asarray(betas), np.asarray(zs)
    order = np.argsort(bi, kind="stable")
    x, y = bi[order], zi[order]
    coef = fmm_spline(x, y)
    u = np.linspace(x[0], x[-1], 3 * x.size)
    v = spline_eval(u, x, y, *coef)
    cutoff = stats.norm.ppf(2 * alpha)
    lims = _approx(v, u, np.array([cutoff, -cutoff]))
    return float(special.expit(lims[0])), float(special.expit(lims[1]))


def irls_intercept(
    member: sp.csr_matrix, y: FloatArray, weights: FloatArray, have: FloatArray, max_iter: int = 25, epsilon: float = 1e-8
) -> tuple[FloatArray, FloatArray]:
    """R ``glm.fit`` for ``y ~ 1``, binomial, prior weights ``weights``: the fitted value after
    the iterations R stops at (``|dev - dev_old| / (|dev| + 0.1) < epsilon``), per group.

    Returns ``(mu, working)``: the fitted value and the sum of the last iteration's working
    weights (``1 / summary(glm)$cov.unscaled``). ``member`` sums rows into groups.
    """
    W = weights * have
    sW = np.asarray(member @ W)
    sWy = np.asarray(member @ (W * y))
    p = sWy / sW
    mu0 = (W * y + 0.5) / (W + 1.0)  # binomial()$initialize
    eta0 = special.logit(mu0)
    wq = W * mu0 * (1 - mu0)
    working = np.asarray(member @ wq)
    beta = (np.asarray(member @ (wq * eta0)) + sWy - np.asarray(member @ (W * mu0))) / working
    dev_old = -2 * np.asarray(member @ (W * (y * np.log(mu0) + (1 - y) * np.log(1 - mu0))))
    mu = special.expit(beta)
    dev = -2 * (sWy * np.log(mu) + (sW - sWy) * np.log(1 - mu))
    done = np.abs(dev - dev_old) / (np.abs(dev) + 0.1) < epsilon
    for _ in range(max_iter - 1):
        if done.all():
            break
        q = mu * (1 - mu)
        new_beta = beta + (p - mu) / q
        new_mu = special.expit(new_beta)
        new_dev = -2 * (sWy * np.log(new_mu) + (sW - sWy) * np.log(1 - new_mu))
        step = ~done
        working = np.where(step, sW * q, working)
        conv = np.abs(new_dev - dev) / (np.abs(new_dev) + 0.1) < epsilon
        beta, mu, dev = np.where(step, new_beta, beta), np.where(step, new_mu, mu), np.where(step, new_dev, dev)
        done = done | conv
    return mu, working


def likelihood_interval(
    design: Design,
    y: FloatArray,
    present: BoolArray | None,
    doms: Domains,
    estimate: FloatArray,
    variance: FloatArray,
    df: FloatArray,
    level: float,
) -> tuple[FloatArray, FloatArray]:
    """Likelihood intervals of every (domain, category) proportion (see the module docstring).

    ``y`` holds the 0/1 indicators (0 where missing), ``estimate`` and ``variance`` the
    proportions and their design variances, ``df`` the degrees of freedom per domain.
    """
    n_dom, k = estimate.shape
    w = design.weights
    inside = doms.codes >= 0
    rows = np.flatnonzero(inside)
    member = group_matrix(doms.codes[rows], n_dom)
    have = np.ones((rows.size, k)) if present is None else present[rows].astype(np.float64)
    wr = w[rows][:, None]
    m = np.asarray(member @ (have * (wr != 0)))  # rows of the glm with a nonzero weight
    n_frame = np.asarray(member @ have)  # rows of the glm's model frame (R: NROW(Y))
    n_rows = np.asarray(member @ np.ones(rows.size))[:, None] * np.ones((1, k))
    if design.calibrated:  # R keeps every row (weight 0) in a subset of a calibrated design
        all_have = np.full(k, float(w.size)) if present is None else present.sum(axis=0).astype(np.float64)
        n_frame = np.broadcast_to(all_have, (n_dom, k))
        n_rows = np.full((n_dom, k), float(w.size))
    frame = n_frame
    b_count = n_rows if design.calibrated else np.asarray(member @ have)
    yr = y[rows]
    s_dom = np.asarray(member @ w[rows])[:, None] * np.ones((1, k))
    mean_a = s_dom / n_rows  # mean(1/prob) over the glm's data (R rescales the weights by it)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu, working = irls_intercept(member, yr, wr / mean_a[doms.codes[rows]], have)
        s_have = np.asarray(member @ (have * wr))
        s_w = s_have / mean_a
        p = estimate
        uq = mu * (1 - mu)
        # u = (y - mu) / sqrt(mu (1 - mu)): the unweighted Pearson residuals, weighted sums
        s_wy = np.asarray(member @ (have * wr * yr))
        su1 = (s_wy - mu * s_have) / np.sqrt(uq)
        su2 = ((1 - 2 * mu) * s_wy + mu**2 * s_have) / uq
        c2 = (s_have / b_count) / mean_a
        if design.replicates is not None:  # summary.svrepglm: sum(w r^2) / sum(w), see Notes
            dispersion = c2 * su2 / s_have
            rep = design.replicates
            thetas = replicate_thetas(design, "mean", y, None, present, doms.codes, n_dom)
            v_logit = replicate_variance(special.logit(thetas), special.logit(p), rep.scale, rep.rscales, mse=rep.mse)
        else:  # residuals.svyglm (scaled by the two means of the weights), svyvar
            dispersion = c2 * m / (m - 1) * (su2 / s_have - (su1 / s_have) ** 2)
            v_logit = variance / (p * (1 - p)) ** 2
        naive = 1.0 / working
    t = -np.broadcast_to(t_quantile(level, df), (n_dom, k))
    lo, hi = proportion_interval(estimate, variance, df, level, "logit", n=m, n_rows=n_rows)
    ok = (p > 0) & (p < 1) & (variance > 0) & (m > 1) & np.isfinite(t) & (dispersion > 0)
    for d, j in zip(*np.nonzero(ok)):  # a short profile per proportion (at most 19 points)
        lo[d, j], hi[d, j] = profile_limits(
            float(p[d, j]), float(mu[d, j]), float(s_w[d, j]), float(dispersion[d, j]),
            float(v_logit[d, j]), float(naive[d, j]), float(frame[d, j]), float(t[d, j]),
        )
    return lo, hi
