"""Drawing samples from a frame: the public ``draw`` and ``draw_sample`` entry points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sampling import selection
from sampling.allocation import allocate
from sampling.errors import SamplingError, shown
from sampling.frame import require_frame, size_values, stratum_codes, stratum_sizes_from_mapping
from sampling.manifest import ALGORITHM_VERSION, Manifest, frame_hash, resolve_rng

METHODS = ("srswor", "systematic", "pps_systematic", "poisson", "bernoulli")
ADDED_COLUMNS = ("inclusion_probability", "design_weight", "stratum_population")


@dataclass(frozen=True)
class Sample:
    """A drawn sample with its allocation table and audit manifest.

    Attributes
    ----------
    units : pandas.DataFrame
        Selected rows (frame order, frame index) plus ``inclusion_probability``, ``design_weight``
        and ``stratum_population``.
    allocation : pandas.DataFrame
        One row per stratum: ``stratum``, ``population`` (N_h), ``n`` (allocated or expected
        n_h) and ``selected`` (realised count).
    manifest : Manifest
        Seed, method, allocation, frame hash, algorithm and library versions.
    """

    units: pd.DataFrame
    allocation: pd.DataFrame
    manifest: Manifest


def _stratum_sizes(
    n: Any,
    labels: pd.Index,
    N_h: np.ndarray,
    strata: str | Sequence[str] | None,
    options: dict[str, Any],
) -> np.ndarray:
    if isinstance(n, Mapping | pd.Series):
        if strata is None:
            raise SamplingError("n is a mapping stratum -> n_h but strata is None")
        n_h = stratum_sizes_from_mapping(n, labels)
    else:
        n_h = allocate(pd.Series(N_h, index=labels), n, **options).to_numpy()
    over = np.flatnonzero(n_h > N_h)
    if len(over):
        h = int(over[0])
        raise SamplingError(
            f"n_h={int(n_h[h])} exceeds the stratum population N_h={int(N_h[h])} in stratum "
            f"{shown(labels[h])}"
        )
    return n_h


def draw_sample(
    frame: pd.DataFrame,
    n: int | Mapping[Any, int] | pd.Series,
    *,
    strata: str | Sequence[str] | None = None,
    method: str = "srswor",
    size: str | None = None,
    allocation: str = "proportional",
    sd: Mapping[Any, float] | pd.Series | None = None,
    cost: Mapping[Any, float] | pd.Series | None = None,
    power: float = 0.5,
    min_n: int = 0,
    max_n: int | Mapping[Any, int] | None = None,
    rng: Any = None,
) -> Sample:
    """Draw a (stratified) probability sample and return it with its manifest.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per population unit.
    n : int or mapping
        Total sample size (allocated with ``allocation``) or stratum -> ``n_h``. For ``poisson``
        and ``bernoulli`` the expected sample size.
    strata : str or list of str, optional
        Stratum column(s), as in :func:`draw`.
    method : {"srswor", "systematic", "pps_systematic", "poisson", "bernoulli"}
        Selection method within strata, see :mod:`sampling.selection`.
    size : str, optional
        Size-measure column for ``pps_systematic`` and ``poisson``.
    allocation, sd, cost, power, min_n, max_n
        Passed to :func:`sampling.allocate` when ``n`` is a total; allocation uses the stratum
        counts ``N_h``.
    rng : None, int or numpy.random.Generator
        Passed through :func:`numpy.random.default_rng`.

    Returns
    -------
    Sample

    Notes
    -----
    ``pi_i = n_h / N_h`` for ``srswor``, ``systematic`` and ``bernoulli``; for ``pps_systematic`` and
    ``poisson`` ``pi_i`` is proportional to size with iterated certainty units
    (:func:`sampling.inclusion_probabilities`). ``design_weight = 1 / pi_i`` (Horvitz & Thompson
    1952). ``stratum_population`` is ``N_h`` (``N`` without strata), the FPC input of a design.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": range(10), "region": ["a"] * 6 + ["b"] * 4})
    >>> s = draw_sample(frame, 5, strata="region", rng=1)
    >>> s.allocation[["stratum", "population", "n", "selected"]].values.tolist()
    [['a', 6, 3, 3], ['b', 4, 2, 2]]
    >>> s.manifest.seed
    1
    """
    units, table, seed, state, parameters = _select(
        frame,
        n,
        strata=strata,
        method=method,
        size=size,
        allocation=allocation,
        sd=sd,
        cost=cost,
        power=power,
        min_n=min_n,
        max_n=max_n,
        rng=rng,
    )
    records = table.assign(stratum=table["stratum"].astype(str)).to_dict("records")
    manifest = Manifest(
        method=method,
        seed=seed,
        rng_state=state,
        input_hashes={"frame": frame_hash(frame)},
        parameters=parameters,
        allocation=[{str(k): v for k, v in record.items()} for record in records],
    )
    return Sample(units=units, allocation=table, manifest=manifest)


def draw(
    frame: pd.DataFrame,
    n: int | Mapping[Any, int] | pd.Series,
    *,
    strata: str | Sequence[str] | None = None,
    method: str = "srswor",
    size: str | None = None,
    allocation: str = "proportional",
    sd: Mapping[Any, float] | pd.Series | None = None,
    cost: Mapping[Any, float] | pd.Series | None = None,
    power: float = 0.5,
    min_n: int = 0,
    max_n: int | Mapping[Any, int] | None = None,
    rng: Any = None,
) -> pd.DataFrame:
    """Draw a (stratified) probability sample: the selected rows with their design columns.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per population unit.
    n : int or mapping
        Total sample size (allocated over ``strata`` with ``allocation``) or stratum -> ``n_h``.
        For ``poisson`` and ``bernoulli`` the expected sample size.
    strata : str or list of str, optional
        Stratum column, or several columns whose observed combinations are the strata (labels
        are tuples, e.g. for ``n`` mappings); missing values are rejected.
    method : {"srswor", "systematic", "pps_systematic", "poisson", "bernoulli"}
        Selection method within strata (:mod:`sampling.selection`); ``systematic`` and
        ``pps_systematic`` follow frame order.
    size : str, optional
        Size-measure column (finite, >= 0) for ``pps_systematic`` and ``poisson``.
    allocation : str
        Allocation method of :func:`sampling.allocate` when ``n`` is a total (on the ``N_h``).
    sd, cost, power, min_n, max_n
        Passed to :func:`sampling.allocate`.
    rng : None, int or numpy.random.Generator
        Passed through :func:`numpy.random.default_rng`; the same seed and frame give the same
        rows on every machine.

    Returns
    -------
    pandas.DataFrame
        Selected rows in frame order (frame index kept) with ``inclusion_probability``,
        ``design_weight`` (``1/pi``) and ``stratum_population`` (``N_h``) added. The same rows as
        ``draw_sample(...).units``; use :func:`draw_sample` for the allocation table and manifest.

    Raises
    ------
    SamplingError
        Missing columns, negative or missing sizes, missing strata, ``n_h > N_h``, infeasible
        allocations; the message names the argument and the bad value.

    Notes
    -----
    ``pi_i = n_h / N_h`` for ``srswor``, ``systematic`` and ``bernoulli``; for ``pps_systematic`` and
    ``poisson`` ``pi_i = n_h x_i / sum_h x`` with iterated certainty units (Tillé 2006,
    *Sampling Algorithms*, §2.10). ``design_weight = 1 / pi_i`` (Horvitz & Thompson 1952, JASA 47).

    Examples
    --------
    >>> frame = pd.DataFrame({"id": range(8), "size": [1, 1, 1, 1, 2, 2, 4, 20]})
    >>> s = draw(frame, 3, method="pps_systematic", size="size", rng=7)
    >>> len(s), float(s["inclusion_probability"].max())
    (3, 1.0)
    """
    return _select(
        frame,
        n,
        strata=strata,
        method=method,
        size=size,
        allocation=allocation,
        sd=sd,
        cost=cost,
        power=power,
        min_n=min_n,
        max_n=max_n,
        rng=rng,
    )[0]


def _select(
    frame: pd.DataFrame,
    n: int | Mapping[Any, int] | pd.Series,
    *,
    strata: str | Sequence[str] | None = None,
    method: str = "srswor",
    size: str | None = None,
    allocation: str = "proportional",
    sd: Mapping[Any, float] | pd.Series | None = None,
    cost: Mapping[Any, float] | pd.Series | None = None,
    power: float = 0.5,
    min_n: int = 0,
    max_n: int | Mapping[Any, int] | None = None,
    rng: Any = None,
) -> tuple[pd.DataFrame, pd.DataFrame, int | None, dict[str, Any] | None, dict[str, Any]]:
    frame = require_frame(frame)
    if method not in METHODS:
        raise SamplingError(f"method must be one of {METHODS}, got {method!r}")
    clash = [c for c in ADDED_COLUMNS if c in frame.columns]
    if clash:
        raise SamplingError(f"frame already has the output columns {clash}; rename them first")
    generator, seed, state = resolve_rng(rng)
    codes, labels = stratum_codes(frame, strata)
    H = len(labels)
    N_h = np.bincount(codes, minlength=H).astype(np.int64)
    options = {
        "method": allocation,
        "sd": sd,
        "cost": cost,
        "power": power,
        "min_n": min_n,
        "max_n": max_n,
    }
    n_h = _stratum_sizes(n, labels, N_h, strata, options)

    if method in ("pps_systematic", "poisson"):
        pi_all = selection.pps_probabilities(
            size_values(frame, size, method), codes, n_h, labels.tolist()
        )
        if method == "pps_systematic":
            positions = selection.pps_systematic(codes, pi_all, n_h, generator)
        else:
            positions = selection.poisson(pi_all, generator)
        pi = pi_all[positions]
        del pi_all
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(N_h > 0, n_h / np.maximum(N_h, 1), 0.0)
        if method == "srswor":
            positions = selection.srswor(codes, N_h, n_h, generator)
        elif method == "systematic":
            positions = selection.systematic(codes, N_h, n_h, generator)
        else:
            positions = selection.poisson(rate[codes], generator)
        pi = rate[codes[positions]]

    units = frame.take(positions)
    selected_codes = codes[positions]
    units["inclusion_probability"] = pi
    units["design_weight"] = 1.0 / pi
    units["stratum_population"] = N_h[selected_codes]
    table = pd.DataFrame(
        {
            "stratum": labels,
            "population": N_h,
            "n": n_h,
            "selected": np.bincount(selected_codes, minlength=H),
        }
    )
    parameters = {
        "n": n
        if not isinstance(n, Mapping | pd.Series)
        else {str(k): int(v) for k, v in dict(n).items()},
        "strata": strata if strata is None or isinstance(strata, str) else list(strata),
        "method": method,
        "size": size,
        **{k: v for k, v in options.items() if k not in ("sd", "cost", "max_n")},
        "sd": None if sd is None else {str(k): float(v) for k, v in dict(sd).items()},
        "cost": None if cost is None else {str(k): float(v) for k, v in dict(cost).items()},
        "max_n": max_n
        if not isinstance(max_n, Mapping | pd.Series)
        else {str(k): int(v) for k, v in dict(max_n).items()},
    }
    return units, table, seed, state, parameters


def replay_sample(manifest: Manifest, frame: pd.DataFrame) -> Sample:
    """Re-draw a sample recorded by :func:`draw_sample`, after checking the frame is unchanged.

    Parameters
    ----------
    manifest : Manifest
        ``Sample.manifest`` of the original draw (e.g. reloaded from its JSON).
    frame : pandas.DataFrame
        The frame snapshot; its :func:`sampling.frame_hash` must equal the recorded one.

    Returns
    -------
    Sample
        The same units and allocation as the original draw, with the original manifest.

    Raises
    ------
    SamplingError
        Another algorithm version, a manifest of another kind, or a frame that changed.

    Notes
    -----
    The recorded per-stratum sizes ``n_h`` (not the allocation inputs) and the recorded seed or
    generator state are reused, so the selection is repeated exactly (same kernel, same random
    stream; see :mod:`sampling.selection`).

    Examples
    --------
    >>> frame = pd.DataFrame({"id": range(30), "h": ["a", "b", "c"] * 10})
    >>> first = draw_sample(frame, 6, strata="h", rng=3)
    >>> replay_sample(first.manifest, frame).units.equals(first.units)
    True
    """
    if manifest.algorithm != ALGORITHM_VERSION:
        raise SamplingError(
            f"manifest.algorithm={manifest.algorithm!r} differs from this library's "
            f"{ALGORITHM_VERSION!r}; replay with the library version that made the draw"
        )
    if manifest.method not in METHODS:
        raise SamplingError(
            f"manifest.method={manifest.method!r} is not a draw_sample method {METHODS}"
        )
    if frame_hash(require_frame(frame)) != manifest.input_hashes.get("frame"):
        raise SamplingError("the frame differs from the one recorded in the manifest")
    parameters = manifest.parameters
    strata = parameters["strata"]
    recorded = pd.DataFrame(manifest.allocation)
    if strata is None:
        n: int | pd.Series = int(recorded["n"].sum())
    else:
        _, labels = stratum_codes(frame, strata)
        sizes = recorded.set_index("stratum")["n"].reindex(pd.Index(labels.map(str)))
        n = pd.Series(sizes.to_numpy(), index=labels)
    sample = draw_sample(
        frame,
        n,
        strata=strata,
        method=manifest.method,
        size=parameters["size"],
        rng=manifest.generator(),
    )
    return Sample(units=sample.units, allocation=sample.allocation, manifest=manifest)
