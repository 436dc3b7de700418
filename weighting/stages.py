"""Sampling stages of a design: factorised strata, nested cluster codes, FPCs, lonely PSUs.

A :class:`Stage` holds everything the linearisation variance needs about one sampling stage,
computed once when a :class:`~weighting.Design` is built. Stage 1 is stratified by the design's
strata; stage ``s > 1`` is stratified by the clusters of stage ``s - 1`` (R's ``svydesign``:
``strata[, s] <- interaction(strata, ids[, s - 1])``). Cluster ids are nested in their stratum
and in every earlier cluster, i.e. R's ``nest=TRUE``; for designs that R accepts with
``nest=FALSE`` (ids already unique across strata) this is the same design.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from .errors import WeightingError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

LONELY_PSU = ("fail", "remove", "certainty", "adjust", "average")

#: R ``onestrat``: a stratum whose finite population correction is below this is a census.
CERTAINTY_TOL = 1e-7


@dataclass(frozen=True, eq=False)
class Stage:
    """One sampling stage, validated and factorised.

    Attributes
    ----------
    cluster : ndarray of intp, shape (n,)
        Cluster code of every row at this stage (``0 .. n_clusters - 1``).
    cluster_stratum : ndarray of intp, shape (n_clusters,)
        Stratum code of every cluster.
    stratum_group : ndarray of intp, shape (n_strata,)
        The cluster of the previous stage that contains the stratum (0 at stage 1): the unit in
        which R's ``onestage`` is called, which matters for ``lonely_psu="average"``.
    n_groups : int
        Number of such groups.
    sampled : ndarray of intp, shape (n_strata,)
        Number of clusters sampled in each stratum, :math:`n_h`.
    population : ndarray of float64 or None, shape (n_strata,)
        Population number of clusters :math:`N_h` (``inf`` for a zero sampling fraction), or
        ``None`` without FPC.
    coef : ndarray of float64, shape (n_strata,)
        Multiplier of the stratum's sum of squares: product of earlier sampling fractions times
        :math:`(1 - f_h) n_h / (n_h - 1)` (:math:`1 - f_h` for a lonely stratum under
        ``adjust``); 0 for certainty strata and lonely strata under ``remove``/``certainty``.
    centered : ndarray of bool, shape (n_strata,)
        Whether cluster totals are centred on the stratum mean (``False`` only for lonely
        strata under ``adjust``: centred on 0).
    dropped : ndarray of bool, shape (n_strata,)
        Lonely strata left out under ``average`` (the others are scaled up).
    fraction : ndarray of float64, shape (n_strata,)
        Sampling fraction :math:`n_h / N_h` (weights the next stage's variance).
    """

    cluster: IntArray
    n_clusters: int
    cluster_stratum: IntArray
    n_strata: int
    stratum_group: IntArray
    n_groups: int
    sampled: IntArray
    population: FloatArray | None
    coef: FloatArray
    centered: BoolArray
    dropped: BoolArray
    fraction: FloatArray

    @property
    def cluster_indicator(self) -> sp.csr_matrix:
        """Sparse ``(n_clusters, n)`` 0/1 matrix summing rows to cluster totals."""
        n = self.cluster.size
        return sp.csr_matrix(
            (np.ones(n), (self.cluster, np.arange(n))), shape=(self.n_clusters, n)
        )

    @property
    def stratum_indicator(self) -> sp.csr_matrix:
        """Sparse ``(n_strata, n_clusters)`` 0/1 matrix summing cluster totals by stratum."""
        c = self.n_clusters
        return sp.csr_matrix(
            (np.ones(c), (self.cluster_stratum, np.arange(c))), shape=(self.n_strata, c)
        )


def combine_codes(first: IntArray, second: IntArray) -> tuple[IntArray, int]:
    """Codes of the distinct pairs ``(first, second)``, numbered in sorted order."""
    key = first.astype(np.int64) * (int(second.max(initial=0)) + 1) + second
    uniq, inverse = np.unique(key, return_inverse=True)
    return inverse.astype(np.intp, copy=False), int(uniq.size)


def _first_in_group(codes: IntArray, n_groups: int) -> IntArray:
    first = np.full(n_groups, codes.size, dtype=np.intp)
    np.minimum.at(first, codes, np.arange(codes.size))
    return first


def build_stages(
    strata: IntArray,
    stratum_labels: Sequence[object],
    psu_codes: Sequence[IntArray],
    fpc_values: Sequence[FloatArray] | None,
    lonely_psu: str,
) -> tuple[Stage, ...]:
    """Build the stages of a design from factorised codes (see the module docstring).

    Parameters
    ----------
    strata : ndarray of intp, shape (n,)
        Stage-1 stratum codes.
    stratum_labels : sequence
        Label of each stage-1 stratum code (for error messages).
    psu_codes : sequence of ndarray of intp
        One array of cluster codes per stage (not yet nested).
    fpc_values : sequence of ndarray of float64, optional
        One array per stage: population counts (all values > 1) or sampling fractions (all
        values <= 1), as R's ``as.fpc``.
    lonely_psu : str
        ``fail``, ``remove``, ``certainty``, ``adjust`` or ``average``.

    Returns
    -------
    tuple of Stage
        Stage 1, followed by the later stages when FPCs are given (R's ``multistage`` recursion
        only adds later-stage variance with an FPC).

    Raises
    ------
    WeightingError
        Inconsistent FPC within a stratum, more than 100% sampling, or a lonely PSU with
        ``lonely_psu="fail"``.
    """
    n_stages = len(psu_codes)
    is_count = False
    if fpc_values is not None:
        every = np.concatenate([np.asarray(v, dtype=np.float64) for v in fpc_values])
        is_count = bool(np.any(every > 1))
        if is_count and np.any(every < 1):
            bad = float(every[every < 1][0])
            raise WeightingError(
                f"fpc mixes population counts (> 1) and sampling fractions (< 1): got {bad!r} "
                "beside counts; give all stages as counts or all as fractions"
            )
    used = n_stages if fpc_values is not None else 1
    stages: list[Stage] = []
    stratum = strata
    n_strata = int(strata.max(initial=-1)) + 1
    group = np.zeros(n_strata, dtype=np.intp)
    n_groups = 1
    multiplier = np.ones(n_strata)
    for s in range(used):
        # Stage s is stratified by stage s-1's clusters; its clusters nest in its strata.
        cluster, n_clusters = combine_codes(stratum, psu_codes[s])
        first = _first_in_group(cluster, n_clusters)
        cluster_stratum = stratum[first]
        sampled = np.bincount(cluster_stratum, minlength=n_strata).astype(np.intp)
        population: FloatArray | None = None
        f = np.ones(n_strata)
        fraction = np.zeros(n_strata)
        if fpc_values is not None:
            population = _stratum_population(
                np.asarray(fpc_values[s], dtype=np.float64), stratum, n_strata, sampled,
                is_count, s, stratum_labels if s == 0 else None,
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(np.isinf(population), 1.0, (population - sampled) / population)
                fraction = np.where(np.isinf(population), 0.0, sampled / population)
        lonely = (sampled == 1) & (f >= CERTAINTY_TOL)
        if lonely.any() and lonely_psu == "fail":
            h = int(np.flatnonzero(lonely)[0])
            row = int(np.flatnonzero(stratum == h)[0])
            name = stratum_labels[h] if s == 0 else f"the stage-{s} cluster of row {row}"
            raise WeightingError(
                f"Stratum ({name}) has only one PSU at stage {s + 1}; set lonely_psu to "
                "'remove', 'certainty', 'adjust' or 'average' to estimate its variance"
            )
        scale = np.where(sampled > 1, f * sampled / np.maximum(sampled - 1, 1), f)
        scale = np.where(f < CERTAINTY_TOL, 0.0, scale)
        centered = np.ones(n_strata, dtype=bool)
        dropped = np.zeros(n_strata, dtype=bool)
        if lonely_psu in ("remove", "certainty"):
            scale = np.where(lonely, 0.0, scale)
        elif lonely_psu == "adjust":
            centered = ~lonely
        elif lonely_psu == "average":
            dropped = lonely
            scale = np.where(lonely, 0.0, scale)
        stages.append(
            Stage(
                cluster=cluster, n_clusters=n_clusters, cluster_stratum=cluster_stratum,
                n_strata=n_strata, stratum_group=group, n_groups=n_groups, sampled=sampled,
                population=population, coef=multiplier * scale, centered=centered,
                dropped=dropped, fraction=fraction,
            )
        )
        multiplier = (multiplier * fraction)[cluster_stratum]
        stratum, n_strata = cluster, n_clusters
        group, n_groups = np.arange(n_clusters, dtype=np.intp), n_clusters
    return tuple(stages)


def _stratum_population(
    values: FloatArray,
    stratum: IntArray,
    n_strata: int,
    sampled: IntArray,
    is_count: bool,
    stage: int,
    labels: Sequence[object] | None,
) -> FloatArray:
    """Population size per stratum from an FPC column, checked constant within stratum."""

    def name(h: int) -> str:
        return str(labels[h]) if labels is not None else f"cluster {h}"

    if np.any(np.isnan(values)):
        raise WeightingError(f"fpc has missing values at stage {stage + 1}")
    first = _first_in_group(stratum, n_strata)
    per_stratum = values[first]
    varies = values != per_stratum[stratum]
    if varies.any():
        i = int(np.flatnonzero(varies)[0])
        h = int(stratum[i])
        raise WeightingError(
            f"fpc varies within stratum {name(h)!r} at stage {stage + 1}: "
            f"{float(per_stratum[h])!r} and {float(values[i])!r}"
        )
    if np.any(per_stratum < 0):
        h = int(np.flatnonzero(per_stratum < 0)[0])
        raise WeightingError(f"fpc must be >= 0; got {float(per_stratum[h])!r} in stratum {name(h)!r}")
    if is_count:
        population = per_stratum.copy()
    else:
        with np.errstate(divide="ignore"):
            population = np.where(per_stratum == 0, np.inf, sampled / per_stratum)
    too_big = population < sampled
    if too_big.any():
        h = int(np.flatnonzero(too_big)[0])
        raise WeightingError(
            f"fpc implies more than 100% sampling in stratum {name(h)!r} at stage "
            f"{stage + 1}: population {float(population[h])!r}, sampled clusters {int(sampled[h])}"
        )
    return population.astype(np.float64)


def factorize_column(
    data: pd.DataFrame, column: Hashable, argument: str, sort: bool
) -> tuple[IntArray, pd.Index]:
    """Integer codes of a design column; missing values raise :class:`WeightingError`."""
    codes, uniques = pd.factorize(data[column], sort=sort)
    if (codes < 0).any():
        count = int((codes < 0).sum())
        raise WeightingError(f"{argument}: column {column!r} has {count} missing value(s)")
    return codes.astype(np.intp), pd.Index(uniques)


def design_weights(
    data: pd.DataFrame, weights: Hashable | ArrayLike | None, stages: tuple[Stage, ...], has_fpc: bool
) -> FloatArray:
    """Validated sampling weights: a column, an array, or (``None``) R's default.

    Without weights, R's ``svydesign`` uses the product over stages of :math:`N_s / n_s` when
    FPCs are given (``weights(fpc, final=FALSE)``), else equal weights 1.
    """
    n = len(data)
    if weights is None:
        w = np.ones(n)
        if has_fpc:
            for stage in stages:
                pop = stage.sampled.astype(np.float64) if stage.population is None else stage.population
                h = stage.cluster_stratum[stage.cluster]
                w = w * pop[h] / stage.sampled[h]
    elif isinstance(weights, Hashable) and not isinstance(weights, tuple) and weights in data.columns:
        series = data[weights]
        if not pd.api.types.is_numeric_dtype(series.dtype):
            raise WeightingError(f"weights: column {weights!r} is not numeric (dtype {series.dtype})")
        w = series.to_numpy(dtype=np.float64, na_value=np.nan)
    elif isinstance(weights, (str, bytes)):
        raise WeightingError(f"weights: column {weights!r} is not in the data")
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size != n:
            raise WeightingError(f"weights has {w.size} values but data has {n} rows")
    w = np.array(w, dtype=np.float64)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WeightingError(
            f"weights must be finite and >= 0; row {i} has {float(w[i])!r} ({int(bad.sum())} bad value(s))"
        )
    w.setflags(write=False)
    return w
