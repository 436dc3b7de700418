"""Replicate weights (jackknife, BRR, Fay, Rao–Wu bootstrap) and the replicate variance.

The factor matrices follow R's ``survey`` (``jk1weights``, ``jknweights``, ``brrweights``,
``subbootweights``) column for column where R is deterministic.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from weighting.adjustment import FloatArray
from weighting.bootstrap import canty_davison_factors
from weighting.cells import check_weights, combine_codes
from weighting.errors import WeightingError
from weighting.hadamard import hadamard
from weighting.stages import LONELY_PSU

IntArray = NDArray[np.intp]
METHODS = ("jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap", "canty_davison")
BOOTSTRAPS = ("bootstrap", "subbootstrap", "canty_davison")
#: Default number of bootstrap replicates (R's ``subbootweights`` default).
DEFAULT_BOOTSTRAP_REPLICATES = 50
DEFAULT_FAY = 0.5


@dataclass(frozen=True)
class ReplicateWeights:
    """Replicate weights and the constants of their variance formula.

    Attributes
    ----------
    weights : ndarray, shape (n, R)
        Replicate weights: base weights times ``factors``.
    factors : ndarray, shape (n, R)
        Replicate factors (0 for a deleted PSU, ``n_h/(n_h-1)`` for its stratum mates, ...).
    scale : float
        Overall multiplier of the variance.
    rscales : ndarray, shape (R,)
        Per-replicate multipliers.
    mse : bool
        Centre the squared deviations on the full-sample estimate instead of the replicate mean.
    method : str
        ``"jk1"``, ``"jkn"``, ``"brr"``, ``"fay"``, ``"bootstrap"`` (= ``"subbootstrap"``) or
        ``"canty_davison"``.
    """

    weights: FloatArray
    factors: FloatArray
    scale: float
    rscales: FloatArray
    mse: bool
    method: str

    def variance(self, theta_full: ArrayLike, theta_reps: ArrayLike) -> FloatArray:
        """:func:`replicate_variance` with this object's constants."""
        return replicate_variance(theta_full, theta_reps, self.scale, self.rscales, self.mse)


def _psus(
    strata_codes: ArrayLike | None, psu_codes: ArrayLike | None, n: int
) -> tuple[IntArray, IntArray, IntArray, list[Any]]:
    """PSU index of every unit and stratum of every PSU, both in order of first appearance.

    PSUs are identified by (stratum, psu) pairs, so PSU codes may be reused across strata.
    Returns (unit_psu, psu_stratum, stratum_size, stratum_labels) with strata numbered by
    first appearance.
    """
    strata = np.zeros(n, dtype=np.int64) if strata_codes is None else np.asarray(strata_codes)
    psu = np.arange(n) if psu_codes is None else np.asarray(psu_codes)
    if strata.shape != (n,) or psu.shape != (n,):
        raise WeightingError(
            f"strata_codes and psu_codes must have shape ({n},), got {strata.shape} and {psu.shape}"
        )
    if pd.isna(strata).any() or pd.isna(psu).any():
        raise WeightingError("strata_codes and psu_codes must not have missing values")
    stratum_, labels = pd.factorize(strata)
    stratum = stratum_.astype(np.intp)
    unit_psu, first = combine_codes([stratum, psu])
    psu_stratum = stratum[first]
    size = np.bincount(psu_stratum).astype(np.intp)
    return unit_psu, psu_stratum, size, list(np.asarray(labels).tolist())


#: A stratum whose finite population correction :math:`1 - n_h/N_h` is below this is a census
#: (R ``onestrat``; ``jk1weights`` drops its replicates).
CENSUS_TOL = 1e-7


@dataclass(frozen=True)
class _Jackknife:
    factors: FloatArray
    rscales: FloatArray
    scale: float


