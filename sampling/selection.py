"""Vectorised selection kernels: stratum codes in, selected positions and probabilities out.

Every kernel works on the whole frame at once (no loop over strata or rows) and consumes the
random generator in a documented, machine-independent way, so that a seed reproduces a sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sampling.probability import stratum_pps_probabilities


def _stratum_order(codes: np.ndarray, H: int) -> np.ndarray:
    """Stable permutation that groups units by stratum code, frame order kept within a stratum.

    Frames already sorted by stratum (common for register extracts) skip the sort.
    """
    if len(codes) == 0 or bool(np.all(codes[1:] >= codes[:-1])):
        return np.arange(len(codes))
    small = codes.astype(np.int16) if np.iinfo(np.int16).max >= H else codes
    return np.argsort(small, kind="stable")  # radix sort for 16-bit codes: O(N)


def srswor(
    codes: np.ndarray, N_h: np.ndarray, n_h: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Stratified simple random sampling without replacement; returns sorted positions.

    One uniform key per unit (``rng.random(N)`` in frame order); stratum ``h`` keeps the ``n_h``
    units with the smallest keys (a random permutation's first ``n_h``, Tillé 2006 §4.4). Only units
    whose key lies below a generous per-stratum threshold are sorted, so the cost is O(N); strata
    where the threshold yields too few candidates are completed from all their units, which does
    not change the result (the smallest keys are the same).
    """
    keys = rng.random(len(codes))
    n_f = n_h.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cut = np.where(N_h > 0, (n_f + 5.0 * np.sqrt(n_f) + 10.0) / N_h, 0.0)
    cut = np.where(n_h >= N_h, 2.0, np.minimum(cut, 2.0))
    candidate = keys < cut[codes]
    found = np.bincount(codes[candidate], minlength=len(n_h))
    short = found < n_h
    if short.any():
        candidate |= short[codes]
    idx = np.flatnonzero(candidate)
    cand_codes = codes[idx]
    order = np.lexsort((keys[idx], cand_codes))
    sorted_codes = cand_codes[order]
    counts = np.bincount(sorted_codes, minlength=len(n_h))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    rank = np.arange(len(idx)) - starts[sorted_codes]
    chosen = idx[order[rank < n_h[sorted_codes]]]
    return np.sort(chosen)


def systematic(
    codes: np.ndarray, N_h: np.ndarray, n_h: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Stratified equal-probability systematic sampling in frame order; returns sorted positions.

    One uniform start per stratum (``rng.random(H)``): ``t_h = u_h N_h`` and the selected
    within-stratum ranks are ``floor((t_h + j N_h) / n_h)``, ``j = 0..n_h-1``, i.e. the fractional
    interval ``k = N_h / n_h`` with a random start in ``[0, k)`` (Cochran 1977 §8.1; Madow & Madow
    1944), which selects exactly ``n_h`` units each with probability ``n_h / N_h``. Some pairs of
    units are never selected together (zero joint probabilities), as in every systematic design;
    variance estimators then treat the sample as a stratified SRS (Wolter 2007, ch. 8).
    """
    H = len(n_h)
    u = rng.random(H)
    order = _stratum_order(codes, H)
    starts = np.concatenate(([0], np.cumsum(N_h)[:-1]))
    stratum = np.repeat(np.arange(H), n_h)
    first = np.concatenate(([0], np.cumsum(n_h)[:-1]))
    j = np.arange(int(n_h.sum())) - first[stratum]
    t = (u * N_h)[stratum]
    rank = np.floor((t + j * N_h[stratum].astype(np.float64)) / n_h[stratum]).astype(np.int64)
    rank = np.minimum(rank, N_h[stratum] - 1)
    return np.sort(order[starts[stratum] + rank])


def pps_systematic(
    codes: np.ndarray, pi: np.ndarray, n_h: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Stratified systematic PPS sampling in frame order given inclusion probabilities ``pi``.

    Certainty units (``pi == 1``) are always selected. For the others, the cumulated
    probabilities ``V_i`` within a stratum are cut at ``u_h + j``, ``u_h`` uniform in ``(0, 1]``
    (``1 - rng.random(H)``), ``j = 0..m_h-1``: unit ``i`` is selected when ``V_{i-1} < u_h + j <= V_i``
    (Madow 1949; R ``sampling::UPsystematic``; Tillé 2006 §7.2), exactly ``m_h = n_h - certainty``
    units. Joint inclusion probabilities depend on the frame order and some are zero; the usual
    with-replacement (Hansen-Hurwitz type) variance approximation applies (Wolter 2007, ch. 8).
    """
    H = len(n_h)
    u = 1.0 - rng.random(H)
    if len(codes) == 0:
        return np.zeros(0, dtype=np.intp)
    certain = pi >= 1.0
    order = _stratum_order(codes, H)
    live = np.where(certain, 0.0, pi)[order]
    cum = np.cumsum(live)
    del live
    N_h = np.bincount(codes, minlength=H)
    ends = np.cumsum(N_h)
    starts = ends - N_h
    base = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    m_h = n_h - np.bincount(codes[certain], minlength=H)
    stratum = np.repeat(np.arange(H), m_h)
    first = np.concatenate(([0], np.cumsum(m_h)[:-1]))
    j = np.arange(int(m_h.sum())) - first[stratum]
    # The cumulated probabilities of a stratum span (V_0, V_N] = (base, end]; the points are laid
    # on the span as computed in floating point, so that rounding in the running sum can never
    # push the last point past the stratum's end (its exact length is m_h).
    end = np.where(ends > 0, cum[np.maximum(ends - 1, 0)], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        step = np.where(m_h > 0, (end - base) / np.maximum(m_h, 1), 0.0)
    points = base[stratum] + (u[stratum] + j) * step[stratum]
    hit = np.searchsorted(cum, points, side="left")
    hit = np.clip(hit, starts[stratum], ends[stratum] - 1)
    chosen = np.concatenate((order[hit], np.flatnonzero(certain)))
    return np.sort(chosen)


def pps_probabilities(
    size: np.ndarray, codes: np.ndarray, n_h: np.ndarray, labels: Sequence[Any] | None = None
) -> np.ndarray:
    """Inclusion probabilities proportional to ``size`` within strata (see ``probability``)."""
    return stratum_pps_probabilities(size, codes, n_h.astype(np.float64), labels)


def poisson(pi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson sampling: unit ``i`` is selected when ``rng.random(N)[i] < pi_i`` (Hájek 1964)."""
    return np.flatnonzero(rng.random(len(pi)) < pi)
