"""Audit manifests: what was drawn, from which frame, with which seed, by which algorithm."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import pandas as pd

from sampling.errors import SamplingError

#: Version of the selection algorithms; bumped whenever the same seed could give another sample.
ALGORITHM_VERSION = "strata.sampling/1"

_HASH_KEY = "strata-frame-v01"  # 16 bytes, fixed so hashes agree across machines


@functools.cache
def library_version() -> str:
    """Installed version of the Strata distribution (``"unknown"`` when not installed)."""
    try:
        return metadata.version("strata")
    except metadata.PackageNotFoundError:
        return "unknown"


def frame_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a canonical serialisation of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Any frame; column order does not matter, row order and the index do.

    Returns
    -------
    str
        ``"sha256:<hex>"``.

    Notes
    -----
    The digest covers the sorted column names, the row count and the per-row 64-bit hashes of
    ``pandas.util.hash_pandas_object`` (index included) computed with a fixed key over the columns
    in sorted order, serialised little-endian. It does not depend on the machine, the byte order or
    the column order; it depends on the values and their types (``1`` and ``1.0`` differ).

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2], "y": ["u", "v"]})
    >>> frame_hash(a) == frame_hash(a[["y", "x"]])
    True
    >>> frame_hash(a) == frame_hash(a.iloc[::-1])
    False
    """
    if not isinstance(frame, pd.DataFrame):
        raise SamplingError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    columns = sorted(frame.columns, key=str)
    digest = hashlib.sha256()
    header = {"columns": [str(c) for c in columns], "rows": len(frame)}
    digest.update(json.dumps(header, sort_keys=True).encode("utf-8"))
    if len(frame):
        rows = pd.util.hash_pandas_object(frame[columns], index=True, hash_key=_HASH_KEY)
        digest.update(rows.to_numpy().astype("<u8").tobytes())
    return "sha256:" + digest.hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def resolve_rng(rng: Any) -> tuple[np.random.Generator, int | None, dict[str, Any] | None]:
    """Generator for ``rng`` plus what is needed to replay it (a seed, or the generator state).

    ``None`` draws fresh OS entropy and records it as the seed, so even an unseeded draw can be
    replayed from its manifest.
    """
    if rng is None:
        seed = int(np.random.SeedSequence().entropy)  # type: ignore[arg-type]
        return np.random.default_rng(seed), seed, None
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        if rng < 0:
            raise SamplingError(f"rng seed must be non-negative, got {rng!r}")
        return np.random.default_rng(int(rng)), int(rng), None
    try:
        generator = np.random.default_rng(rng)
    except (TypeError, ValueError) as exc:
        raise SamplingError(f"rng must be None, a seed or a numpy Generator, got {rng!r}") from exc
    return generator, None, _jsonable(dict(generator.bit_generator.state))


@dataclass(frozen=True)
class Manifest:
    """Everything needed to replay and audit a draw.

    Attributes
    ----------
    method : str
        Selection method (or ``"inspection"``, ``"two_stage"``).
    seed : int or None
        Integer seed; ``None`` when a ``Generator`` was passed (see ``rng_state``).
    rng_state : dict or None
        ``bit_generator.state`` of the passed generator before the draw.
    input_hashes : dict
        Name -> :func:`frame_hash` of each input register/frame.
    parameters : dict
        The call's parameters (JSON-compatible).
    allocation : list of dict
        Per stratum: label, population, allocated n, selected count.
    algorithm : str
        :data:`ALGORITHM_VERSION`.
    library_version : str
        Installed Strata version.
    """

    method: str
    seed: int | None
    rng_state: dict[str, Any] | None
    input_hashes: dict[str, str]
    parameters: dict[str, Any]
    allocation: list[dict[str, Any]] = field(default_factory=list)
    algorithm: str = ALGORITHM_VERSION
    library_version: str = field(default_factory=library_version)

    def generator(self) -> np.random.Generator:
        """A fresh generator in the state the draw started from (for replay)."""
        if self.seed is not None:
            return np.random.default_rng(self.seed)
        if self.rng_state is None:
            raise SamplingError("manifest has neither a seed nor a generator state")
        generator = np.random.default_rng()
        generator.bit_generator.state = self.rng_state
        return generator

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dictionary (seeds kept as exact integers)."""
        out: dict[str, Any] = _jsonable(asdict(self))
        return out

    def to_json(self) -> str:
        """Canonical JSON text (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, default=str)
