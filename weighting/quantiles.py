r"""Quantiles with Woodruff confidence intervals, as R ``svyquantile`` (survey >= 4.1).

Defaults of R's ``svyquantile.survey.design``: ``qrule="math"`` and ``interval.type="mean"``.

* Estimate (``qrule_math``): drop zero weights, sort :math:`x`, cumulate the weights
  :math:`C_k`; with :math:`k` the last position where :math:`C_k \le pW` (the first when
  there is none), the quantile is :math:`x_k` if :math:`p - C_k/W = 0`, else :math:`x_{k+1}`.
* Interval (Woodruff 1952): :math:`\hat F = ` the estimated mean of
  :math:`I(x \le \hat q_p)` with its design SE, :math:`[p_l, p_u] = \hat F \pm t_{df} SE`, and
  the interval is :math:`[\hat q_{p_l}, \hat q_{p_u}]` (NaN when :math:`p_l < 0` or
  :math:`p_u > 1`); the reported SE is :math:`(\hat q_{p_u} - \hat q_{p_l}) / (2 t_{df})`.
* Degrees of freedom: R's ``svyquantile`` takes ``degf()`` of the design it is given, after
  ``na.rm=TRUE`` removed the rows without a value, and ``svyby`` gives it each domain's
  subset; so with ``by`` or missing values ``df`` is the domain's (complete cases') own, see
  :mod:`weighting.degrees`, and the design's otherwise (survey 4.1).

Every domain is handled in one pass: rows are sorted once by (domain, x) and the cumulative
weights restart at each domain. Cumulative sums use long double, as R's ``cumsum``, so that
ties at :math:`pW` resolve as in R.

References: Woodruff, R. S. (1952), Confidence intervals for medians and other position
measures, *JASA* 47, 635-646; Lumley, T., R package ``survey``, ``svyquantile``.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .degrees import domain_degrees
from .domains import as_columns, make_domains, numeric_matrix
from .errors import WeightingError
from .estimation import linear_estimates
from .intervals import check_level, t_quantile
from .tables import estimate_table

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


class _Sorted:
    """Values of one variable sorted by (domain, value), with per-domain cumulative weights."""

    def __init__(self, values: FloatArray, weights: FloatArray, dom: IntArray, n_dom: int) -> None:
        rows = np.flatnonzero((dom >= 0) & ~np.isnan(values) & (weights != 0))
        order = np.lexsort((values[rows], dom[rows]))
        rows = rows[order]
        self.x = values[rows]
        self.group = dom[rows]
        w = weights[rows].astype(np.longdouble)
        cum = np.cumsum(w)
        self.size = np.bincount(self.group, minlength=n_dom)
        self.end = np.cumsum(self.size)
        self.start = self.end - self.size
        before = np.concatenate([[np.longdouble(0)], cum])[self.start]
        self.cumw = (cum - before[self.group]).astype(np.float64)
        last = np.maximum(self.end - 1, 0)
        total = (cum[last] - before) if cum.size else np.zeros(n_dom, dtype=np.longdouble)
        self.total = np.where(self.size > 0, np.asarray(total, dtype=np.float64), np.nan)

    def quantile(self, p: FloatArray) -> FloatArray:
        """R ``qrule_math`` for one probability per domain (NaN probability gives NaN)."""
        with np.errstate(invalid="ignore"):
            threshold = p * self.total
            below = self.cumw <= threshold[self.group]
        count = np.bincount(self.group, weights=below, minlength=self.size.size).astype(np.intp)
        pos = self.start + np.maximum(count - 1, 0)
        ok = (self.size > 0) & ~np.isnan(p)
        pos = np.where(ok, pos, 0)
        if self.x.size == 0:
            return np.full(self.size.size, np.nan)
        with np.errstate(invalid="ignore"):
            wlow = p - self.cumw[pos] / self.total
        nxt = np.minimum(pos + 1, self.end - 1)
        out = np.where(wlow == 0, self.x[pos], self.x[np.maximum(nxt, 0)])
        return np.where(ok, out, np.nan)


def quantile_table(
    design: Design,
    variable: Hashable | Sequence[Hashable],
    q: float | Sequence[float],
    *,
    by: Hashable | Sequence[Hashable] | None = None,
    level: float = 0.95,
    missing: str = "domain",
    df: float | None = None,
) -> pd.DataFrame:
    """Quantiles of one or more variables, overall or by domain, with Woodruff intervals.

    Parameters
    ----------
    design : Design
    variable : column name or list
        Numeric variables; missing values are excluded as a domain.
    q : float or sequence of float
        Probabilities in [0, 1].
    by, level : see :meth:`weighting.Design.mean`.
    missing : {"domain", "drop"}
        ``"complete"`` is treated as ``"domain"`` per variable (quantiles are univariate).
    df : float, optional
        Degrees of freedom of every interval (R's ``df=``). Default: the design's, or with
        ``by`` or missing values each domain's own (R's ``degf`` of the subset; see Notes of
        the module).

    Returns
    -------
    DataFrame
        The estimate table with a ``quantile`` column; ``deff`` is NaN (R reports none).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from weighting import Design
    >>> d = Design(pd.DataFrame({"y": np.arange(1.0, 11.0)}), weights=None)
    >>> d.quantile("y", 0.5)[["quantile", "estimate"]]
       quantile  estimate
    0       0.5       5.0
    """
    level = check_level(level)
    probs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if probs.ndim != 1 or np.any(np.isnan(probs)) or np.any((probs < 0) | (probs > 1)):
        raise WeightingError(f"q must be probabilities in [0, 1]; got {q!r}")
    names = as_columns(variable, "variable")
    values = numeric_matrix(design.data, names, "variable")
    if missing == "drop":
        keep = np.asarray(~np.isnan(values).any(axis=1), dtype=bool)
        if not keep.all():
            design, values = design.drop_rows(keep), values[keep]
    elif missing not in ("domain", "complete"):
        raise WeightingError(f"missing must be one of domain, complete, drop; got {missing!r}")
    doms = make_domains(design.data, by, design.weights, design.subset_mask)
    n_dom, n_q = doms.n_domains, probs.size
    blocks: dict[str, list[FloatArray]] = {k: [] for k in ("estimate", "se", "ci_low", "ci_high", "n", "df")}
    for j in range(len(names)):
        y = values[:, j]
        has_value = ~np.isnan(y)
        if df is not None:
            ddf = np.full(n_dom, float(df))
        elif by is None and has_value.all():
            ddf = np.full(n_dom, design.df)
        else:  # R: degf of the domain's subset, after na.rm drops the missing rows
            ddf = domain_degrees(design, doms.codes, n_dom, has_value)
        t = t_quantile(level, ddf)[:, None]
        srt = _Sorted(y, design.weights, doms.codes, n_dom)
        qhat = np.column_stack([srt.quantile(np.full(n_dom, p)) for p in probs])
        present = np.repeat(~np.isnan(y)[:, None], n_q, axis=1)
        with np.errstate(invalid="ignore"):
            below = np.where(present, (y[:, None] <= qhat[np.maximum(doms.codes, 0)]).astype(np.float64), 0.0)
        m = linear_estimates(design, "mean", below, None, present, doms.codes, n_dom)
        half = t * np.sqrt(m.variance)
        p_lo, p_hi = m.estimate - half, m.estimate + half
        lo = np.column_stack([srt.quantile(np.where(p_lo[:, i] < 0, np.nan, p_lo[:, i])) for i in range(n_q)])
        hi = np.column_stack([srt.quantile(np.where(p_hi[:, i] > 1, np.nan, p_hi[:, i])) for i in range(n_q)])
        blocks["estimate"].append(qhat)
        blocks["ci_low"].append(lo)
        blocks["ci_high"].append(hi)
        blocks["se"].append((hi - lo) / (2 * t))
        blocks["n"].append(np.repeat(srt.size[:, None], n_q, axis=1).astype(np.float64))
        blocks["df"].append(np.repeat(ddf[:, None], n_q, axis=1))
    table = {k: np.hstack(v) for k, v in blocks.items()}
    variables = [str(v) for v in names for _ in range(n_q)]
    return estimate_table(
        doms.labels, variables,
        {**table, "deff": np.nan},
        extra={"quantile": np.tile(probs, len(names)).tolist()},
    )
