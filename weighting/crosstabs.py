r"""Two-way tables and tests of association (R ``svytable``, ``svytotal``/``svymean`` of
``interaction(a, b)``, ``svytotal`` of a factor, ``svychisq``).

Cells are the pairs of (sorted) observed values of the two variables, every pair listed even
when empty; rows missing either variable are left out as a domain (R ``na.rm=TRUE``).

Tests (``svychisq``, survey 4.1; Rao & Scott 1981, 1984; Thomas & Rao 1987). With
:math:`\hat p` the :math:`r c` cell proportions (rows varying fastest), :math:`V` their
design covariance, :math:`C` the interaction columns of the saturated model residualised on
the main effects and :math:`X^2 = N \sum (\hat p_{ij} - \hat p_{i+}\hat p_{+j})^2/(\hat
p_{i+}\hat p_{+j})` Pearson's statistic of the weighted table scaled to :math:`N` rows,

* design effects :math:`\Delta = (C^T D^{-1} C / N)^{-1} C^T D^{-1} V D^{-1} C`,
  :math:`D = \operatorname{diag}(\hat p)` (0 for empty cells);
* ``"F"`` (default; second-order Rao-Scott): :math:`F = X^2 / \operatorname{tr}\Delta` on
  :math:`d_0 = (\operatorname{tr}\Delta)^2/\operatorname{tr}\Delta^2` and :math:`d_0 \nu`
  degrees of freedom, :math:`\nu` the design's df;
* ``"Chisq"`` (first-order): :math:`X^2/\bar\delta` against :math:`\chi^2_{(r-1)(c-1)}`,
  :math:`\bar\delta` the mean of :math:`\operatorname{diag}\Delta`;
* ``"Wald"``: :math:`W = Y^T V_Y^{-1} Y` with :math:`Y_{ij} = \hat T_{ij} - \hat T_{i+}\hat
  T_{+j}/\hat T` over the cells with :math:`i, j > 1` (delta-method :math:`V_Y` from the
  totals' covariance), :math:`F = W/((r-1)(c-1))` on :math:`(r-1)(c-1)` and :math:`\nu` df;
  ``"adjWald"``: :math:`F = W (\nu - d + 1)/(d \nu)` on :math:`d = (r-1)(c-1)` and
  :math:`\nu - d + 1` df.

With ``by`` every domain is tested on its own (R's test on the domain's subset): its own
cells with a nonzero total, its own degrees of freedom (:mod:`weighting.degrees`), its rows as
:math:`N`. The small per-domain matrix algebra runs once per domain.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from .degrees import domain_degrees
from .domains import check_columns, make_domains
from .errors import WeightingError
from .estimation import linear_estimates
from .intervals import check_level, t_interval
from .tables import estimate_covariance

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

TESTS = ("F", "Chisq", "Wald", "adjWald")
TEST_COLUMNS = ("test", "statistic", "ndf", "ddf", "p_value", "pearson")


def _codes(data: pd.DataFrame, column: Hashable) -> tuple[IntArray, pd.Index]:
    series = data[column]
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy().astype(np.intp), pd.Index(series.cat.categories)
    codes, uniques = pd.factorize(series, sort=True)
    return codes.astype(np.intp), pd.Index(uniques)


def _cells(design: Design, row: Hashable, column: Hashable | None) -> tuple[FloatArray, pd.DataFrame, int, int]:
    """0/1 cell indicators (NaN where a variable is missing), rows varying fastest."""
    names = [row] if column is None else [row, column]
    check_columns(design.data, names, "variables")
    rc, rl = _codes(design.data, row)
    if column is None:
        cc, cl = np.zeros_like(rc), pd.Index([None])
    else:
        cc, cl = _codes(design.data, column)
    nr, nc = len(rl), len(cl)
    cell = np.where((rc >= 0) & (cc >= 0), rc + nr * cc, -1)
    y = (cell[:, None] == np.arange(nr * nc)[None, :]).astype(np.float64)
    y[cell < 0] = np.nan
    labels = {row: np.tile(np.asarray(rl, dtype=object), nc)}
    if column is not None:
        labels[column] = np.repeat(np.asarray(cl, dtype=object), nr)
    return y, pd.DataFrame(labels), nr, nc


def crosstab_table(
    design: Design,
    row: Hashable,
    column: Hashable | None = None,
    *,
    statistic: str = "total",
    by: Hashable | Sequence[Hashable] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Weighted counts (or shares) of the cells of one or two categorical variables.

    Parameters
    ----------
    design : Design
    row : column name
    column : column name, optional
        Without it, the categories of ``row`` alone: R ``svytotal(~factor)`` (``statistic=
        "total"``) or ``svymean(~factor)``.
    statistic : {"total", "proportion"}
        Estimated population counts (R ``svytable`` / ``svytotal(~interaction(row, column))``)
        or each cell's share of the domain's total (``svymean(~interaction(row, column))``).
    by, level
        As :meth:`weighting.Design.mean`.

    Returns
    -------
    DataFrame
        The ``by`` columns, the ``row`` (and ``column``) value of every cell, then
        ``estimate``, ``se``, ``ci_low``, ``ci_high`` (t interval with the design's df),
        ``df``, ``n`` (rows of the domain with both values and a nonzero weight), ``deff``,
        ``cv``; cells in the order of the ``row`` values within the ``column`` values.

    Examples
    --------
    >>> import pandas as pd
    >>> from weighting import Design
    >>> frame = pd.DataFrame({"a": ["x", "y", "y"], "b": ["u", "u", "v"], "w": [2.0, 1.0, 1.0]})
    >>> Design(frame, weights="w").crosstab("a", "b")[["a", "b", "estimate"]]
       a  b  estimate
    0  x  u       2.0
    1  y  u       1.0
    2  x  v       0.0
    3  y  v       1.0
    """
    level = check_level(level)
    if statistic not in ("total", "proportion"):
        raise WeightingError(f"statistic must be 'total' or 'proportion'; got {statistic!r}")
    y, cells, _, _ = _cells(design, row, column)
    present = ~np.isnan(y)
    y[~present] = 0.0
    pres = None if present.all() else present
    doms = make_domains(design.data, by, design.weights, design.subset_mask)
    res = linear_estimates(design, "total" if statistic == "total" else "mean", y, None, pres, doms.codes, doms.n_domains)
    se = np.sqrt(res.variance)
    lo, hi = t_interval(res.estimate, se, design.df, level)
    k = y.shape[1]
    frame = doms.labels.loc[np.repeat(np.arange(doms.n_domains), k)].reset_index(drop=True)
    for col in cells.columns:
        frame[col] = np.tile(cells[col].to_numpy(), doms.n_domains)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = se / res.estimate
    values = {"estimate": res.estimate, "se": se, "ci_low": lo, "ci_high": hi,
              "df": np.full_like(res.estimate, design.df), "n": res.n, "deff": res.deff, "cv": cv}
    for name, arr in values.items():
        frame[name] = np.asarray(arr).ravel()
    frame["n"] = frame["n"].astype(np.int64)
    return frame