def _jackknife(
    unit_psu: IntArray,
    psu_stratum: IntArray,
    size: IntArray,
    labels: list[Any],
    lonely_psu: str,
    correction: FloatArray | None,
) -> _Jackknife:
    """Delete-one-PSU columns of every stratum, as R ``jknweights`` (survey 4.1).

    ``correction`` is :math:`1 - n_h/N_h` per stratum (``None``: no FPC). Census strata
    (correction 0) get no column; a stratum with one PSU follows ``lonely_psu`` (see
    :func:`replicate_weights`).
    """
    n_strata = size.size
    corr = np.ones(n_strata) if correction is None else np.asarray(correction, dtype=np.float64)
    census = corr < CENSUS_TOL
    lonely = (size == 1) & ~census
    if lonely.any() and lonely_psu == "fail":
        raise WeightingError(
            f"jackknife needs at least 2 PSUs per stratum; strata_codes "
            f"{[labels[k] for k in np.flatnonzero(lonely)[:5]]} have one (set lonely_psu to "
            "'remove', 'certainty', 'adjust' or 'average', or give the stratum's fpc if it is a census)"
        )
    unit_stratum = psu_stratum[unit_psu]
    ordered = np.argsort(psu_stratum, kind="stable")  # grouped by stratum, as R
    keep = ordered[~census[psu_stratum[ordered]] & ~lonely[psu_stratum[ordered]]]
    h = size[psu_stratum[keep]].astype(np.float64)
    same = unit_stratum[:, None] == psu_stratum[None, keep]
    mate = (size / np.maximum(size - 1.0, 1.0))[unit_stratum]
    factors = np.where(same, mate[:, None], 1.0)
    factors[unit_psu[:, None] == keep[None, :]] = 0.0
    rscales = (h - 1.0) / h * corr[psu_stratum[keep]]
    if lonely_psu == "adjust" and lonely.any():
        # R: one column per lonely stratum, 0 for its PSU and n_strata/(n_strata-1) for every
        # other PSU of every stratum, rscale (n_strata-1)/n_strata (no FPC), in stratum order.
        ratio = n_strata / (n_strata - 1.0) if n_strata > 1 else np.inf
        lonely_psus = ordered[lonely[psu_stratum[ordered]]]
        extra = np.where(unit_psu[:, None] == lonely_psus[None, :], 0.0, ratio)
        position = np.searchsorted(psu_stratum[keep], psu_stratum[lonely_psus])
        factors = np.insert(factors, position, extra, axis=1)
        rscales = np.insert(rscales, position, np.full(lonely_psus.size, (n_strata - 1.0) / n_strata))
    if factors.shape[1] == 0:
        raise WeightingError(
            "every stratum was sampled exhaustively (fpc = number of PSUs): the design has no "
            "sampling variance, so there are no jackknife replicates"
        )
    scale = 1.0
    if lonely_psu == "average" and lonely.any():
        # R: psu count / column count. Census PSUs are left out of the count here: their
        # strata contribute 0 by design, not by loneliness (R counts them; see Notes).
        scale = float(np.sum(size[~census])) / factors.shape[1]
    return _Jackknife(factors, rscales, scale)


