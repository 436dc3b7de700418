r"""Contrasts, differences and ratios of domain estimates, and design-based t tests.

R: ``svycontrast(svyby(..., covmat=TRUE), ...)`` and ``svyttest``. A linear combination
:math:`c^T\hat\theta` of means or totals (of several variables and domains) has variance
:math:`c^T \Sigma c`, :math:`\Sigma` their covariance (``svyby(covmat=TRUE)``); a ratio
:math:`\hat\theta_a/\hat\theta_b` has, by the delta method (R's ``svycontrast`` with
``quote(a/b)``), the gradient :math:`(1/\hat\theta_b, -\hat\theta_a/\hat\theta_b^2)`.

No covariance matrix is formed: :math:`c^T\Sigma c` is the variance of the total of the
combined influence values :math:`\sum_{d,j} c_{dj} z_{dj,i}`, one column per contrast, so
every contrast of every domain comes from one pass of :func:`weighting.estimation.linear_estimates`
(with the design's strata, clusters, FPCs, lonely-PSU rule and any post-stratification,
raking or calibration residuals). Replicate designs use the replicate covariance (R's
``svrVar`` of ``svyby``'s replicates) through the replicate estimates of the domains,
:math:`c^T\hat\theta_r`.

Degrees of freedom: the design's (as ``confint(..., df=degf(design))``) for contrasts; for
``svyttest`` R's ``degf(design) - 1`` (the residual df of its ``svyglm``), computed on the
rows with a value, and per domain with ``by`` (R's test on the domain's subset).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from .degrees import domain_degrees
from .domains import Domains, as_columns, make_domains, numeric_matrix, present_mask
from .errors import WeightingError
from .estimation import LinearEstimates, linear_estimates
from .influence import replicate_thetas
from .intervals import check_level, t_interval
from .variance import group_matrix, replicate_variance

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

CONTRAST_COLUMNS = ("contrast", "estimate", "se", "ci_low", "ci_high", "df", "n", "deff", "cv")


class _Estimates:
    """Means or totals of ``k`` variables in every domain, with what their influence needs."""

    def __init__(
        self, design: Design, statistic: str, variables: Hashable | Sequence[Hashable],
        by: Hashable | Sequence[Hashable] | None, missing: str, extra_by: Hashable | None = None,
    ) -> None:
        if statistic not in ("mean", "total"):
            raise WeightingError(f"statistic must be 'mean' or 'total'; got {statistic!r}")
        self.design, self.statistic = design, statistic
        self.names = as_columns(variables, "variables")
        y = numeric_matrix(design.data, self.names, "variables")
        if missing not in ("domain", "complete"):
            raise WeightingError(f"missing must be 'domain' or 'complete' here; got {missing!r}")
        self.present = present_mask(y, missing)
        if self.present is not None:
            y[~self.present] = 0.0
        self.y = y
        by_cols = as_columns(by, "by") + ([] if extra_by is None else [extra_by])
        self.doms: Domains = make_domains(design.data, by_cols or None, design.weights, design.subset_mask)
        self.res: LinearEstimates = linear_estimates(
            design, statistic, y, None, self.present, self.doms.codes, self.doms.n_domains
        )

    def combine(self, coef: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Variance of the combinations ``coef`` (shape ``(c, n_dom, k)``, the gradients) and
        the number of rows they use; see the module docstring.

        When every domain enters at most one combination (t tests and comparisons by domain)
        the combined influence values are one column, the combinations being domains of it;
        otherwise one column per combination.
        """
        design, doms, k = self.design, self.doms, self.y.shape[1]
        c = coef.shape[0]
        inside = doms.codes >= 0
        rows = np.flatnonzero(inside)
        d = doms.codes[rows]
        have = np.ones((rows.size, k)) if self.present is None else self.present[rows].astype(np.float64)
        member = group_matrix(d, doms.n_domains)
        counts = np.asarray(member @ (have * (design.weights[rows] != 0)[:, None]))  # (n_dom, k)
        nonzero = np.abs(coef) > 0
        n_used = np.einsum("dj,cdj->c", counts, nonzero.astype(np.float64))
        if design.replicates is not None:
            rep = design.replicates
            used: BoolArray = np.asarray(nonzero.any(axis=0))
            thetas = replicate_thetas(design, self.statistic, self.y, None, self.present, doms.codes, doms.n_domains)
            finite = np.where(used[None], thetas, 0.0)
            combos = np.einsum("rdj,cdj->rc", finite, coef)
            centre = np.einsum("dj,cdj->c", np.where(used, self.res.estimate, 0.0), coef)
            return replicate_variance(combos, centre, rep.scale, rep.rscales, mse=rep.mse), n_used
        if self.statistic == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):
                a = (self.y[rows] - self.res.estimate[d]) / self.res.weight_sum[d] * have
        else:
            a = self.y[rows] * have
        a = np.nan_to_num(a)
        n = design.weights.size
        per_domain = nonzero.any(axis=2).sum(axis=0)  # combinations each domain enters
        if per_domain.max(initial=0) <= 1:
            owner = np.where(per_domain > 0, np.argmax(nonzero.any(axis=2), axis=0), -1)
            gradient = coef.sum(axis=0)  # (n_dom, k): each domain's one combination
            values = np.zeros((n, 1))
            values[rows, 0] = np.einsum("ij,ij->i", a, gradient[d])
            codes = np.full(n, -1, dtype=np.intp)
            codes[rows] = owner[d]
            out = linear_estimates(design, "total", values, None, None, codes, c)
            return out.variance[:, 0], n_used
        values = np.zeros((n, c))
        for j in range(k):  # (rows, c) per variable: the gradients of each row's domain
            values[rows] += a[:, j][:, None] * coef[:, :, j].T[d]
        whole = np.zeros(n, dtype=np.intp)
        out = linear_estimates(design, "total", values, None, None, whole, 1)
        return out.variance[0], n_used

    def key_index(self) -> dict[Hashable, tuple[int, int]]:
        """Position (domain, variable) of every key a contrast may name (see :func:`contrast_table`)."""
        labels = self.doms.labels
        keys: dict[Hashable, tuple[int, int]] = {}
        for d in range(self.doms.n_domains):
            values = tuple(labels.iloc[d].tolist())
            dom_key: Any = values[0] if len(values) == 1 else values
            for j, name in enumerate(self.names):
                if not values:
                    keys[name] = (d, j)
                elif len(self.names) == 1:
                    keys[dom_key] = (d, j)
                else:
                    keys[(*values, name)] = (d, j)
        return keys


