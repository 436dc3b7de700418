r"""Reporting-quality rules: precision grades, disclosure suppression and review flags.

Applied to an estimate table (see :mod:`weighting.tables`) when results leave the system.

* Proportions (tables with a ``category`` column), US NCHS 2017 data presentation standards
  (Parker et al. 2017): suppress when the effective sample size
  :math:`n^* = \hat p(1-\hat p)/SE^2` (the unweighted ``n`` when :math:`\hat p \in \{0, 1\}`,
  and never more than ``n``) is below 30 or the CI is at least 0.30 wide; flag for review
  when the design degrees of freedom are below 8; flag when the CI width relative to the
  estimate exceeds 130% (NCHS applies that check only to intervals wider than 0.05).
* Other estimates (means, totals, ratios, quantiles), Statistics Canada style CV grades:
  :math:`CV \le 16.5\%` publish, up to 33.3% "use with caution", above 33.3% suppress.
* Any estimate from fewer than 5 respondents is suppressed (small-count disclosure); with
  ``QualityRules(hide_small_counts=True)`` the count ``n`` itself is blanked as well.
* An estimate without a standard error (non-finite ``se``) is flagged for review.

Suppressed rows keep their identifiers, ``n`` and ``df``; ``estimate``, ``se``, the interval,
``deff`` and ``cv`` become NaN.

References: Parker, J. D. et al. (2017), National Center for Health Statistics Data
Presentation Standards for Proportions, *Vital Health Stat* 2(175); Statistics Canada (2010),
*Survey Methods and Practices*, 12-587-X, ch. 11.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import WeightingError

HIDDEN = ("estimate", "se", "ci_low", "ci_high", "deff", "cv")


@dataclass(frozen=True)
class QualityRules:
    """Thresholds of the reporting rules (defaults: NCHS 2017, Statistics Canada CV grades).

    Attributes
    ----------
    min_count : int
        Suppress estimates from fewer respondents than this.
    min_effective_n : float
        Proportions: suppress below this effective sample size.
    max_ci_width : float
        Proportions: suppress when the CI width is at least this.
    min_df : float
        Proportions: flag for statistical review below these degrees of freedom.
    max_relative_ci_width : float
        Proportions: flag when ``(ci_high - ci_low) / estimate`` exceeds this...
    relative_ci_min_width : float
        ...and the CI is wider than this.
    cv_caution, cv_suppress : float
        Other estimates: "use with caution" above ``cv_caution``, suppress above ``cv_suppress``.
    hide_small_counts : bool
        Also blank ``n`` (nullable integer) where it is below ``min_count``.
    """

    min_count: int = 5
    min_effective_n: float = 30.0
    max_ci_width: float = 0.30
    min_df: float = 8.0
    max_relative_ci_width: float = 1.30
    relative_ci_min_width: float = 0.05
    cv_caution: float = 0.165
    cv_suppress: float = 0.333
    hide_small_counts: bool = False

    def labels(self) -> dict[str, str]:
        """The ``flag`` label of each rule, keyed by a stable rule name.

        Keys: ``count``, ``no_se``, ``effective_n``, ``ci_width``, ``df``,
        ``relative_ci_width`` (proportions), ``cv_suppress``, ``cv_caution`` (other estimates).
        """
        return {
            "count": f"n<{self.min_count}",
            "no_se": "no_se",
            "effective_n": f"n_eff<{self.min_effective_n:g}",
            "ci_width": f"ci_width>={self.max_ci_width:g}",
            "df": f"df<{self.min_df:g}",
            "relative_ci_width": f"relative_ci_width>{self.max_relative_ci_width:.0%}",
            "cv_suppress": f"cv>{self.cv_suppress:.1%}",
            "cv_caution": f"cv>{self.cv_caution:.1%}",
        }


def quality_flags(
    table: pd.DataFrame, rules: QualityRules | None = None, *, proportions: bool | None = None
) -> pd.DataFrame:
    """Add ``grade``, ``suppressed`` and ``flag`` columns and blank suppressed values.

    Parameters
    ----------
    table : DataFrame
        An estimate table (``estimate``, ``se``, ``ci_low``, ``ci_high``, ``df``, ``n``,
        ``cv``).
    rules : QualityRules, optional
        Thresholds; default :class:`QualityRules()`.
    proportions : bool, optional
        Apply the proportion rules; default: when the table has a ``category`` column.

    Returns
    -------
    DataFrame
        A copy with ``n_eff`` (proportions), ``grade`` (``"publish"``, ``"caution"`` or
        ``"suppress"``), ``suppressed`` (bool) and ``flag`` (the reasons, ``"; "``-separated,
        empty when none).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"variable": ["y", "y"], "estimate": [10.0, 10.0], "se": [1.0, 4.0],
    ...                   "ci_low": [8.0, 2.0], "ci_high": [12.0, 18.0], "df": [20.0, 20.0],
    ...                   "n": [50, 50], "deff": [1.0, 1.0], "cv": [0.1, 0.4]})
    >>> quality_flags(t)[["grade", "suppressed", "flag", "estimate"]]
         grade  suppressed      flag  estimate
    0  publish       False               10.0
    1  suppress       True  cv>33.3%       NaN
    """
    rules = QualityRules() if rules is None else rules
    if not isinstance(rules, QualityRules):
        raise WeightingError(f"rules must be a QualityRules; got {type(rules).__name__}")
    needed = {"estimate", "se", "ci_low", "ci_high", "df", "n", "cv"}
    missing = sorted(needed - set(table.columns))
    if missing:
        raise WeightingError(f"table: missing column(s) {missing}; pass an estimate table")
    is_prop = "category" in table.columns if proportions is None else bool(proportions)
    out = table.copy()
    est = out["estimate"].to_numpy(dtype=np.float64)
    se = out["se"].to_numpy(dtype=np.float64)
    width = out["ci_high"].to_numpy(dtype=np.float64) - out["ci_low"].to_numpy(dtype=np.float64)
    n = out["n"].to_numpy(dtype=np.float64)
    df = out["df"].to_numpy(dtype=np.float64)
    cv = np.abs(out["cv"].to_numpy(dtype=np.float64))
    label = rules.labels()
    reasons: list[tuple[np.ndarray, str, bool]] = [
        (n < rules.min_count, label["count"], True),
        (~np.isfinite(se), label["no_se"], False),
    ]
    if is_prop:
        with np.errstate(divide="ignore", invalid="ignore"):
            n_eff = np.where(se > 0, est * (1 - est) / se**2, n)
            n_eff = np.minimum(n_eff, n)
            relative = width / est
        out["n_eff"] = n_eff
        reasons += [
            (n_eff < rules.min_effective_n, label["effective_n"], True),
            (width >= rules.max_ci_width, label["ci_width"], True),
            (df < rules.min_df, label["df"], False),
            ((width > rules.relative_ci_min_width) & (relative > rules.max_relative_ci_width),
             label["relative_ci_width"], False),
        ]
    else:
        reasons += [
            (cv > rules.cv_suppress, label["cv_suppress"], True),
            ((cv > rules.cv_caution) & ~(cv > rules.cv_suppress), label["cv_caution"], False),
        ]
    suppressed = np.zeros(len(out), dtype=bool)
    caution = np.zeros(len(out), dtype=bool)
    flag = np.full(len(out), "", dtype=object)
    for mask, text, suppress in reasons:
        mask = np.asarray(mask, dtype=bool)
        flag = np.where(mask, np.where(flag == "", text, flag + "; " + text), flag)
        if suppress:
            suppressed |= mask
        else:
            caution |= mask
    out["grade"] = np.where(suppressed, "suppress", np.where(caution, "caution", "publish"))
    out["suppressed"] = suppressed
    out["flag"] = flag.astype(str)
    for col in HIDDEN:
        if col in out.columns:
            out[col] = out[col].astype(np.float64).where(~suppressed)
    if rules.hide_small_counts:
        out["n"] = out["n"].astype("Int64").where(~(n < rules.min_count))
    return out
