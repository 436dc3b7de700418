"""Fixtures giving the weighting tests the R ``survey`` reference values without needing R.

The data and values are produced by ``tests/reference/weighting/make_reference.R`` (its header
documents the shape of ``reference.json``). This module only reads them; it must stay free of
Flask and of anything in ``survey_app``.

Fixtures
--------
r_reference
    The parsed ``reference.json`` (session-scoped): ``r_reference["cases"][case_id]``.
reference_data
    Factory: ``reference_data("apistrat")`` (or ``"apistrat.csv"``) returns a fresh DataFrame
    in CSV row order. Column dtypes follow R: string/factor columns are pandas strings (missing
    as NA), integer columns are ``int64`` when complete and ``float64`` with NaN when they have
    missing values, double columns are ``float64``.
reference_case
    Factory: ``reference_case("adjust_rake_apiclus1")`` returns ``(case_dict, DataFrame)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference" / "weighting"
REFERENCE_JSON = REFERENCE_DIR / "reference.json"

#: Relative tolerance the weighting package must meet against R ``survey`` (STATS.md).
R_RTOL = 1e-8


@lru_cache(maxsize=1)
def _load_reference() -> dict[str, Any]:
    with REFERENCE_JSON.open(encoding="utf-8") as handle:
        return json.load(handle)


@cache
def _load_dataset(name: str) -> pd.DataFrame:
    reference = _load_reference()
    key = name[:-4] if name.endswith(".csv") else name
    try:
        meta = reference["datasets"][key]
    except KeyError:
        known = ", ".join(sorted(reference["datasets"]))
        raise KeyError(f"unknown reference dataset {name!r}; known: {known}") from None
    columns: dict[str, str] = meta["columns"]
    # Only empty fields are missing (R wrote NA as ""): a school called "NA" stays a string.
    frame = pd.read_csv(
        REFERENCE_DIR / meta["file"],
        dtype={col: str for col, kind in columns.items() if kind == "string"},
        keep_default_na=False,
        na_values=[""],
    )
    for col, kind in columns.items():
        if kind == "string":
            frame[col] = frame[col].astype("string")
        elif kind == "integer":
            values = pd.to_numeric(frame[col])
            frame[col] = (
                values.astype(np.int64) if not values.isna().any() else values.astype(np.float64)
            )
        else:
            frame[col] = pd.to_numeric(frame[col]).astype(np.float64)
    if len(frame) != meta["n_rows"] or list(frame.columns) != list(columns):
        raise ValueError(f"{meta['file']} does not match reference.json's description of it")
    return frame


@pytest.fixture(scope="session")
def r_reference() -> dict[str, Any]:
    """The parsed ``tests/reference/weighting/reference.json``."""
    return _load_reference()


@pytest.fixture(scope="session")
def reference_data() -> Callable[[str], pd.DataFrame]:
    """Factory returning a fresh copy of a reference data set (``"apistrat"`` or ``"apistrat.csv"``)."""

    def load(name: str) -> pd.DataFrame:
        return _load_dataset(name).copy()

    return load


@pytest.fixture(scope="session")
def reference_case(
    r_reference: dict[str, Any], reference_data: Callable[[str], pd.DataFrame]
) -> Callable[[str], tuple[dict[str, Any], pd.DataFrame]]:
    """Factory returning ``(case, data)`` for a case id of ``reference.json``."""

    def load(case_id: str) -> tuple[dict[str, Any], pd.DataFrame]:
        try:
            case = r_reference["cases"][case_id]
        except KeyError:
            raise KeyError(f"unknown reference case {case_id!r}") from None
        return case, reference_data(case["data"])

    return load
