r"""Designs from replicate weights a data provider ships (R ``svrepdesign``).

Public-use files often come without strata and PSUs but with replicate-weight columns (JK1,
JKn, BRR, Fay, bootstrap, successive difference). :func:`replicate_design` turns them into a
:class:`~weighting.Design` whose every estimate (means, totals, ratios, proportions,
covariances, domains, models) uses the replicate variance
:math:`V = s \sum_r c_r (\hat\theta_r - \bar\theta)^2` (or around :math:`\hat\theta` with
``mse=True``), and whose weighting adjustments (post-stratification, raking, calibration,
trimming, nonresponse) are re-applied to every replicate.

Defaults of ``scale`` (:math:`s`) and ``rscales`` (:math:`c_r`) by type, with :math:`R`
replicates, as R ``survey`` 4.1.1's ``svrepdesign``:

=========================  ==========================  ===============================
type                       scale                       rscales
=========================  ==========================  ===============================
``"BRR"``                  :math:`1/R`                 1
``"Fay"``                  :math:`1/(R(1-\rho)^2)`     1 (``rho`` required)
``"JK1"``                  :math:`(R-1)/R` (guessed,   1
                           with a warning)
``"JKn"``                  1                           required with combined weights
                                                       (else :math:`1/\max_i a_{ir}`)
``"bootstrap"``            :math:`1/(R-1)`             1
``"ACS"``,                 :math:`4/R` (fixed)         1 (fixed)
``"successive-difference"``
``"JK2"``                  1 (fixed)                   1 (fixed)
``"other"``                1 (with a warning)          1 (with a warning)
=========================  ==========================  ===============================

BRR, Fay, ACS/successive-difference and JK2 take neither ``scale`` nor ``rscales`` from the
user in R (BRR and Fay silently recompute them, ACS and JK2 ignore them with a warning); here
giving them is an error, not a silent change. ``fpc`` (JK1, JKn) multiplies ``rscales`` by
:math:`1 - f_r` (``fpc_type="fraction"``) or by the given correction. Degrees of freedom:
the rank of the replicate weights minus 1 (R ``degf``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from .design import Design
from .domains import check_columns, numeric_matrix
from .errors import WeightingError
from .influence import replicate_rank
from .replication import ReplicateWeights

FloatArray = NDArray[np.float64]

TYPES = ("BRR", "Fay", "JK1", "JKn", "bootstrap", "ACS", "successive-difference", "JK2", "other")
FIXED = ("BRR", "Fay", "ACS", "successive-difference", "JK2")


def replicate_design(
    data: pd.DataFrame,
    *,
    weights: Hashable | ArrayLike,
    replicate_weights: str | Sequence[Hashable],
    type: str,
    scale: float | None = None,
    rscales: ArrayLike | None = None,
    rho: float | None = None,
    combined_weights: bool = True,
    mse: bool = False,
    fpc: ArrayLike | None = None,
    fpc_type: str = "fraction",
    bootstrap_average: int = 1,
) -> Design:
    """A design from supplied replicate weights (R ``svrepdesign``).

    Parameters
    ----------
    data : DataFrame
        One row per respondent, with the full-sample and replicate weights.
    weights : column name or array_like
        Full-sample weights.
    replicate_weights : str or list of column names
        The replicate-weight columns: a list of names, or a regular expression that the names
        match (R ``repweights="wt[0-9]+"``), in the order of ``data``'s columns.
    type : {"BRR", "Fay", "JK1", "JKn", "bootstrap", "ACS", "successive-difference", "JK2", "other"}
        Replication method (see the module table).
    scale, rscales : float, array_like, optional
        Variance constants; defaults by ``type``.
    rho : float, optional
        Fay's coefficient (``type="Fay"`` only, required there).
    combined_weights : bool, default True
        ``True``: the columns are analysis weights (full-sample weight times the replicate
        factor); ``False``: they are the factors, multiplied by ``weights``.
    mse : bool, default False
        Centre the squared deviations on the full-sample estimate (common for successive
        difference and ACS files) instead of the mean of the replicates.
    fpc : array_like, optional
        One sampling fraction (or correction, ``fpc_type="correction"``) per replicate, JK1 and
        JKn only.
    bootstrap_average : int, default 1
        Bootstrap replicates averaged into each column (``type="bootstrap"``; scale
        ``bootstrap_average/(R-1)``).

    Returns
    -------
    Design
        A replicate design; ``design.replicates.method`` is ``type``.

    Raises
    ------
    WeightingError
        Unknown type, no or missing replicate columns, missing or negative weights, ``rho``
        missing for Fay or given for another type, ``scale``/``rscales`` given for a type
        that fixes them, ``rscales`` of the wrong length, a bad ``fpc``.

    Examples
    --------
    >>> data = pd.DataFrame({"w": [2.0, 2.0, 2.0, 2.0], "y": [1.0, 2.0, 3.0, 6.0],
    ...                      "r1": [4.0, 0.0, 4.0, 0.0], "r2": [0.0, 4.0, 0.0, 4.0]})
    >>> d = replicate_design(data, weights="w", replicate_weights="^r", type="BRR")
    >>> d.mean("y")[["estimate", "se"]]
       estimate   se
    0       3.0  1.0
    """
    if type not in TYPES:
        raise WeightingError(f"type must be one of {', '.join(TYPES)}; got {type!r}")
    columns = _replicate_columns(data, replicate_weights)
    design = Design(data, weights=weights)
    w = design.weights
    reps = numeric_matrix(data, columns, "replicate_weights")
    if np.isnan(reps).any():
        raise WeightingError("replicate_weights: missing values are not allowed in replicate weights")
    if (reps < 0).any():
        raise WeightingError("replicate_weights: replicate weights must be >= 0")
    analysis = reps if combined_weights else reps * w[:, None]
    R = analysis.shape[1]
    if rho is not None and type != "Fay":
        raise WeightingError(f"rho applies to type='Fay' only, not {type!r}")
    if type in FIXED and (scale is not None or rscales is not None):
        raise WeightingError(f"type={type!r} fixes scale and rscales; do not give them (use type='other')")
    s, rs = _constants(type, R, scale, rscales, rho, combined_weights, reps, bootstrap_average)
    if fpc is not None:
        rs = rs * _fpc_factor(type, fpc, fpc_type, R)
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = np.where(w[:, None] > 0, analysis / w[:, None], 0.0)
    rep = ReplicateWeights(
        weights=np.asarray(analysis, dtype=np.float64), factors=factors, scale=float(s),
        rscales=np.asarray(rs, dtype=np.float64), mse=bool(mse), method=type,
    )
    return design._evolve(replicates=rep, df=float(replicate_rank(analysis) - 1))


def _replicate_columns(data: pd.DataFrame, spec: str | Sequence[Hashable]) -> list[Hashable]:
    if isinstance(spec, str):
        try:
            pattern = re.compile(spec)
        except re.error as exc:
            raise WeightingError(f"replicate_weights: {spec!r} is not a regular expression ({exc})") from None
        columns: list[Hashable] = [c for c in data.columns if pattern.search(str(c))]
        if not columns:
            raise WeightingError(f"replicate_weights: no column name matches {spec!r}")
        return columns
    columns = list(spec)
    if not columns:
        raise WeightingError("replicate_weights: give at least one column")
    check_columns(data, columns, "replicate_weights")
    return columns


def _constants(
    type: str,
    R: int,
    scale: float | None,
    rscales: ArrayLike | None,
    rho: float | None,
    combined: bool,
    reps: FloatArray,
    bootstrap_average: int,
) -> tuple[float, FloatArray]:
    """``scale`` and ``rscales`` of R's ``svrepdesign`` for the type (module table)."""
    rs: FloatArray | None = None
    if rscales is not None:
        given = np.asarray(rscales, dtype=np.float64).reshape(-1)
        if given.size not in (1, R):
            raise WeightingError(f"rscales has {given.size} values; give 1 or one per replicate ({R})")
        rs = np.broadcast_to(given, (R,)).copy()
    if type == "BRR":
        return 1.0 / R, np.ones(R)
    if type == "Fay":
        if rho is None or not 0.0 < float(rho) < 1.0:
            raise WeightingError(f"type='Fay' needs rho strictly between 0 and 1; got {rho!r}")
        return 1.0 / (R * (1.0 - float(rho)) ** 2), np.ones(R)
    if type in ("ACS", "successive-difference"):
        return 4.0 / R, np.ones(R)
    if type == "JK2":
        return 1.0, np.ones(R)
    if type == "bootstrap":
        return (bootstrap_average / (R - 1.0) if scale is None else float(scale)), (np.ones(R) if rs is None else rs)
    if type == "JK1" and scale is None:
        if combined:
            warnings.warn(f"scale (n-1)/n not given for type='JK1': taking n = {R} replicates, as R", UserWarning, stacklevel=3)
            scale = (R - 1.0) / R
        else:
            warnings.warn("scale (n-1)/n not given for type='JK1': taken from the weights, as R", UserWarning, stacklevel=3)
            scale = 1.0 / float(reps[:, 0].max())
    if type == "JKn" and rs is None:
        if combined:
            raise WeightingError("type='JKn' with combined weights needs rscales ((n_h - 1)/n_h of each replicate's stratum)")
        warnings.warn("rscales not given for type='JKn': taken as 1/max factor of each replicate, as R", UserWarning, stacklevel=3)
        rs = 1.0 / reps.max(axis=0)
    if type == "other" and (scale is None or rs is None):
        warnings.warn("scale or rscales not given for type='other': set to 1, as R", UserWarning, stacklevel=3)
    return (1.0 if scale is None else float(scale)), (np.ones(R) if rs is None else rs)


def _fpc_factor(type: str, fpc: ArrayLike, fpc_type: str, R: int) -> FloatArray:
    if type not in ("JK1", "JKn", "other"):
        raise WeightingError(f"fpc is not available for type={type!r} (R: JK1 and JKn)")
    if fpc_type not in ("fraction", "correction"):
        raise WeightingError(f"fpc_type must be 'fraction' or 'correction'; got {fpc_type!r}")
    f = np.asarray(fpc, dtype=np.float64).reshape(-1)
    if f.size != R:
        raise WeightingError(f"fpc has {f.size} values; give one per replicate ({R})")
    if ((f < 0) | (f > 1) | np.isnan(f)).any():
        raise WeightingError(f"fpc values must be in [0, 1]; got {f[(f < 0) | (f > 1) | np.isnan(f)][:3].tolist()}")
    return f if fpc_type == "correction" else 1.0 - f