def _table(labels: Sequence[str], estimate: FloatArray, variance: FloatArray, df: Any, n: FloatArray, level: float) -> pd.DataFrame:
    se = np.sqrt(variance)
    lo, hi = t_interval(estimate, se, df, level)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = se / estimate
    return pd.DataFrame({
        "contrast": list(labels), "estimate": estimate, "se": se, "ci_low": lo, "ci_high": hi,
        "df": np.broadcast_to(np.asarray(df, dtype=np.float64), estimate.shape), "n": n.astype(np.int64),
        "deff": np.full(estimate.shape, np.nan), "cv": cv,
    })


def contrast_table(
    design: Design,
    variables: Hashable | Sequence[Hashable],
    contrasts: Mapping[str, Mapping[Hashable, float]],
    *,
    statistic: str = "mean",
    by: Hashable | Sequence[Hashable] | None = None,
    level: float = 0.95,
    missing: str = "domain",
) -> pd.DataFrame:
    r"""Linear combinations of means or totals across domains and variables (R ``svycontrast``).

    Parameters
    ----------
    design : Design
    variables : column name or list
        Numeric variables.
    contrasts : mapping
        ``{name: {key: coefficient}}``. A key names one estimate: the ``by`` value (a tuple of
        values with several ``by`` columns) with one variable, the variable name without
        ``by``, or ``(*by values, variable)`` with both. Keys left out have coefficient 0.
    statistic : {"mean", "total"}
    by, level, missing
        As :meth:`weighting.Design.mean`.

    Returns
    -------
    DataFrame
        One row per contrast: ``contrast`` (its name), ``estimate``, ``se``, ``ci_low``,
        ``ci_high`` (t interval with the design's df), ``df``, ``n`` (rows with a value and a
        nonzero weight in the estimates it uses), ``deff`` (NaN), ``cv``.

    Examples
    --------
    >>> import pandas as pd
    >>> from weighting import Design
    >>> frame = pd.DataFrame({"county": ["A", "A", "B", "B", "B"], "y": [3.0, 5.0, 1.0, 2.0, 3.0]})
    >>> t = Design(frame, weights=None).contrast("y", {"A - B": {"A": 1, "B": -1}}, by="county")
    >>> t[["contrast", "estimate"]]
      contrast  estimate
    0    A - B       2.0
    """
    level = check_level(level)
    if not isinstance(contrasts, Mapping) or not contrasts:
        raise WeightingError("contrasts must be a non-empty mapping {name: {key: coefficient}}")
    est = _Estimates(design, statistic, variables, by, missing)
    keys = est.key_index()
    coef = np.zeros((len(contrasts), est.doms.n_domains, len(est.names)))
    for c, (name, spec) in enumerate(contrasts.items()):
        if not isinstance(spec, Mapping) or not spec:
            raise WeightingError(f"contrasts[{name!r}] must be a non-empty mapping {{key: coefficient}}")
        for key, value in spec.items():
            if key not in keys:
                raise WeightingError(
                    f"contrasts[{name!r}]: no estimate {key!r}; keys are {list(keys)[:10]}"
                )
            d, j = keys[key]
            coef[c, d, j] = float(value)
    estimate = np.einsum("cdj,dj->c", coef, est.res.estimate)
    variance, n = est.combine(coef)
    return _table([str(k) for k in contrasts], estimate, variance, design.df, n, level)


