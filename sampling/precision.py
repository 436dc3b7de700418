"""Sample sizes for estimating a proportion to a given margin of error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from sampling.errors import SamplingError

_ROUNDING_SLACK = 1e-9  # 384.0000000001 from floating error must not round up to 385


def _per_stratum(value: Any, index: pd.Index, name: str) -> np.ndarray:
    if isinstance(value, Mapping | pd.Series):
        series = pd.Series(value) if isinstance(value, Mapping) else value
        missing = index.difference(series.index)
        if len(missing):
            raise SamplingError(f"{name} has no value for strata {missing.tolist()[:5]}")
        return pd.to_numeric(series.reindex(index), errors="coerce").to_numpy(dtype=np.float64)
    try:
        return np.full(len(index), float(value))
    except (TypeError, ValueError) as exc:
        raise SamplingError(
            f"{name} must be a number or a mapping stratum -> number, got {value!r}"
        ) from exc


def _check_open(
    values: np.ndarray, name: str, low: float, high: float, high_closed: bool = False
) -> None:
    ok = (
        np.isfinite(values)
        & (values > low)
        & ((values <= high) if high_closed else (values < high))
    )
    if not ok.all():
        bracket = "]" if high_closed else ")"
        raise SamplingError(f"{name} must lie in ({low}, {high}{bracket}, got {values[~ok][0]!r}")


def _sizes(
    margin: np.ndarray,
    level: np.ndarray,
    p: np.ndarray,
    deff: np.ndarray,
    response_rate: np.ndarray,
    population: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _check_open(margin, "margin", 0.0, 1.0)
    _check_open(level, "level", 0.0, 1.0)
    _check_open(p, "p", 0.0, 1.0)
    _check_open(deff, "deff", 0.0, np.inf)
    _check_open(response_rate, "response_rate", 0.0, 1.0, high_closed=True)
    z = -ndtri((1.0 - level) / 2.0)  # normal quantile 1 - alpha/2, as scipy.stats.norm.isf
    n0 = z**2 * p * (1.0 - p) / margin**2 * deff
    if population is None:
        n = n0
    else:
        if (
            not np.all(np.isfinite(population))
            or np.any(population < 1)
            or np.any(population != np.floor(population))
        ):
            raise SamplingError(
                f"population must be positive integers, got {population.tolist()[:5]}"
            )
        n = n0 / (1.0 + (n0 - 1.0) / population)
    n_complete = np.ceil(n - _ROUNDING_SLACK)
    issued = np.ceil(n_complete / response_rate - _ROUNDING_SLACK)
    if population is not None:
        issued = np.minimum(issued, population)
    return n0, n_complete.astype(np.int64), issued.astype(np.int64)


def sample_size(
    margin: float,
    *,
    level: float = 0.95,
    p: float = 0.5,
    deff: float = 1.0,
    response_rate: float = 1.0,
    population: int | None = None,
) -> int:
    """Sample size to estimate a proportion within ``± margin`` at confidence ``level``.

    Parameters
    ----------
    margin : float
        Half-width of the confidence interval on the proportion scale, in (0, 1).
    level : float
        Confidence level, in (0, 1).
    p : float
        Anticipated proportion (0.5 is the conservative choice).
    deff : float
        Design effect of the planned design.
    response_rate : float
        Expected response rate, in (0, 1]; the result is the number of units to issue.
    population : int, optional
        Population size ``N`` for the finite population correction.

    Returns
    -------
    int
        Units to select (issue), never more than ``population`` when it is given.

    Notes
    -----
    ``n0 = z^2 p (1 - p) / e^2 * deff`` with ``z = Phi^{-1}(1 - (1 - level) / 2)``;
    with the FPC ``n = n0 / (1 + (n0 - 1) / N)`` (Cochran 1977, *Sampling Techniques*, eq. 4.1-4.2);
    ``ceil``; then divided by the response rate and ``ceil`` again (Lohr 2022 §2.7, §8.1; Kish 1965
    for ``deff``). A slack of ``1e-9`` keeps floating error from adding a unit.

    Examples
    --------
    >>> sample_size(0.05)
    385
    >>> sample_size(0.05, population=1000)
    278
    >>> sample_size(0.03, deff=1.5, response_rate=0.6)
    2669
    """
    population_array = None if population is None else np.array([population], dtype=np.float64)
    _, _, issued = _sizes(
        np.array([margin], dtype=np.float64),
        np.array([level], dtype=np.float64),
        np.array([p], dtype=np.float64),
        np.array([deff], dtype=np.float64),
        np.array([response_rate], dtype=np.float64),
        population_array,
    )
    return int(issued[0])


def sample_size_table(
    population: Mapping[Any, int] | pd.Series,
    margin: float | Mapping[Any, float] | pd.Series,
    *,
    level: float = 0.95,
    p: float | Mapping[Any, float] | pd.Series = 0.5,
    deff: float | Mapping[Any, float] | pd.Series = 1.0,
    response_rate: float | Mapping[Any, float] | pd.Series = 1.0,
) -> pd.DataFrame:
    """Per-stratum sample sizes when each stratum must reach its own margin of error.

    Parameters
    ----------
    population : mapping or Series
        Stratum -> ``N_h``.
    margin, p, deff, response_rate : float or mapping
        As in :func:`sample_size`, one value for all strata or one per stratum.
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``stratum``, ``population``, ``margin``, ``p``, ``deff``, ``response_rate``, ``n0``
        (before the FPC, unrounded), ``n`` (completed interviews needed) and ``n_issued`` (to
        select); a final row is not added, sum the columns for totals.

    Notes
    -----
    The formula of :func:`sample_size` applied to every stratum in one vectorised pass:
    ``n0_h = z^2 p_h (1 - p_h) / e_h^2 * deff_h``, ``n_h = ceil(n0_h / (1 + (n0_h - 1) / N_h))``,
    ``n_issued_h = min(ceil(n_h / r_h), N_h)`` (Cochran 1977 eq. 4.1-4.2), e.g. for domain
    estimates by county or institution (each stratum a reporting domain).

    Examples
    --------
    >>> t = sample_size_table({"A": 1000, "B": 50000}, 0.05, response_rate=0.8)
    >>> t[["stratum", "n", "n_issued"]].values.tolist()
    [['A', 278, 348], ['B', 382, 478]]
    """
    if isinstance(population, Mapping):
        counts = pd.Series(dict(population))
    elif isinstance(population, pd.Series):
        counts = population
    else:
        raise SamplingError(
            f"population must be a mapping or Series stratum -> N_h, got {type(population).__name__}"
        )
    index = pd.Index(counts.index)
    N = pd.to_numeric(counts, errors="coerce").to_numpy(dtype=np.float64)
    values = {
        "margin": _per_stratum(margin, index, "margin"),
        "p": _per_stratum(p, index, "p"),
        "deff": _per_stratum(deff, index, "deff"),
        "response_rate": _per_stratum(response_rate, index, "response_rate"),
    }
    n0, n, issued = _sizes(
        values["margin"],
        np.full(len(index), float(level)),
        values["p"],
        values["deff"],
        values["response_rate"],
        N,
    )
    return pd.DataFrame(
        {
            "stratum": index,
            "population": N.astype(np.int64),
            **values,
            "n0": n0,
            "n": n,
            "n_issued": issued,
        }
    )
