"""Random inspection draws (双随机): units from a register, inspectors assigned at random.

Units are drawn by stratified simple random sampling with a minimum share per stratum (and a
separate, usually larger, share for flagged units such as those with complaints); then every
drawn unit gets ``k`` distinct inspectors, never one with a conflict of interest, with balanced
workloads. The result carries a manifest (seed, algorithm version, hashes of the registers,
parameters) from which :func:`replay_inspection` re-creates and checks the draw.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sampling import selection
from sampling.errors import SamplingError, shown
from sampling.frame import require_column, require_frame, stratum_codes
from sampling.manifest import ALGORITHM_VERSION, Manifest, frame_hash, resolve_rng

_SLACK = 1e-9


@dataclass(frozen=True)
class InspectionDraw:
    """Result of :func:`draw_inspection`.

    Attributes
    ----------
    units : pandas.DataFrame
        Drawn units (register order) with ``inclusion_probability``, ``design_weight`` and
        ``stratum_population`` (units in the unit's stratum x flag cell).
    assignments : pandas.DataFrame
        One row per (unit, inspector): the unit id column, the inspector id column and ``slot``
        (1..k, the order of assignment).
    workload : pandas.Series
        Inspector id -> number of assigned units, for every inspector of the register.
    cells : pandas.DataFrame
        Per stratum x flag cell: ``stratum``, ``flagged``, ``population``, ``share``, ``n``.
    manifest : Manifest
        Seed, algorithm version, register hashes and parameters.
    """

    units: pd.DataFrame
    assignments: pd.DataFrame
    workload: pd.Series
    cells: pd.DataFrame
    manifest: Manifest


def _unique_ids(frame: pd.DataFrame, column: str, argument: str) -> pd.Series:
    ids = require_column(frame, column, argument)
    if ids.isna().any():
        raise SamplingError(f"{argument}={column!r} has missing ids")
    if ids.duplicated().any():
        raise SamplingError(
            f"{argument}={column!r} has duplicated ids, e.g. {shown(ids[ids.duplicated()].iloc[0])}"
        )
    return ids


def _shares(share: float | Mapping[Any, float], labels: pd.Index, argument: str) -> np.ndarray:
    if isinstance(share, Mapping | pd.Series):
        series = pd.Series(dict(share))
        missing = labels.difference(series.index)
        if len(missing):
            raise SamplingError(f"{argument} has no share for strata {missing.tolist()[:5]}")
        values = pd.to_numeric(series.reindex(labels), errors="coerce").to_numpy(dtype=np.float64)
    else:
        values = np.full(len(labels), float(share))
    if not np.all(np.isfinite(values) & (values >= 0) & (values <= 1)):
        raise SamplingError(f"{argument} must be shares in [0, 1], got {share!r}")
    return values


def _eligibility(
    drawn: pd.DataFrame,
    inspectors: pd.DataFrame,
    unit_id: str,
    inspector_id: str,
    conflicts: pd.DataFrame | None,
    conflict_attributes: Sequence[str | tuple[str, str]],
) -> np.ndarray:
    """Boolean matrix drawn units x inspectors: True when the inspector may inspect the unit."""
    eligible = np.ones((len(drawn), len(inspectors)), dtype=bool)
    for attribute in conflict_attributes:  # a handful of attributes, each a vectorised comparison
        unit_col, insp_col = (attribute, attribute) if isinstance(attribute, str) else attribute
        left = require_column(drawn, unit_col, "conflict_attributes")
        right = require_column(inspectors, insp_col, "conflict_attributes")
        codes, _ = pd.factorize(pd.concat([left, right], ignore_index=True), use_na_sentinel=True)
        a, b = codes[: len(left)], codes[len(left) :]
        eligible &= ~((a[:, None] == b[None, :]) & (a[:, None] >= 0))
    if conflicts is not None:
        require_frame(conflicts)
        pairs_unit = require_column(conflicts, unit_id, "conflicts")
        pairs_insp = require_column(conflicts, inspector_id, "conflicts")
        row = pd.Index(drawn[unit_id]).get_indexer(pairs_unit)
        col = pd.Index(inspectors[inspector_id]).get_indexer(pairs_insp)
        keep = (row >= 0) & (col >= 0)
        eligible[row[keep], col[keep]] = False
    return eligible


def _assign(eligible: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy balanced assignment: returns an (n_units, k) array of inspector positions.

    Units are served most-constrained first (fewest eligible inspectors, random tie-break); each
    takes the ``k`` eligible inspectors with the lowest current load, ties broken by fresh random
    keys. Without conflicts the loads then differ by at most one. The loop runs over drawn units
    because every choice depends on the loads left by the previous ones.
    """
    n_units, n_insp = eligible.shape
    options = eligible.sum(axis=1)
    order = np.lexsort((rng.random(n_units), options))
    load = np.zeros(n_insp, dtype=np.float64)
    chosen = np.empty((n_units, k), dtype=np.intp)
    for unit in order:
        score = np.where(eligible[unit], load + rng.random(n_insp), np.inf)
        best = np.argpartition(score, k - 1)[:k] if k < n_insp else np.arange(n_insp)
        best = best[np.argsort(score[best])]
        chosen[unit] = best
        load[best] += 1.0
    return chosen


def draw_inspection(
    units: pd.DataFrame,
    inspectors: pd.DataFrame,
    *,
    unit_id: str,
    inspector_id: str,
    share: float | Mapping[Any, float] = 0.05,
    strata: str | None = None,
    min_n: int = 1,
    flagged: str | None = None,
    flagged_share: float = 1.0,
    k: int = 2,
    conflicts: pd.DataFrame | None = None,
    conflict_attributes: Sequence[str | tuple[str, str]] = (),
    rng: Any = None,
) -> InspectionDraw:
    """Draw units to inspect and assign ``k`` conflict-free inspectors to each, reproducibly.

    Parameters
    ----------
    units, inspectors : pandas.DataFrame
        Frozen snapshots of the unit and inspector registers.
    unit_id, inspector_id : str
        Unique id columns of the two registers.
    share : float or mapping
        Minimum share drawn in each stratum (e.g. 0.03 or 0.05), one value or stratum -> share.
    strata : str, optional
        Stratum column of the unit register (e.g. district or industry).
    min_n : int
        At least this many units per non-empty stratum (all of them if fewer).
    flagged : str, optional
        Boolean column marking units to oversample (e.g. with complaints).
    flagged_share : float
        Share drawn among flagged units of each stratum (1.0: all of them).
    k : int
        Inspectors per unit (distinct).
    conflicts : pandas.DataFrame, optional
        Declared conflicts: pairs with columns ``unit_id`` and ``inspector_id``.
    conflict_attributes : sequence
        Column names present in both registers (e.g. ``"district"``) or ``(unit column,
        inspector column)`` pairs (e.g. ``(unit_id, "employer")``); equal values are a conflict.
    rng : None, int or numpy.random.Generator
        Passed through :func:`numpy.random.default_rng`; recorded in the manifest.

    Returns
    -------
    InspectionDraw

    Raises
    ------
    SamplingError
        Bad registers or parameters, or a drawn unit with fewer than ``k`` eligible inspectors
        (the message names the unit).

    Notes
    -----
    In cell ``c`` (stratum x flag) with ``N_c`` units, ``n_c = max(ceil(s_c N_c), min(min_n, N_c))``
    units are drawn by simple random sampling without replacement (``s_c`` the share of the cell),
    so ``pi = n_c / N_c`` and the design weight is ``N_c / n_c`` (Lohr 2022 §3.2). Inspectors are
    assigned as in :func:`_assign`. Published practice: 国务院关于在市场监管领域全面推行部门联合
    “双随机、一公开”监管的意见 (国发〔2019〕5号).

    Examples
    --------
    >>> shops = pd.DataFrame({"shop": range(40), "district": ["d1", "d2"] * 20})
    >>> staff = pd.DataFrame({"inspector": ["a", "b", "c", "d"], "district": ["d1", "d1", "d2", "d2"]})
    >>> result = draw_inspection(shops, staff, unit_id="shop", inspector_id="inspector",
    ...                          share=0.1, strata="district", conflict_attributes=["district"], rng=1)
    >>> len(result.units), len(result.assignments)
    (4, 8)
    >>> merged = result.assignments.merge(shops, on="shop").merge(staff, on="inspector")
    >>> bool((merged["district_x"] != merged["district_y"]).all())
    True
    """
    units = require_frame(units)
    inspectors = require_frame(inspectors)
    _unique_ids(units, unit_id, "unit_id")
    _unique_ids(inspectors, inspector_id, "inspector_id")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise SamplingError(f"k must be a positive integer, got {k!r}")
    if k > len(inspectors):
        raise SamplingError(f"k={k} exceeds the {len(inspectors)} inspectors of the register")
    if isinstance(min_n, bool) or not isinstance(min_n, int | np.integer) or min_n < 0:
        raise SamplingError(f"min_n must be a non-negative integer, got {min_n!r}")
    if not 0.0 <= float(flagged_share) <= 1.0:
        raise SamplingError(f"flagged_share must lie in [0, 1], got {flagged_share!r}")
    generator, seed, state = resolve_rng(rng)

    codes, labels = stratum_codes(units, strata)
    H = len(labels)
    if flagged is None:
        flags = np.zeros(len(units), dtype=np.intp)
    else:
        column = require_column(units, flagged, "flagged")
        if column.isna().any() or not pd.api.types.is_bool_dtype(column.dtype):
            raise SamplingError(
                f"flagged={flagged!r} must be a boolean column without missing values"
            )
        flags = column.to_numpy(dtype=bool).astype(np.intp)
    cell = codes * 2 + flags
    N_c = np.bincount(cell, minlength=2 * H).astype(np.int64)
    base_share = _shares(share, labels, "share")
    s_c = np.column_stack((base_share, np.full(H, float(flagged_share)))).ravel()
    n_c = np.maximum(np.ceil(s_c * N_c - _SLACK), np.minimum(min_n, N_c)).astype(np.int64)
    n_c = np.minimum(n_c, N_c)
    positions = selection.srswor(cell, N_c, n_c, generator)
    drawn_cell = cell[positions]
    drawn = units.take(positions)
    pi = n_c[drawn_cell] / N_c[drawn_cell]
    drawn = drawn.assign(
        inclusion_probability=pi, design_weight=1.0 / pi, stratum_population=N_c[drawn_cell]
    )

    eligible = _eligibility(
        drawn, inspectors, unit_id, inspector_id, conflicts, conflict_attributes
    )
    short = np.flatnonzero(eligible.sum(axis=1) < k)
    if len(short):
        names = [shown(v) for v in drawn[unit_id].iloc[short[:5]]]
        raise SamplingError(
            f"unit {names[0]} has {int(eligible[short[0]].sum())} eligible inspectors, fewer than k={k} "
            f"({len(short)} such units: {', '.join(names)})"
        )
    chosen = _assign(eligible, k, generator)
    inspector_ids = inspectors[inspector_id].to_numpy()
    assignments = pd.DataFrame(
        {
            unit_id: np.repeat(drawn[unit_id].to_numpy(), k),
            inspector_id: inspector_ids[chosen.ravel()],
            "slot": np.tile(np.arange(1, k + 1), len(drawn)),
        }
    )
    workload = pd.Series(
        np.bincount(chosen.ravel(), minlength=len(inspectors)),
        index=pd.Index(inspector_ids, name=inspector_id),
        name="units",
    )
    cells = pd.DataFrame(
        {
            "stratum": np.repeat(labels.to_numpy(), 2),
            "flagged": np.tile([False, True], H),
            "population": N_c,
            "share": s_c,
            "n": n_c,
        }
    )
    cells = cells[(cells["population"] > 0)].reset_index(drop=True)
    hashes = {"units": frame_hash(units), "inspectors": frame_hash(inspectors)}
    if conflicts is not None:
        hashes["conflicts"] = frame_hash(conflicts)
    parameters = {
        "unit_id": unit_id,
        "inspector_id": inspector_id,
        "share": {str(k_): float(v) for k_, v in dict(share).items()}
        if isinstance(share, Mapping | pd.Series)
        else float(share),
        "strata": strata,
        "min_n": int(min_n),
        "flagged": flagged,
        "flagged_share": float(flagged_share),
        "k": int(k),
        "conflict_attributes": [a if isinstance(a, str) else list(a) for a in conflict_attributes],
    }
    manifest = Manifest(
        method="inspection",
        seed=seed,
        rng_state=state,
        input_hashes=hashes,
        parameters=parameters,
        allocation=[
            {str(key): value for key, value in record.items()}
            for record in cells.assign(stratum=cells["stratum"].astype(str)).to_dict("records")
        ],
    )
    return InspectionDraw(drawn, assignments, workload, cells, manifest)


def replay_inspection(
    manifest: Manifest,
    units: pd.DataFrame,
    inspectors: pd.DataFrame,
    conflicts: pd.DataFrame | None = None,
) -> InspectionDraw:
    """Re-run a recorded inspection draw after checking that the registers are unchanged.

    Parameters
    ----------
    manifest : Manifest
        The manifest of the original :class:`InspectionDraw`.
    units, inspectors, conflicts : pandas.DataFrame
        The register snapshots; their hashes must equal those in the manifest.

    Returns
    -------
    InspectionDraw
        Identical to the original draw (same units, inspectors and slots).

    Raises
    ------
    SamplingError
        When a register's hash differs from the manifest (the register changed since the draw) or
        the manifest is not an inspection manifest.

    Notes
    -----
    Registers are compared by :func:`sampling.frame_hash` (SHA-256 of a canonical serialisation);
    the draw is then repeated from the recorded seed or generator state with the recorded
    parameters, which reproduces it exactly under the same :data:`ALGORITHM_VERSION`.

    Examples
    --------
    >>> shops = pd.DataFrame({"shop": range(20)})
    >>> staff = pd.DataFrame({"inspector": ["a", "b", "c"]})
    >>> first = draw_inspection(shops, staff, unit_id="shop", inspector_id="inspector", rng=4)
    >>> again = replay_inspection(first.manifest, shops, staff)
    >>> again.assignments.equals(first.assignments)
    True
    """
    if manifest.algorithm != ALGORITHM_VERSION:
        raise SamplingError(
            f"manifest.algorithm={manifest.algorithm!r} differs from this library's "
            f"{ALGORITHM_VERSION!r}; replay with the library version that made the draw"
        )
    if manifest.method != "inspection":
        raise SamplingError(f"manifest.method must be 'inspection', got {manifest.method!r}")
    given = {"units": units, "inspectors": inspectors}
    if conflicts is not None:
        given["conflicts"] = conflicts
    if set(given) != set(manifest.input_hashes):
        raise SamplingError(
            f"registers {sorted(given)} do not match the manifest's {sorted(manifest.input_hashes)}"
        )
    for name, frame in given.items():
        if frame_hash(frame) != manifest.input_hashes[name]:
            raise SamplingError(
                f"the {name} register differs from the one recorded in the manifest"
            )
    params = dict(manifest.parameters)
    attributes = [
        a if isinstance(a, str) else (a[0], a[1]) for a in params.pop("conflict_attributes")
    ]
    return draw_inspection(
        units,
        inspectors,
        conflicts=conflicts,
        conflict_attributes=attributes,
        rng=manifest.generator(),
        **params,
    )