def compare_table(
    design: Design,
    variable: Hashable,
    by: Hashable | Sequence[Hashable],
    *,
    pairs: Sequence[tuple[Hashable, Hashable]] | None = None,
    kind: str = "difference",
    statistic: str = "mean",
    level: float = 0.95,
    missing: str = "domain",
) -> pd.DataFrame:
    r"""Differences or ratios between pairs of domains (county A vs B, this year vs last).

    Parameters
    ----------
    design : Design
    variable : column name
    by : column name or list
        The domains compared. For two surveys stacked into one design (their strata kept apart,
        e.g. ``strata`` = survey x stratum), ``by="year"`` compares the years with the right
        (here zero) covariance between them.
    pairs : sequence of (key, key), optional
        Domains compared, ``(a, b)`` giving :math:`\hat\theta_a - \hat\theta_b` or
        :math:`\hat\theta_a / \hat\theta_b`. Default: every domain against the first.
    kind : {"difference", "ratio"}
        Ratios use the delta method (R ``svycontrast(..., quote(a/b))``).
    statistic, level, missing
        As :func:`contrast_table`.

    Returns
    -------
    DataFrame
        As :func:`contrast_table`; ``contrast`` is ``"a - b"`` or ``"a / b"``.
    """
    level = check_level(level)
    if kind not in ("difference", "ratio"):
        raise WeightingError(f"kind must be 'difference' or 'ratio'; got {kind!r}")
    est = _Estimates(design, statistic, variable, by, missing)
    if len(est.names) != 1:
        raise WeightingError(f"variable: give one column; got {est.names!r}")
    keys = est.key_index()
    order = list(keys)
    chosen = list(pairs) if pairs is not None else [(k, order[0]) for k in order[1:]]
    if not chosen:
        raise WeightingError(f"by: there is only one domain ({order!r}); nothing to compare")
    coef = np.zeros((len(chosen), est.doms.n_domains, 1))
    theta = est.res.estimate[:, 0]
    estimate = np.empty(len(chosen))
    names = []
    for c, pair in enumerate(chosen):
        if len(pair) != 2 or pair[0] not in keys or pair[1] not in keys:
            raise WeightingError(f"pairs: {pair!r} is not a pair of domains among {order[:10]!r}")
        a, b = keys[pair[0]][0], keys[pair[1]][0]
        if kind == "difference":
            coef[c, a, 0], coef[c, b, 0] = 1.0, -1.0
            estimate[c] = theta[a] - theta[b]
            names.append(f"{pair[0]} - {pair[1]}")
        else:
            coef[c, a, 0], coef[c, b, 0] = 1.0 / theta[b], -theta[a] / theta[b] ** 2
            estimate[c] = theta[a] / theta[b]
            names.append(f"{pair[0]} / {pair[1]}")
    variance, n = est.combine(coef)
    return _table(names, estimate, variance, design.df, n, level)