def _main_effects_residual(nr: int, nc: int) -> FloatArray:
    """R's ``qr.resid(qr(X1), X12[, -(1:(nr+nc-1))])``: interaction columns orthogonalised."""
    rows = np.tile(np.arange(nr), nc)
    cols = np.repeat(np.arange(nc), nr)
    x1 = np.column_stack([np.ones(nr * nc)] + [(rows == i) * 1.0 for i in range(1, nr)] + [(cols == j) * 1.0 for j in range(1, nc)])
    inter = np.column_stack([(rows == i) * (cols == j) * 1.0 for j in range(1, nc) for i in range(1, nr)])
    beta, *_ = np.linalg.lstsq(x1, inter, rcond=None)
    return np.asarray(inter - x1 @ beta)


def _one_test(
    test: str, p: FloatArray, v: FloatArray, t: FloatArray, vt: FloatArray, nr: int, nc: int, n_rows: float, nu: float
) -> tuple[float, float, float, float, float]:
    """One domain's (statistic, ndf, ddf, p value, Pearson X^2) with empty rows/columns dropped."""
    pm = p.reshape(nc, nr).T
    keep_r, keep_c = pm.sum(axis=1) > 0, pm.sum(axis=0) > 0
    keep = (keep_r[:, None] & keep_c[None, :]).T.ravel()
    nr, nc = int(keep_r.sum()), int(keep_c.sum())
    if nr < 2 or nc < 2:
        return np.nan, np.nan, np.nan, np.nan, np.nan
    p, v, t, vt = p[keep], v[np.ix_(keep, keep)], t[keep], vt[np.ix_(keep, keep)]
    pm = p.reshape(nc, nr).T
    expected = np.outer(pm.sum(axis=1), pm.sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = float(n_rows * np.sum(np.where(expected > 0, (pm - expected) ** 2 / expected, 0.0)))
    if test in ("Wald", "adjWald"):
        tm = t.reshape(nc, nr).T
        rt, ct, total = tm.sum(axis=1), tm.sum(axis=0), tm.sum()
        y = (tm - np.outer(rt, ct) / total).T.ravel()
        rows = np.tile(np.arange(nr), nc)
        cols = np.repeat(np.arange(nc), nr)
        # gradient of Y_ij = T_ij - T_i+ T_+j / T in the cell totals (T_i+, T_+j, T sums of them)
        jac = np.eye(nr * nc)
        jac -= (ct[cols] / total)[:, None] * (rows[:, None] == rows[None, :])
        jac -= (rt[rows] / total)[:, None] * (cols[:, None] == cols[None, :])
        jac += (rt[rows] * ct[cols] / total**2)[:, None]
        vy = jac @ vt @ jac.T
        use = (rows > 0) & (cols > 0)
        wald = float(y[use] @ np.linalg.solve(vy[np.ix_(use, use)], y[use]))
        d = (nr - 1) * (nc - 1)
        if test == "Wald":
            stat, ddf = wald / d, nu
        else:
            ddf = nu - d + 1
            stat = wald * ddf / (d * nu)
        return stat, float(d), float(ddf), float(stats.f.sf(stat, d, ddf)), pearson
    cmat = _main_effects_residual(nr, nc)
    inv = np.where(p == 0, 0.0, 1.0 / np.where(p == 0, 1.0, p))
    denom = cmat.T @ (inv[:, None] / n_rows * cmat)
    numr = cmat.T @ (inv[:, None] * v * inv[None, :]) @ cmat
    delta = np.linalg.solve(denom, numr)
    trace = float(np.trace(delta))
    d0 = trace**2 / float(np.trace(delta @ delta))
    if test == "F":
        stat = pearson / trace
        return stat, d0, d0 * nu, float(stats.f.sf(stat, d0, d0 * nu)), pearson
    stat = pearson / float(np.mean(np.diag(delta)))
    df = float(delta.shape[1])
    return stat, df, np.inf, float(stats.chi2.sf(stat, df)), pearson


def chisq_table(
    design: Design,
    row: Hashable,
    column: Hashable,
    *,
    test: str = "F",
    by: Hashable | Sequence[Hashable] | None = None,
) -> pd.DataFrame:
    """Test of association in a two-way table (R ``svychisq``; see the module docstring).

    Parameters
    ----------
    design : Design
    row, column : column names
    test : {"F", "Chisq", "Wald", "adjWald"}
        R's ``statistic=``: Rao-Scott second-order F (default), first-order corrected
        chi-square, Wald F and adjusted Wald F.
    by : column name or list, optional
        One test per domain.

    Returns
    -------
    DataFrame
        The ``by`` columns, ``test``, ``statistic`` (the F value, or for ``"Chisq"`` the
        corrected :math:`X^2/\\bar\\delta`), ``ndf``, ``ddf`` (``inf`` for ``"Chisq"``),
        ``p_value`` and ``pearson`` (R's ``X-squared``: Pearson's statistic of the weighted
        table scaled to the number of rows).
    """
    if test not in TESTS:
        raise WeightingError(f"test must be one of {', '.join(TESTS)}; got {test!r}")
    y, _, nr, nc = _cells(design, row, column)
    present = ~np.isnan(y)
    y[~present] = 0.0
    pres = None if present.all() else present
    doms = make_domains(design.data, by, design.weights, design.subset_mask)
    n_dom, k = doms.n_domains, nr * nc
    kind = "total" if test in ("Wald", "adjWald") else "mean"
    means = linear_estimates(design, "mean", y, None, pres, doms.codes, n_dom).estimate
    totals = linear_estimates(design, "total", y, None, pres, doms.codes, n_dom).estimate
    cov = estimate_covariance(design, kind, y, pres, doms.codes, n_dom)
    nu = np.array([design.df]) if by is None else domain_degrees(design, doms.codes, n_dom)
    if design.calibrated:
        n_rows = np.full(n_dom, float(len(design.data)))
    else:
        inside = doms.codes >= 0
        n_rows = np.bincount(doms.codes[inside], minlength=n_dom).astype(np.float64)
    out = []
    for d in range(n_dom):  # small r*c matrices per domain
        block = slice(d * k, (d + 1) * k)
        v = cov[block, block]
        out.append(_one_test(test, means[d], v, totals[d], v, nr, nc, float(n_rows[d]), float(nu[d])))
    result = pd.DataFrame(out, columns=["statistic", "ndf", "ddf", "p_value", "pearson"])
    result.insert(0, "test", test)
    return pd.concat([doms.labels.reset_index(drop=True), result], axis=1)
