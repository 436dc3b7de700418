"""Two-stage sampling: primary sampling units (PSUs) first, then units within selected PSUs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from sampling import selection
from sampling.errors import SamplingError, shown
from sampling.frame import require_column, require_frame, stratum_codes, stratum_sizes_from_mapping
from sampling.manifest import ALGORITHM_VERSION, Manifest, frame_hash, resolve_rng
from sampling.sample import Sample, draw_sample

STAGE_COLUMNS = (
    "stage1_inclusion_probability",
    "stage1_population",
    "stage2_inclusion_probability",
    "stage2_population",
    "inclusion_probability",
    "design_weight",
)
UNIT_METHODS = ("srswor", "systematic", "bernoulli")


def _psu_table(
    frame: pd.DataFrame, psu: str, strata: str | None, psu_size: str | None
) -> tuple[np.ndarray, pd.DataFrame]:
    """PSU codes per unit and one row per PSU: id, stratum, unit count, size measure."""
    column = require_column(frame, psu, "psu")
    codes, labels = pd.factorize(column, sort=True, use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.intp)
    if np.any(codes < 0):
        first = int(np.flatnonzero(codes < 0)[0])
        raise SamplingError(
            f"psu={psu!r} has missing values (first at row {shown(frame.index[first])})"
        )
    P = len(labels)
    first_row = np.full(P, len(codes), dtype=np.intp)
    np.minimum.at(first_row, codes, np.arange(len(codes)))
    table = pd.DataFrame({psu: labels, "_units": np.bincount(codes, minlength=P)})
    if strata is not None:
        if strata == psu:
            raise SamplingError(f"strata={strata!r} must differ from psu={psu!r}")
        values = require_column(frame, strata, "strata")
        stratum_codes, _ = pd.factorize(values, use_na_sentinel=True)
        mixed = stratum_codes != stratum_codes[first_row][codes]
        if mixed.any():
            row = int(np.flatnonzero(mixed)[0])
            raise SamplingError(
                f"psu {shown(labels[codes[row]])} spans several strata of strata={strata!r} "
                f"(row {shown(frame.index[row])}); a PSU must lie in one stratum"
            )
        table[strata] = values.to_numpy()[first_row]
    if psu_size is not None:
        sizes = require_column(frame, psu_size, "psu_size").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        bad = ~np.isfinite(sizes) | (sizes < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise SamplingError(
                f"psu_size={psu_size!r} must be finite and non-negative; row "
                f"{shown(frame.index[row])} has {shown(sizes[row])}"
            )
        table["_size"] = np.bincount(codes, weights=sizes, minlength=P)
    else:
        table["_size"] = table["_units"].astype(np.float64)
    return codes, table


def _two_stage(
    frame: pd.DataFrame,
    psu: str,
    n_psu: int | Mapping[Any, int] | pd.Series,
    n_units: int | Mapping[Any, int] | pd.Series,
    strata: str | None,
    psu_method: str,
    psu_size: str | None,
    unit_method: str,
    allocation: str,
    rng: Any,
) -> Sample:
    frame = require_frame(frame)
    clash = [c for c in STAGE_COLUMNS if c in frame.columns]
    if clash:
        raise SamplingError(f"frame already has the output columns {clash}; rename them first")
    if unit_method not in UNIT_METHODS:
        raise SamplingError(f"unit_method must be one of {UNIT_METHODS}, got {unit_method!r}")
    generator, seed, state = resolve_rng(rng)
    codes, table = _psu_table(frame, psu, strata, psu_size)
    try:
        first = draw_sample(
            table,
            n_psu,
            strata=strata,
            method=psu_method,
            size="_size",
            allocation=allocation,
            rng=generator,
        )
    except SamplingError as exc:
        raise SamplingError(f"first stage (PSUs, n_psu={n_psu!r}): {exc}") from exc
    chosen = first.units
    P = len(table)
    selected = np.zeros(P, dtype=bool)
    selected[chosen.index.to_numpy()] = True  # table has a RangeIndex: index == PSU code
    rows = np.flatnonzero(selected[codes])
    compact = np.full(P, -1, dtype=np.intp)
    compact[chosen.index.to_numpy()] = np.arange(len(chosen))
    unit_codes = compact[codes[rows]]
    M = chosen["_units"].to_numpy().astype(np.int64)
    if isinstance(n_units, Mapping | pd.Series):
        if isinstance(n_units, pd.Series):
            wanted = n_units
        else:
            keys = pd.Index(list(n_units.keys()), tupleize_cols=False)
            wanted = pd.Series(list(n_units.values()), index=keys, dtype=object)
        unknown = wanted.index.difference(pd.Index(table[psu]))
        if len(unknown):
            raise SamplingError(
                f"n_units names PSUs that are not in the frame: {unknown.tolist()[:5]}"
            )
        # sizes may be given for every PSU; only the selected ones are used
        wanted = wanted[wanted.index.isin(chosen[psu])]
        missing = pd.Index(chosen[psu]).difference(wanted.index)
        if len(missing):
            raise SamplingError(f"n_units has no size for the selected PSUs {missing.tolist()[:5]}")
        m = stratum_sizes_from_mapping(wanted, pd.Index(chosen[psu]))
        over = np.flatnonzero(m > M)
        if len(over):
            raise SamplingError(
                f"n_units={int(m[over[0]])} exceeds the {int(M[over[0]])} units of psu "
                f"{shown(chosen[psu].iloc[over[0]])}"
            )
    elif isinstance(n_units, bool) or not isinstance(n_units, int | np.integer) or n_units < 0:
        raise SamplingError(
            f"n_units must be a non-negative integer or a mapping psu -> n, got {n_units!r}"
        )
    else:
        m = np.minimum(int(n_units), M)  # PSUs smaller than n_units are taken whole
    if unit_method == "srswor":
        picked = selection.srswor(unit_codes, M, m, generator)
    elif unit_method == "systematic":
        picked = selection.systematic(unit_codes, M, m, generator)
    else:
        picked = selection.poisson((m / np.maximum(M, 1))[unit_codes], generator)
    within = unit_codes[picked]
    units = frame.take(rows[picked])
    pi1 = chosen["inclusion_probability"].to_numpy()[within]
    pi2 = (m / np.maximum(M, 1))[within]
    units["stage1_inclusion_probability"] = pi1
    units["stage1_population"] = chosen["stratum_population"].to_numpy()[within]
    units["stage2_inclusion_probability"] = pi2
    units["stage2_population"] = M[within]
    units["inclusion_probability"] = pi1 * pi2
    units["design_weight"] = 1.0 / (pi1 * pi2)
    parameters = {
        "psu": psu,
        "strata": strata,
        "n_psu": first.manifest.parameters["n"],
        "n_units": n_units
        if not isinstance(n_units, Mapping | pd.Series)
        else {str(k): int(v) for k, v in dict(n_units).items()},
        "psu_method": psu_method,
        "psu_size": psu_size,
        "unit_method": unit_method,
        "allocation": allocation,
    }
    manifest = Manifest(
        method=f"two_stage:{psu_method}/{unit_method}",
        seed=seed,
        rng_state=state,
        input_hashes={"psu_table": first.manifest.input_hashes["frame"]},
        parameters=parameters,
        allocation=first.manifest.allocation,
    )
    return Sample(units=units, allocation=first.allocation, manifest=manifest)


def draw_two_stage_sample(
    frame: pd.DataFrame,
    *,
    psu: str,
    n_psu: int | Mapping[Any, int] | pd.Series,
    n_units: int | Mapping[Any, int] | pd.Series,
    strata: str | None = None,
    psu_method: str = "srswor",
    psu_size: str | None = None,
    unit_method: str = "srswor",
    allocation: str = "proportional",
    rng: Any = None,
) -> Sample:
    """Two-stage draw with its manifest (see :func:`draw_two_stage` for the design).

    Returns
    -------
    Sample
        ``units`` as returned by :func:`draw_two_stage`; ``allocation`` is the first-stage (PSU)
        allocation table; the manifest hashes the unit frame and the derived PSU table.

    Notes
    -----
    ``pi_k = pi_I pi_k|I`` and ``w_k = 1 / pi_k`` (Särndal, Swensson & Wretman 1992, §4.3); the
    stage-1 draw uses the generator first, stage 2 continues the same stream.

    Examples
    --------
    >>> frame = pd.DataFrame({"school": [1, 1, 2, 2, 3, 3], "pupil": range(6)})
    >>> s = draw_two_stage_sample(frame, psu="school", n_psu=2, n_units=1, rng=3)
    >>> len(s.units), s.manifest.method
    (2, 'two_stage:srswor/srswor')
    """
    sample = _two_stage(
        frame, psu, n_psu, n_units, strata, psu_method, psu_size, unit_method, allocation, rng
    )
    manifest = sample.manifest
    hashes = {"frame": frame_hash(frame), **manifest.input_hashes}
    return Sample(
        units=sample.units,
        allocation=sample.allocation,
        manifest=Manifest(
            method=manifest.method,
            seed=manifest.seed,
            rng_state=manifest.rng_state,
            input_hashes=hashes,
            parameters=manifest.parameters,
            allocation=manifest.allocation,
        ),
    )


def draw_two_stage(
    frame: pd.DataFrame,
    *,
    psu: str,
    n_psu: int | Mapping[Any, int] | pd.Series,
    n_units: int | Mapping[Any, int] | pd.Series,
    strata: str | None = None,
    psu_method: str = "srswor",
    psu_size: str | None = None,
    unit_method: str = "srswor",
    allocation: str = "proportional",
    rng: Any = None,
) -> pd.DataFrame:
    """Draw PSUs (e.g. institutions), then units (e.g. graduates) within the selected PSUs.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per unit, with its PSU id (and stratum, constant within a PSU).
    psu : str
        PSU id column.
    n_psu : int or mapping
        Number of PSUs: a total allocated over ``strata`` with ``allocation`` (PSU counts), or
        stratum -> number of PSUs.
    n_units : int or mapping
        Units per selected PSU (PSUs with fewer units are taken whole), or PSU id -> count (for
        every PSU that can be selected; entries of PSUs not selected are ignored).
    strata : str, optional
        First-stage stratum column.
    psu_method : {"srswor", "systematic", "pps_systematic", "poisson", "bernoulli"}
        First-stage method (see :func:`sampling.draw`).
    psu_size : str, optional
        Unit-level column summed per PSU as the PSU size measure for ``pps_systematic`` and
        ``poisson``; by default the PSU's number of units ``M_i``.
    unit_method : {"srswor", "systematic", "bernoulli"}
        Second-stage method within each selected PSU (systematic in frame order).
    allocation : str
        First-stage allocation method when ``n_psu`` is a total.
    rng : None, int or numpy.random.Generator
        Passed through :func:`numpy.random.default_rng`; stage 1 then stage 2 use one stream.

    Returns
    -------
    pandas.DataFrame
        Selected units (frame order) with ``stage1_inclusion_probability`` (``pi_I``),
        ``stage1_population`` (PSUs in the stratum), ``stage2_inclusion_probability``
        (``pi_k|I = m_I / M_I``), ``stage2_population`` (``M_I``), ``inclusion_probability``
        (``pi_I pi_k|I``) and ``design_weight``.

    Notes
    -----
    The unit inclusion probability of a two-stage design is ``pi_k = pi_I pi_k|I`` and the weight
    ``1 / pi_k`` (Särndal, Swensson & Wretman 1992, *Model Assisted Survey Sampling*, §4.3; Lohr
    2022 §6.3). With ``psu_method="pps_systematic"`` on ``M_I`` and a fixed ``n_units`` this is
    the self-weighting PPS design. The columns match R
    ``svydesign(id = ~psu + unit, strata = ~stratum, fpc = ~stage1_population + stage2_population)``.

    Examples
    --------
    >>> frame = pd.DataFrame({"school": [1, 1, 1, 2, 2, 3, 3, 3, 3], "pupil": range(9)})
    >>> s = draw_two_stage(frame, psu="school", n_psu=2, n_units=2, rng=5)
    >>> s.groupby("school").size().tolist()
    [2, 2]
    >>> bool((s["design_weight"] == 1 / (s["stage1_inclusion_probability"]
    ...       * s["stage2_inclusion_probability"])).all())
    True
    """
    return _two_stage(
        frame, psu, n_psu, n_units, strata, psu_method, psu_size, unit_method, allocation, rng
    ).units


def replay_two_stage(manifest: Manifest, frame: pd.DataFrame) -> Sample:
    """Re-draw a two-stage sample recorded by :func:`draw_two_stage_sample`.

    Parameters
    ----------
    manifest : Manifest
        The original sample's manifest (e.g. reloaded from its JSON).
    frame : pandas.DataFrame
        The unit frame snapshot; its :func:`sampling.frame_hash` must equal the recorded one.

    Returns
    -------
    Sample
        The same units as the original draw, with the original manifest.

    Raises
    ------
    SamplingError
        Another algorithm version, a manifest of another kind, or a changed frame.

    Notes
    -----
    The recorded first-stage sizes per stratum, the recorded ``n_units`` and the recorded seed or
    generator state are reused, so both stages are repeated exactly.

    Examples
    --------
    >>> frame = pd.DataFrame({"school": [1, 1, 2, 2, 3, 3], "pupil": range(6)})
    >>> first = draw_two_stage_sample(frame, psu="school", n_psu=2, n_units=1, rng=3)
    >>> replay_two_stage(first.manifest, frame).units.equals(first.units)
    True
    """
    if manifest.algorithm != ALGORITHM_VERSION:
        raise SamplingError(
            f"manifest.algorithm={manifest.algorithm!r} differs from this library's "
            f"{ALGORITHM_VERSION!r}; replay with the library version that made the draw"
        )
    if not manifest.method.startswith("two_stage:"):
        raise SamplingError(f"manifest.method={manifest.method!r} is not a two-stage draw")
    if frame_hash(require_frame(frame)) != manifest.input_hashes.get("frame"):
        raise SamplingError("the frame differs from the one recorded in the manifest")
    p = manifest.parameters
    psu, strata = p["psu"], p["strata"]
    _, table = _psu_table(frame, psu, strata, p["psu_size"])
    recorded = pd.DataFrame(manifest.allocation)
    n_psu: int | pd.Series
    if strata is None:
        n_psu = int(recorded["n"].sum())
    else:
        _, labels = stratum_codes(table, strata)
        sizes = recorded.set_index("stratum")["n"].reindex(pd.Index(labels.map(str)))
        n_psu = pd.Series(sizes.to_numpy(), index=labels)
    n_units: int | pd.Series
    if isinstance(p["n_units"], dict):
        by_text = pd.Series(p["n_units"])
        ids = pd.Index(table[psu])
        known = ids[ids.map(str).isin(by_text.index)]
        n_units = pd.Series(by_text.reindex(known.map(str)).to_numpy(), index=known)
    else:
        n_units = int(p["n_units"])
    sample = _two_stage(
        frame,
        psu,
        n_psu,
        n_units,
        strata,
        p["psu_method"],
        p["psu_size"],
        p["unit_method"],
        p["allocation"],
        manifest.generator(),
    )
    return Sample(units=sample.units, allocation=sample.allocation, manifest=manifest)
