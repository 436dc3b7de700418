"""Degrees of freedom of domains: R's ``degf(subset(design, domain))`` for every domain at once.

R's ``svyby(..., svyciprop)`` and ``svyby(..., svyquantile)`` call the statistic on the
subset design of each domain, and both statistics take their t quantile from
``degf()`` of the design they are given; ``svyquantile(..., na.rm=TRUE)`` first drops the rows
with a missing value. So their intervals use, per domain,

* linearisation designs: the first-stage PSUs minus the strata among the domain's rows with a
  nonzero weight (``degf.survey.design2``);
* replicate designs: the rank of the domain rows' replicate weights minus 1
  (``degf.svyrep.design``: ``qr(weights(design, "analysis"), tol=1e-5)$rank - 1``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from .domains import domain_dfs
from .influence import replicate_rank

if TYPE_CHECKING:
    from .design import Design

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]


def domain_degrees(design: Design, dom: IntArray, n_dom: int, rows: BoolArray | None = None) -> FloatArray:
    """Degrees of freedom of every domain, as R's ``degf`` of the domain's subset design.

    Parameters
    ----------
    design : Design
    dom : ndarray of intp, shape (n,)
        Domain codes (``-1``: in no domain).
    n_dom : int
        Number of domains.
    rows : ndarray of bool, shape (n,), optional
        Rows that stay in the subset besides the domain (e.g. those with a value, for
        ``na.rm=TRUE``); default all.

    Returns
    -------
    ndarray of float64, shape (n_dom,)

    Examples
    --------
    >>> import pandas as pd
    >>> from weighting import Design
    >>> d = Design(pd.DataFrame({"h": ["a", "a", "b", "b", "b"], "w": 1.0}), weights="w", strata="h")
    >>> domain_degrees(d, np.array([0, 0, 0, 1, 1]), 2).tolist()
    [1.0, 1.0]
    """
    keep = dom >= 0 if rows is None else (dom >= 0) & rows
    codes = np.where(keep, dom, -1)
    rep = design.replicates
    if rep is None:
        s1 = design.stages[0]
        return domain_dfs(s1.cluster, s1.cluster_stratum[s1.cluster], design.weights, codes, n_dom)
    # One rank per domain (an R x R eigenproblem each); the Gram matrices come from one sort.
    out = np.empty(n_dom)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_dom + 1))
    for d in range(n_dom):
        idx = order[bounds[d] : bounds[d + 1]]
        out[d] = replicate_rank(rep.weights[idx]) - 1.0
    return out