def _stratum_correction(values: ArrayLike, unit_psu: IntArray, psu_stratum: IntArray, n_strata: int) -> FloatArray:
    """One :math:`1 - f_h` per stratum (in ``_psus`` order) from a per-unit array."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.shape != unit_psu.shape or not np.all(np.isfinite(v)) or np.any((v < 0) | (v > 1)):
        raise WeightingError(
            f"fpc_correction must have one value in [0, 1] per unit ({unit_psu.size}); got shape {v.shape}"
        )
    out = np.ones(n_strata)
    out[psu_stratum[unit_psu]] = v
    return out


def _brr(
    strata_codes: ArrayLike | None,
    unit_psu: IntArray,
    psu_stratum: IntArray,
    size: IntArray,
    labels: list[Any],
    rho: float,
) -> FloatArray:
    if strata_codes is None or size.size < 1:
        raise WeightingError("BRR and Fay replicates need a stratified design")
    wrong = np.flatnonzero(size != 2)
    if wrong.size:
        raise WeightingError(
            f"BRR and Fay need exactly 2 PSUs per stratum; strata_codes "
            f"{[labels[k] for k in wrong[:5]]} have {size[wrong].tolist()[:5]}"
        )
    # R numbers the strata in sorted order of their labels: here, of their codes.
    strata = np.asarray(strata_codes)
    first_unit = np.unique(unit_psu, return_index=True)[1]
    rank = pd.factorize(strata[first_unit], sort=True)[0]  # sorted stratum number of each PSU
    H = hadamard(int(size.size))
    row = H[1 + rank, :]  # (n_psu, R): 1 -> the first PSU of the pair gets 2 - rho
    # PSUs are numbered by first appearance, so the first PSU of a stratum has the lower number
    first_of_pair = np.zeros(psu_stratum.size, dtype=bool)
    first_of_pair[np.unique(psu_stratum, return_index=True)[1]] = True
    up = np.where(first_of_pair[:, None], row == 1, row == 0)
    return np.where(up, 2.0 - rho, rho)[unit_psu]


def _bootstrap(
    unit_psu: IntArray,
    psu_stratum: IntArray,
    size: IntArray,
    labels: list[Any],
    replicates: int,
    rng: np.random.Generator,
) -> FloatArray:
    lonely = np.flatnonzero(size < 2)
    if lonely.size:
        raise WeightingError(
            f"the rescaling bootstrap needs at least 2 PSUs per stratum; strata_codes "
            f"{[labels[k] for k in lonely[:5]]} have one"
        )
    n_psu = psu_stratum.size
    by_stratum = np.argsort(psu_stratum, kind="stable")
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    slot_stratum = np.repeat(np.arange(size.size), size - 1)  # n_h - 1 draws per stratum
    picks = rng.integers(0, size[slot_stratum], size=(replicates, slot_stratum.size))
    chosen = by_stratum[start[slot_stratum] + picks]
    offsets = (np.arange(replicates) * n_psu)[:, None]
    draws = np.bincount((chosen + offsets).ravel(), minlength=replicates * n_psu)
    counts = draws.reshape(replicates, n_psu).T.astype(np.float64)
    psu_factors: FloatArray = counts * (size / (size - 1.0))[psu_stratum][:, None]
    return psu_factors[unit_psu]


def replicate_weights(
    method: str,
    weights: ArrayLike,
    strata_codes: ArrayLike | None,
    psu_codes: ArrayLike | None,
    *,
    replicates: int | None = None,
    rng: int | np.random.Generator | None = None,
    fay: float | None = None,
    lonely_psu: str = "fail",
    fpc_correction: ArrayLike | None = None,
    population: ArrayLike | None = None,
) -> ReplicateWeights:
    r"""Replicate weights for a stratified cluster design.

    Parameters
    ----------
    method : {"jk1", "jkn", "brr", "fay", "bootstrap", "subbootstrap", "canty_davison"}
        Delete-one-PSU jackknife without strata, stratified jackknife, balanced repeated
        replication, Fay's BRR, Rao–Wu rescaling bootstrap (``"bootstrap"`` and
        ``"subbootstrap"``, R's ``type="subbootstrap"``), Canty–Davison bootstrap (R's
        ``type="bootstrap"``, :mod:`weighting.bootstrap`).
    weights : array_like, shape (n,)
        Full-sample weights.
    strata_codes, psu_codes : array_like, shape (n,), or None
        Stratum and first-stage cluster of every unit (``None``: one stratum; every unit its
        own PSU). PSUs are (stratum, psu) pairs, so codes may repeat across strata.
    replicates : int, optional
        Number of bootstrap replicates (default 50, as R); only for the bootstraps.
    rng : int or numpy.random.Generator, optional
        Seed or generator for the bootstrap (``numpy.random.default_rng(rng)``).
    fay : float, optional
        Fay's coefficient :math:`\rho \in (0, 1)` for ``"fay"`` (default 0.5).
    lonely_psu : {"fail", "remove", "certainty", "adjust", "average"}
        A stratum with one PSU that is not a census, for ``"jkn"`` (R
        ``options(survey.lonely.psu=)`` in ``as.svrepdesign``); see Notes.
    fpc_correction : array_like, shape (n,), optional
        :math:`1 - n_h/N_h` of every unit's stratum, for the jackknives (R's ``fpc`` in
        ``jk1weights``/``jknweights``). A stratum with correction 0 is a census.
    population : array_like, shape (n,), optional
        Number of PSUs in the population of every unit's stratum (``inf``: unknown or
        infinite); only ``"canty_davison"`` uses it (R's ``bootweights(fpc=)``).

    Returns
    -------
    ReplicateWeights

    Raises
    ------
    WeightingError
        Unknown method, strata for ``"jk1"``, a stratum with one PSU (jackknife, bootstrap), a
        stratum without exactly 2 PSUs (BRR/Fay), bad ``fay`` or ``replicates``.

    Notes
    -----
    Replicate columns and constants follow R's ``as.svrepdesign`` (Wolter 2007, ch. 3–5;
    Lumley 2010, sec. 2.5), with :math:`V = \text{scale} \sum_r \text{rscale}_r
    (\hat\theta_r - \bar\theta)^2`:

    * ``jk1``: one column per PSU (order of first appearance): factor 0 for the PSU,
      :math:`n/(n-1)` for the others; scale :math:`(n-1)/n`, rscales 1.
    * ``jkn``: one column per PSU, grouped by stratum, strata and PSUs in order of first
      appearance: 0 for the PSU,
      :math:`n_h/(n_h-1)` for the rest of its stratum, 1 elsewhere; scale 1, rscales
      :math:`(1 - f_h)(n_h-1)/n_h`. As R ``jknweights`` (survey 4.1, with
      ``survey.drop.replicates = TRUE``): a census stratum (:math:`f_h = 1`) gets no column,
      so it counts in neither the variance nor the degrees of freedom; a stratum with one
      PSU (not a census) raises under ``"fail"``, gets no column under ``"remove"``,
      ``"certainty"`` and ``"average"`` (``"average"`` multiplies ``scale`` by the number of
      PSUs over the number of columns), and under ``"adjust"`` one column with 0 for that PSU
      and :math:`H/(H-1)` for every other PSU (:math:`H` strata), rscale :math:`(H-1)/H`.
      One deliberate difference: R's ``"average"`` count of PSUs includes those of census
      strata, which inflates the variance of a design with a census stratum; here census
      PSUs are left out of that count (their strata contribute 0 by design, not by
      loneliness). Without census strata the two agree.
    * ``brr`` / ``fay``: replicate :math:`r` gives factor :math:`2-\rho` to one PSU of each pair
      and :math:`\rho` to the other (:math:`\rho = 0` for BRR), by the Hadamard matrix of R's
      ``hadamard(H)`` (:mod:`weighting.hadamard`), its rows 2..H+1 for the strata in ascending
      code order, the first-appearing PSU of a pair taking :math:`2-\rho` where the entry is
      +1; :math:`R` = order of the matrix; scale :math:`1/(R(1-\rho)^2)`, rscales 1. Pass codes
      that sort like R's stratum labels to get R's columns.
    * ``bootstrap``: Rao & Wu (1988) rescaling bootstrap with :math:`m_h = n_h - 1`
      (R's ``subbootweights``): draw :math:`n_h - 1` PSUs with replacement in each stratum,
      factor :math:`n_h/(n_h-1)` times the number of draws; scale :math:`1/(R-1)`, rscales 1.
      ``subbootstrap`` is the same (R's name).
    * ``canty_davison``: R's ``type="bootstrap"``: :math:`n_h` draws with replacement (or
      without, from a pseudo-population, when ``population`` is given), factor = number of
      draws; scale :math:`\bar n/((\bar n - 1)(R-1))`, :math:`\bar n` the harmonic mean of the
      :math:`n_h` (:mod:`weighting.bootstrap`).

    ``mse`` is ``False`` (R's default ``survey.replicates.mse``). Finite population
    corrections (``fpc_correction``) are applied by the jackknives only, as R's
    ``as.svrepdesign``: ``jk1`` multiplies ``scale`` by :math:`1 - f`.

    Examples
    --------
    >>> rep = replicate_weights("jkn", np.ones(4), [0, 0, 1, 1], [0, 1, 2, 3])
    >>> rep.factors
    array([[0., 2., 1., 1.],
           [2., 0., 1., 1.],
           [1., 1., 0., 2.],
           [1., 1., 2., 0.]])
    >>> rep.rscales
    array([0.5, 0.5, 0.5, 0.5])
    """
    if method not in METHODS:
        raise WeightingError(f"method must be one of {METHODS}, got {method!r}")
    w = check_weights(weights)
    if replicates is not None and method not in BOOTSTRAPS:
        raise WeightingError(f"replicates= only applies to the bootstraps {BOOTSTRAPS}, not {method!r}")
    if fay is not None and method != "fay":
        raise WeightingError(f"fay= only applies to method='fay', not {method!r}")
    if lonely_psu not in LONELY_PSU:
        raise WeightingError(f"lonely_psu must be one of {', '.join(LONELY_PSU)}; got {lonely_psu!r}")
    unit_psu, psu_stratum, size, labels = _psus(strata_codes, psu_codes, w.size)
    correction = None
    if fpc_correction is not None:
        if method not in ("jk1", "jkn"):
            raise WeightingError(f"fpc_correction= only applies to the jackknives, not {method!r}")
        correction = _stratum_correction(fpc_correction, unit_psu, psu_stratum, size.size)
    if method == "jk1":
        if size.size > 1:
            raise WeightingError(
                f"method='jk1' is for unstratified designs but strata_codes has {size.size} "
                "strata; use method='jkn'"
            )
        jk = _jackknife(unit_psu, psu_stratum, size, labels, "fail", correction)
        factors = jk.factors
        n_psu = float(size[0])
        f = 1.0 if correction is None else float(correction[0])
        scale, rscales = f * (n_psu - 1.0) / n_psu, np.ones(factors.shape[1])
    elif method == "jkn":
        jk = _jackknife(unit_psu, psu_stratum, size, labels, lonely_psu, correction)
        factors, rscales, scale = jk.factors, jk.rscales, jk.scale
    elif method in ("brr", "fay"):
        rho = 0.0
        if method == "fay":
            rho = DEFAULT_FAY if fay is None else float(fay)
            if not 0.0 < rho < 1.0:
                raise WeightingError(f"fay must be strictly between 0 and 1, got {fay!r}")
        factors = _brr(strata_codes, unit_psu, psu_stratum, size, labels, rho)
        scale = 1.0 / (factors.shape[1] * (1.0 - rho) ** 2)
        rscales = np.ones(factors.shape[1])
    else:
        n_rep = DEFAULT_BOOTSTRAP_REPLICATES if replicates is None else int(replicates)
        if n_rep < 2:
            raise WeightingError(f"replicates must be at least 2, got {replicates!r}")
        if method == "canty_davison":
            pop = None
            if population is not None:
                per_unit = np.asarray(population, dtype=np.float64).reshape(-1)
                pop = np.full(size.size, np.inf)
                pop[psu_stratum[unit_psu]] = per_unit
            factors, scale = canty_davison_factors(
                unit_psu, psu_stratum, size, labels, n_rep, np.random.default_rng(rng), pop
            )
        else:
            factors = _bootstrap(unit_psu, psu_stratum, size, labels, n_rep, np.random.default_rng(rng))
            scale = 1.0 / (n_rep - 1.0)
        rscales = np.ones(n_rep)
    return ReplicateWeights(
        weights=w[:, None] * factors,
        factors=factors,
        scale=float(scale),
        rscales=np.asarray(rscales, dtype=np.float64),
        mse=False,
        method=method,
    )


def replicate_variance(
    theta_full: ArrayLike,
    theta_reps: ArrayLike,
    scale: float,
    rscales: ArrayLike,
    mse: bool,
) -> FloatArray:
    r"""Replicate variance of one or several statistics.

    Parameters
    ----------
    theta_full : array_like, shape () or (k,)
        Full-sample estimates.
    theta_reps : array_like, shape (R,) or (R, k)
        Replicate estimates, one row per replicate.
    scale : float
    rscales : array_like, shape (R,)
    mse : bool
        Centre on ``theta_full`` (True) or on the mean of the replicates with a positive
        rscale (False, R's default).

    Returns
    -------
    ndarray, shape of ``theta_full``

    Notes
    -----
    :math:`V = \text{scale} \sum_r \text{rscale}_r (\hat\theta_r - c)^2` (Wolter 2007; R
    ``svrVar``). Replicates whose estimate is not finite are left out for that statistic, with
    a warning, as R does with ``NA`` replicates.

    Examples
    --------
    >>> replicate_variance(2.0, [1.0, 3.0], 0.5, [1.0, 1.0], mse=False)
    array(1.)
    """
    full = np.asarray(theta_full, dtype=np.float64)
    reps = np.asarray(theta_reps, dtype=np.float64)
    rs = np.asarray(rscales, dtype=np.float64)
    reps2 = reps.reshape(reps.shape[0], -1)
    if reps2.shape[1] != max(full.size, 1) or rs.shape != (reps2.shape[0],):
        raise WeightingError(
            f"theta_reps has shape {reps.shape}, theta_full {full.shape}, rscales {rs.shape}: "
            "need (R, k), (k,) and (R,)"
        )
    finite = np.isfinite(reps2)
    if not finite.all():
        warnings.warn(
            f"{int((~finite.all(axis=1)).sum())} replicate(s) gave non-finite estimates and were "
            "left out",
            RuntimeWarning,
            stacklevel=2,
        )
    values = np.where(finite, reps2, 0.0)
    if mse:
        centre = full.reshape(-1)
    else:
        use = finite & (rs[:, None] > 0)
        centre = (values * use).sum(axis=0) / np.maximum(use.sum(axis=0), 1)
    dev = np.where(finite, values - centre[None, :], 0.0)
    v = scale * np.sum(rs[:, None] * dev**2, axis=0)
    return v.reshape(full.shape)