def ttest_table(
    design: Design,
    variable: Hashable,
    group: Hashable | None = None,
    *,
    mu: float = 0.0,
    by: Hashable | Sequence[Hashable] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    r"""Design-based t test of a mean (``group=None``) or of a difference of two group means
    (R ``svyttest``).

    Parameters
    ----------
    design : Design
    variable : column name
    group : column name, optional
        A variable with exactly two values (among rows with a nonzero weight); the estimate is
        the mean of the second (in sorted order) minus the mean of the first, R's coefficient
        of ``factor(group)`` in ``svyglm(y ~ group)``.
    mu : float, default 0
        Null value of the one-sample mean (R ``svyttest(I(y - mu) ~ 0, design)``).
    by : column name or list, optional
        One test per domain (R's test on each domain's subset).
    level : float
        Confidence level of the interval (a t interval with the test's df).

    Returns
    -------
    DataFrame
        The ``by`` columns, ``variable``, ``estimate``, ``se``, ``ci_low``, ``ci_high``,
        ``df`` (R: ``degf(design) - 1`` on the rows with a value, per domain with ``by``),
        ``n``, ``deff`` (NaN), ``cv``, ``statistic`` (:math:`t = \hat\theta / SE`) and
        ``p_value`` (two-sided, :math:`t_{df}`).

    Examples
    --------
    >>> import pandas as pd
    >>> from weighting import Design
    >>> frame = pd.DataFrame({"g": ["a", "a", "a", "b", "b", "b"], "y": [1.0, 2.0, 3.0, 3.0, 4.0, 5.0]})
    >>> t = Design(frame, weights=None).ttest("y", "g")
    >>> float(t["estimate"].iloc[0]), float(t["df"].iloc[0])
    (2.0, 4.0)
    """
    level = check_level(level)
    name = as_columns(variable, "variable")
    if len(name) != 1:
        raise WeightingError(f"variable: give one column; got {name!r}")
    frame = design.data
    y = numeric_matrix(frame, name, "variable")[:, 0]
    ok = ~np.isnan(y)
    if group is not None:
        if group not in frame.columns:
            raise WeightingError(f"group: column {group!r} is not in the data")
        ok &= frame[group].notna().to_numpy()
    shifted = design._evolve(data=frame.assign(__y=np.where(ok, y - mu, np.nan)))
    by_cols = as_columns(by, "by")
    est = _Estimates(shifted, "mean", "__y", by_cols or None, "domain", extra_by=group)
    labels = est.doms.labels
    if group is None:
        coef = np.eye(est.doms.n_domains)[:, :, None]
        out_labels = labels
    else:
        levels = sorted(pd.unique(labels[group]).tolist())
        if len(levels) != 2:
            raise WeightingError(f"group: column {group!r} must have exactly two values; got {levels!r}")
        out_labels = labels[by_cols].drop_duplicates().reset_index(drop=True)
        keys = [tuple(r) for r in labels[by_cols].itertuples(index=False)]
        index = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        coef = np.zeros((len(index), est.doms.n_domains, 1))
        for d, key in enumerate(keys):
            coef[index[key], d, 0] = 1.0 if labels[group].iloc[d] == levels[1] else -1.0
        complete = (coef != 0).sum(axis=1)[:, 0] == 2
        if not complete.all():
            missing = [k for k, i in index.items() if not complete[i]][:5]
            raise WeightingError(f"group: domains {missing!r} of by have only one value of {group!r}")
    estimate = np.einsum("cdj,dj->c", coef, est.res.estimate)
    variance, n = est.combine(coef)
    rows_ok = ok & (design.weights != 0)
    outer = make_domains(frame, by_cols or None, design.weights, design.subset_mask)
    df = domain_degrees(design, outer.codes, outer.n_domains, rows_ok) - 1.0
    table = _table([str(name[0])] * estimate.size, estimate, variance, df, n, level)
    table = table.rename(columns={"contrast": "variable"})
    with np.errstate(divide="ignore", invalid="ignore"):
        t = estimate / np.sqrt(variance)
        table["statistic"] = t
        table["p_value"] = 2 * stats.t.sf(np.abs(t), np.where(df > 0, df, np.nan))
    return pd.concat([out_labels.reset_index(drop=True), table], axis=1)
