r"""Population variance of a variable (R ``svyvar``), overall and by domain.

R's ``svyvar.survey.design`` estimates :math:`S^2 = \frac{n}{n-1}\,\frac{\sum_i w_i (y_i -
\bar y_w)^2}{\sum_i w_i}` as the weighted mean of :math:`u_i = \frac{n}{n-1}(y_i - \bar y_w)^2`
and reports the linearisation SE of that mean with :math:`\bar y_w` held fixed (its own
influence vanishes: :math:`\sum w_i (y_i - \bar y_w) = 0`). For a domain, :math:`\bar y_w`,
:math:`n` and the mean are the domain's (``svyby`` passes the domain's subset). After
post-stratification, raking or calibration the mean of :math:`u` is residualised like any mean.

Replicate designs follow ``svyvar.svyrep.design``: every replicate recomputes its own mean,
:math:`S^2_r = \frac{n}{n-1}(\overline{c^2}_r - \bar c_r^2)` with :math:`c = y - \bar y_w`
(centring on the full-sample mean first keeps the subtraction exact), and
:math:`V = s \sum_r c_r (S^2_r - \bar S^2)^2`.

:math:`n` is the number of rows of the domain with a value and a nonzero weight. With missing
values R's linearisation method counts the rows with a nonzero weight *before* ``na.rm``
removes the missing ones (its replicate method after): the two agree when nothing is missing
(survey 4.1).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .domains import as_columns, make_domains, numeric_matrix, present_mask
from .errors import WeightingError
from .estimation import linear_estimates
from .influence import replicate_thetas
from .intervals import check_level, t_interval
from .tables import estimate_table
from .variance import replicate_variance

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]


def variance_table(
    design: Design,
    variables: Hashable | Sequence[Hashable],
    *,
    by: Hashable | Sequence[Hashable] | None = None,
    level: float = 0.95,
    missing: str = "domain",
) -> pd.DataFrame:
    """Population variances of numeric variables with their standard errors.

    Parameters
    ----------
    design : Design
    variables : column name or list of column names
    by, level, missing
        As :meth:`weighting.Design.mean` (``missing="drop"`` is not offered: use
        ``"domain"``).

    Returns
    -------
    DataFrame
        The estimate table (:mod:`weighting.tables`): ``estimate`` is :math:`S^2`, ``se`` its
        standard error, the interval a t interval with the design's degrees of freedom (R
        ``confint(svyvar(...), df=degf(design))``), ``deff`` NaN (R reports none).

    Examples
    --------
    >>> import pandas as pd
    >>> from weighting import Design
    >>> d = Design(pd.DataFrame({"y": [1.0, 2.0, 3.0, 6.0]}), weights=None)
    >>> float(d.variance("y")["estimate"].iloc[0])  # the usual n - 1 variance
    4.666666666666667
    """
    level = check_level(level)
    names = as_columns(variables, "variables")
    y = numeric_matrix(design.data, names, "variables")
    if missing not in ("domain", "complete"):
        raise WeightingError(f"missing must be 'domain' or 'complete' for variances; got {missing!r}")
    present = present_mask(y, missing)
    doms = make_domains(design.data, by, design.weights, design.subset_mask)
    if present is not None:
        y[~present] = 0.0
    first = linear_estimates(design, "mean", y, None, present, doms.codes, doms.n_domains)
    n = first.n.astype(np.float64)
    inside = doms.codes >= 0
    centred = np.zeros_like(y)
    centred[inside] = y[inside] - first.estimate[doms.codes[inside]]
    if present is not None:
        centred[~present] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = n / (n - 1)
    u = np.zeros_like(y)
    u[inside] = centred[inside] ** 2 * factor[doms.codes[inside]]
    res = linear_estimates(design, "mean", u, None, present, doms.codes, doms.n_domains)
    variance = res.variance
    if design.replicates is not None:
        rep = design.replicates
        m1 = replicate_thetas(design, "mean", centred, None, present, doms.codes, doms.n_domains)
        m2 = replicate_thetas(design, "mean", centred**2, None, present, doms.codes, doms.n_domains)
        with np.errstate(invalid="ignore"):
            thetas = factor[None] * (m2 - m1**2)
        variance = replicate_variance(thetas, res.estimate, rep.scale, rep.rscales, mse=rep.mse)
    se = np.sqrt(variance)
    lo, hi = t_interval(res.estimate, se, design.df, level)
    return estimate_table(
        doms.labels, [str(v) for v in names],
        {"estimate": res.estimate, "se": se, "ci_low": lo, "ci_high": hi, "df": design.df,
         "n": first.n, "deff": np.nan},
    )
