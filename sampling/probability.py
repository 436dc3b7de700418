"""Inclusion probabilities proportional to size, with certainty units (vectorised over strata)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sampling.errors import SamplingError, shown


def stratum_pps_probabilities(
    size: np.ndarray, codes: np.ndarray, n_h: np.ndarray, labels: Sequence[Any] | None = None
) -> np.ndarray:
    """Inclusion probabilities ``pi_i`` proportional to ``size`` within each stratum code.

    ``size`` must be finite and non-negative, ``codes`` integer codes ``0..H-1`` and ``n_h`` the
    sample size per code (``labels`` name the codes in error messages). Units whose ``pi_i`` reach 1 become certainty units and the remaining
    size is rescaled to the remaining sample size, until no new certainty unit appears; the loop
    runs over certainty rounds (a few), each round one vectorised pass over all units.
    """
    H = len(n_h)
    positive = np.bincount(codes[size > 0], minlength=H)
    short = np.flatnonzero(n_h > positive)
    if len(short):
        h = int(short[0])
        name = shown(labels[h]) if labels is not None else f"code {h}"
        raise SamplingError(
            f"n_h={int(n_h[h])} exceeds the {int(positive[h])} units with a positive size in stratum "
            f"{name}; a size-proportional design cannot draw more units than have size > 0"
        )
    certain = np.zeros(len(size), dtype=bool)
    n_certain: np.ndarray = np.zeros(H, dtype=np.float64)
    while True:
        live_size = np.where(certain, 0.0, size)
        total = np.bincount(codes, weights=live_size, minlength=H)
        remaining = n_h - n_certain
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(total > 0, remaining / total, 0.0)
        pi = live_size * scale[codes]
        new = (pi >= 1.0) & ~certain
        if not new.any():
            pi[certain] = 1.0
            return pi
        certain |= new
        n_certain = np.bincount(codes, weights=certain.astype(np.float64), minlength=H)


def inclusion_probabilities(size: Any, n: int) -> np.ndarray:
    """Inclusion probabilities proportional to ``size`` for a sample of ``n``, with certainty units.

    Parameters
    ----------
    size : array-like
        Non-negative size measures ``x_i``.
    n : int
        Sample size; ``0 <= n <=`` number of units with ``x_i > 0``.

    Returns
    -------
    numpy.ndarray
        ``pi_i`` with ``sum(pi) == n`` and ``0 <= pi_i <= 1``.

    Notes
    -----
    ``pi_i = n x_i / sum_j x_j``; every unit with ``pi_i >= 1`` gets ``pi_i = 1`` and the others are
    recomputed as ``(n - n_1) x_i / sum_{j not certain} x_j``, repeated until stable. This is the
    algorithm of R ``sampling::inclusionprobabilities`` (Tillé 2006, *Sampling Algorithms*, §2.10;
    Tillé & Matei, R package ``sampling``).

    Examples
    --------
    >>> inclusion_probabilities([1, 1, 2, 20], 2).round(4).tolist()
    [0.25, 0.25, 0.5, 1.0]
    """
    x = np.asarray(size, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)) or np.any(x < 0):
        raise SamplingError("size must be a one-dimensional array of finite non-negative numbers")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise SamplingError(f"n must be a non-negative integer, got {n!r}")
    return stratum_pps_probabilities(
        x, np.zeros(len(x), dtype=np.intp), np.array([float(n)]), labels=["all"]
    )
