"""Allocation of a total sample size to strata (proportional, equal, Neyman, optimal, power)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sampling.errors import SamplingError

ALLOCATION_METHODS = ("proportional", "equal", "neyman", "optimal", "power")


def _as_series(values: Any, name: str) -> pd.Series:
    if isinstance(values, pd.Series):
        series = values.copy()
    elif isinstance(values, Mapping):
        keys = pd.Index(list(values.keys()), tupleize_cols=False)  # tuple keys stay tuples
        series = pd.Series(list(values.values()), index=keys)
    else:
        raise SamplingError(
            f"{name} must be a mapping or a pandas Series stratum -> value, got {type(values).__name__}"
        )
    if isinstance(series.index, pd.MultiIndex):
        series.index = series.index.to_flat_index()
    if series.index.has_duplicates:
        dup = series.index[series.index.duplicated()].tolist()[:5]
        raise SamplingError(f"{name} has duplicated strata: {dup}")
    return series


def _aligned(values: Any, index: pd.Index, name: str) -> np.ndarray:
    """Per-stratum float values of ``values`` (scalar or mapping) aligned on ``index``."""
    if np.isscalar(values):
        out = np.full(len(index), float(values))  # type: ignore[arg-type]
    else:
        series = _as_series(values, name)
        missing = index.difference(series.index)
        if len(missing):
            raise SamplingError(f"{name} has no value for strata {missing.tolist()[:5]}")
        out = pd.to_numeric(series.reindex(index), errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(out)):
        bad = index[~np.isfinite(out)].tolist()[:5]
        raise SamplingError(f"{name} must be finite numbers; strata {bad} are not")
    return out


def _bounded_proportional(
    target: np.ndarray, lower: np.ndarray, upper: np.ndarray, n: int
) -> np.ndarray:
    """Solve ``sum(clip(lam * target, lower, upper)) == n`` for ``lam`` and return the clipped values."""

    def total(lam: float) -> float:
        return float(np.clip(lam * target, lower, upper).sum())

    hi = 1.0
    while total(hi) < n and hi < 1e300:
        hi *= 2.0
    lo = 0.0
    for _ in range(200):  # bisection on the monotone, piecewise-linear total
        mid = 0.5 * (lo + hi)
        if total(mid) < n:
            lo = mid
        else:
            hi = mid
    # Exact solve on the linear piece: strata strictly between their bounds share the remainder.
    values = np.clip(hi * target, lower, upper)
    free = (values > lower) & (values < upper) & (target > 0)
    if free.any():
        fixed = values[~free].sum()
        lam = (n - fixed) / target[free].sum()
        values[free] = np.clip(lam * target[free], lower[free], upper[free])
    return values


def _round_largest_remainder(values: np.ndarray, upper: np.ndarray, n: int) -> np.ndarray:
    """Integer allocation with the exact total ``n``: floors plus one unit for the largest remainders."""
    floors = np.floor(values + 1e-9).astype(np.int64)
    floors = np.minimum(floors, upper.astype(np.int64))
    short = n - int(floors.sum())
    if short > 0:
        remainder = np.where(floors < upper, values - floors, -np.inf)
        order = np.lexsort((np.arange(len(values)), -remainder))  # largest first, ties by position
        floors[order[:short]] += 1
    return floors


def allocate(
    population: Mapping[Any, int] | pd.Series,
    n: int,
    *,
    method: str = "proportional",
    sd: Mapping[Any, float] | pd.Series | None = None,
    cost: Mapping[Any, float] | pd.Series | None = None,
    power: float = 0.5,
    min_n: int = 0,
    max_n: int | Mapping[Any, int] | pd.Series | None = None,
) -> pd.Series:
    """Allocate a total sample size ``n`` to strata.

    Parameters
    ----------
    population : mapping or Series
        Stratum label -> population count ``N_h`` (non-negative integers).
    n : int
        Total sample size; the result sums to exactly ``n``.
    method : {"proportional", "equal", "neyman", "optimal", "power"}
        Allocation rule, see Notes.
    sd : mapping or Series, optional
        Stratum standard deviations ``S_h``; required for ``neyman`` and ``optimal``. For ``power``
        it is read as the stratum coefficient of variation ``C_h`` (default 1).
    cost : mapping or Series, optional
        Cost per interview ``c_h``; required for ``optimal``.
    power : float
        Exponent ``q`` of the power allocation (0 = equal, 1 = proportional).
    min_n : int
        Minimum per stratum. A stratum with ``N_h < min_n`` takes all its ``N_h`` units (a census
        stratum).
    max_n : int or mapping, optional
        Maximum per stratum (scalar or per stratum). ``N_h`` is always an upper bound.

    Returns
    -------
    pandas.Series
        Stratum -> ``n_h`` (int64), in the order of ``population``, named ``"n"``.

    Raises
    ------
    SamplingError
        Unknown method, negative counts, ``n > sum N_h``, minimums that exceed ``n``, maximums
        below ``n``, or a missing/invalid ``sd``/``cost``.

    Notes
    -----
    Target shares ``a_h`` (Cochran 1977, *Sampling Techniques*, 3rd ed., §5.5 and §5.9; Lohr 2022,
    *Sampling: Design and Analysis*, 3rd ed., §3.4; Bankier 1988, *Am. Stat.* 42(3):174-177):

    - proportional: ``a_h = N_h``; equal: ``a_h = 1`` (non-empty strata);
    - neyman: ``a_h = N_h S_h``; optimal: ``a_h = N_h S_h / sqrt(c_h)``;
    - power (Bankier): ``a_h = C_h N_h^q``.

    The continuous allocation is ``x_h = clip(lambda a_h, L_h, U_h)`` with ``L_h = min(min_n, N_h)``,
    ``U_h = min(max_n, N_h)`` and ``lambda`` solving ``sum_h x_h = n``; capped strata thereby hand
    their excess to the others (Cochran §5.9, over-allocation). Integers come from largest-remainder
    (Hamilton) rounding of ``x_h`` within the bounds, ties broken by stratum order, so the total is
    exactly ``n``. Strata with a zero share (e.g. ``S_h = 0``) get their minimum, unless the
    other strata are exhausted; the remainder is then spread over them proportionally to ``N_h``.

    Examples
    --------
    >>> allocate({"a": 500, "b": 300, "c": 200}, 100).tolist()
    [50, 30, 20]
    >>> allocate({"a": 1000, "b": 1000}, 100, method="neyman", sd={"a": 1.0, "b": 3.0}).tolist()
    [25, 75]
    >>> allocate({"a": 5, "b": 995}, 50, min_n=10).tolist()
    [5, 45]
    """
    counts = _as_series(population, "population")
    if method not in ALLOCATION_METHODS:
        raise SamplingError(f"method must be one of {ALLOCATION_METHODS}, got {method!r}")
    N = pd.to_numeric(counts, errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(N)) or np.any(N < 0) or np.any(np.floor(N) != N):
        bad = counts.index[~(np.isfinite(N) & (N >= 0) & (np.floor(N) == N))].tolist()[:5]
        raise SamplingError(
            f"population counts must be non-negative integers; strata {bad} are not"
        )
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise SamplingError(f"n must be a non-negative integer, got {n!r}")
    if isinstance(min_n, bool) or not isinstance(min_n, int | np.integer) or min_n < 0:
        raise SamplingError(f"min_n must be a non-negative integer, got {min_n!r}")
    n = int(n)
    index = counts.index
    if n > N.sum():
        raise SamplingError(f"n={n} exceeds the population size sum(N_h)={int(N.sum())}")

    if method in ("neyman", "optimal"):
        if sd is None:
            raise SamplingError(f"method={method!r} needs sd (stratum standard deviations)")
        S = _aligned(sd, index, "sd")
        if np.any(S < 0):
            raise SamplingError(
                f"sd must be non-negative; strata {index[S < 0].tolist()[:5]} are not"
            )
        target = N * S
        if method == "optimal":
            if cost is None:
                raise SamplingError("method='optimal' needs cost (cost per unit in each stratum)")
            c = _aligned(cost, index, "cost")
            if np.any(c <= 0):
                raise SamplingError(
                    f"cost must be positive; strata {index[c <= 0].tolist()[:5]} are not"
                )
            target = target / np.sqrt(c)
    elif method == "power":
        C = np.ones(len(N)) if sd is None else _aligned(sd, index, "sd")
        if np.any(C < 0):
            raise SamplingError(
                f"sd must be non-negative; strata {index[C < 0].tolist()[:5]} are not"
            )
        if not np.isfinite(power) or power < 0:
            raise SamplingError(f"power must be a non-negative number, got {power!r}")
        target = C * np.where(N > 0, N, 0.0) ** power
    elif method == "equal":
        target = (N > 0).astype(float)
    else:
        target = N.copy()

    lower = np.minimum(float(min_n), N)
    upper = N.copy() if max_n is None else np.minimum(np.floor(_aligned(max_n, index, "max_n")), N)
    if np.any(upper < lower):
        bad = index[upper < lower].tolist()[:5]
        raise SamplingError(f"max_n is below min_n={min_n} in strata {bad}")
    if lower.sum() > n:
        raise SamplingError(
            f"min_n={min_n} per stratum needs {int(lower.sum())} units over {len(N)} strata, more than n={n}"
        )
    if upper.sum() < n:
        raise SamplingError(f"max_n caps the total at {int(upper.sum())} units, less than n={n}")
    share = target > 0
    if upper[share].sum() + lower[~share].sum() >= n:
        values = _bounded_proportional(target, lower, upper, n)
    else:  # strata with a positive share are exhausted: the zero-share strata take the rest
        values = _bounded_proportional(
            np.where(share, 0.0, N), np.where(share, upper, lower), upper, n
        )
    result = _round_largest_remainder(values, upper, n)
    return pd.Series(result, index=index, name="n", dtype="int64")
