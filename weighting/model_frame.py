"""Model matrices for design-based regression: a formula or explicit columns, treatment coding.

A :class:`ModelFrame` turns the data of a design into the numbers a model needs, once: the
model matrix :math:`X` (one row per row of the design, zero on rows the model does not use),
the response, the rows used and, for every term, its columns (for Wald tests of terms). The
same specification rebuilds :math:`X` for new data (predictions).

Categorical predictors (pandas ``category`` or string/object columns) get treatment
contrasts: one indicator per level but the reference, which is the first category of a
``category`` column and the first level in sorted order of a string column (R's
``contr.treatment`` with R's default level order), or the level named in ``reference``.
Formulas follow Wilkinson-Rogers notation through the ``formulaic`` package (installed with
statsmodels): ``"y ~ x + g + x:g"``, ``"y ~ np.log(x)"``, ``"y ~ C(g)"``; column names that are
not identifiers go in backquotes (`` `my col` ``). Boolean predictors are 0/1 numbers.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix
from numpy.typing import NDArray

from .domains import as_columns, check_columns
from .errors import WeightingError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Names a formula may use that are modules, not columns (``np.log(x)``).
MODULES = ("np", "numpy")


@dataclass(frozen=True)
class ModelFrame:
    """The numbers of a model, aligned with the rows of the design's data.

    Attributes
    ----------
    X : ndarray, shape (n, p)
        Model matrix; rows not in ``used`` are 0.
    response : pandas.Series
        The response column (all rows; only ``used`` rows are meaningful).
    used : ndarray of bool, shape (n,)
        Rows the model uses: inside the design's domain, a nonzero weight, no missing value
        in any model variable.
    complete : ndarray of bool, shape (n,)
        Rows without a missing value in any model variable (R's ``na.action``).
    names : tuple of str
        Column names of ``X`` (``"Intercept"``, ``"x"``, ``"g[T.b]"``, ``"x:g[T.b]"``, ...).
    terms : mapping
        Term label (``"x"``, ``"g"``, ``"x:g"``; ``"1"`` for the intercept) to its columns.
    levels : mapping
        Levels of every categorical predictor, reference first.
    """

    X: FloatArray
    response: pd.Series
    used: BoolArray
    complete: BoolArray
    names: tuple[str, ...]
    terms: Mapping[str, tuple[int, ...]]
    levels: Mapping[Hashable, tuple[Any, ...]]
    spec: Any
    columns: tuple[str, ...]

    def matrix(self, data: pd.DataFrame) -> FloatArray:
        """The model matrix of new data (every row must have all predictors).

        Categorical values must be levels seen in the fit; raises :class:`WeightingError`
        naming the column and value otherwise.
        """
        if not isinstance(data, pd.DataFrame):
            raise WeightingError(f"newdata must be a pandas DataFrame; got {type(data).__name__}")
        needed = list(self.columns)
        check_columns(data, needed, "newdata")
        frame = data[needed].copy()
        for column, levels in self.levels.items():
            values = frame[column]
            unknown = ~values.isin(levels) & values.notna()
            if unknown.any():
                bad = pd.unique(values[unknown].astype(object))[:5].tolist()
                raise WeightingError(
                    f"newdata: column {column!r} has value(s) {bad} that are not levels of the "
                    f"model (levels: {list(levels)[:10]})"
                )
            frame[column] = pd.Categorical(values, categories=list(levels))
        missing = frame.isna().any(axis=1).to_numpy()
        if missing.any():
            raise WeightingError(
                f"newdata: row {int(np.flatnonzero(missing)[0])} has a missing predictor "
                f"({int(missing.sum())} row(s)); predictions need every predictor"
            )
        out = self.spec.get_model_matrix(frame)
        return np.asarray(out.to_numpy(dtype=np.float64), dtype=np.float64)


def formula_from_columns(
    response: Hashable, predictors: Sequence[Hashable] | Hashable | None, intercept: bool
) -> str:
    """A formula for explicit columns: ``response ~ a + b`` with every name backquoted.

    Examples
    --------
    >>> formula_from_columns("y", ["x", "my g"], True)
    '`y` ~ 1 + `x` + `my g`'
    >>> formula_from_columns("y", None, False)
    '`y` ~ 0'
    """
    names = as_columns(predictors, "predictors")
    for name in [response, *names]:
        if not isinstance(name, str) or "`" in name:
            raise WeightingError(f"predictors and response must be column names without backquotes; got {name!r}")
    rhs = ["1" if intercept else "0"] + [f"`{n}`" for n in names]
    return f"`{response}` ~ " + " + ".join(rhs)


def build_model_frame(
    data: pd.DataFrame,
    formula: str,
    *,
    rows: BoolArray,
    reference: Mapping[Hashable, Any] | None = None,
    response_kind: str = "numeric",
) -> ModelFrame:
    """Model matrix and response of ``formula`` on the rows ``rows`` without missing values.

    Parameters
    ----------
    data : DataFrame
        The design's data.
    formula : str
        ``"response ~ terms"``; the response must be one column of ``data``.
    rows : ndarray of bool, shape (n,)
        Rows eligible for the model (domain and nonzero weight). Levels of categorical
        predictors are the levels present among the rows used.
    reference : mapping, optional
        ``{column: level}``: the reference level of a categorical predictor.
    response_kind : {"numeric", "ordinal"}
        ``"numeric"``: the response must be numeric or boolean; ``"ordinal"``: any ordered
        values (numbers, or a pandas ``category`` whose categories are in order).

    Examples
    --------
    >>> data = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "g": ["b", "a", "b", "a"]})
    >>> mf = build_model_frame(data, "y ~ g", rows=np.ones(4, bool), reference={"g": "b"})
    >>> mf.names, mf.X[:, 1].tolist()
    (('Intercept', 'g[T.a]'), [0.0, 1.0, 0.0, 1.0])
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise WeightingError(f"formula must be a string 'response ~ predictors'; got {formula!r}")
    try:
        parsed = Formula(formula)
    except Exception as exc:  # formulaic's parser errors are of several types
        raise WeightingError(f"formula {formula!r} cannot be parsed: {exc}") from None
    response = str(parsed.lhs).strip().strip("`")
    if response not in data.columns:
        raise WeightingError(f"formula {formula!r}: the response must be one column of the data")
    variables = formula_columns(formula, parsed.rhs.required_variables, data)
    reference = dict(reference or {})
    check_columns(data, list(reference), "reference")
    columns = list(dict.fromkeys([response, *variables]))
    frame = data[columns]
    complete = ~frame.isna().any(axis=1).to_numpy()
    used = complete & rows
    if not used.any():
        raise WeightingError("the model has no rows: every row is outside the domain, has weight 0 or a missing value")
    sub = frame.loc[used].copy()
    levels: dict[Hashable, tuple[Any, ...]] = {}
    for column in variables:
        series = sub[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            present = [c for c in series.cat.categories if (series == c).any()]
        elif pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
            if column in reference:
                raise WeightingError(
                    f"reference: column {column!r} is numeric; make it a pandas category to use "
                    "it as a categorical predictor"
                )
            continue
        else:
            present = sorted(pd.unique(series.astype(object)).tolist())
        if column in reference:
            ref = reference[column]
            if ref not in present:
                raise WeightingError(
                    f"reference: level {ref!r} of column {column!r} is not among the levels used "
                    f"by the model ({present[:10]})"
                )
            present = [ref] + [lv for lv in present if lv != ref]
        levels[column] = tuple(present)
        sub[column] = pd.Categorical(series, categories=present)
    unused = [c for c in reference if c not in levels]
    if unused:
        raise WeightingError(f"reference: column {unused[0]!r} is not a predictor of the model")
    y = data[response]
    if response_kind == "numeric" and not (
        pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype)
    ):
        raise WeightingError(f"formula: the response {response!r} is not numeric (dtype {y.dtype})")
    rhs_formula = formula.split("~", 1)[1]
    try:
        mm = model_matrix(rhs_formula, sub, na_action="raise", ensure_full_rank=True)
    except Exception as exc:
        raise WeightingError(f"formula {formula!r}: {exc}") from None
    spec = mm.model_spec
    X = np.zeros((len(data), mm.shape[1]))
    X[used] = mm.to_numpy(dtype=np.float64)
    names = tuple(str(c) for c in mm.columns)
    terms = {
        str(term): tuple(range(s.start, s.stop)) for term, s in spec.term_slices.items() if s.stop > s.start
    }
    return ModelFrame(X, y, used, complete, names, terms, levels, spec, tuple(variables))


def formula_columns(formula: str, required: Any, data: pd.DataFrame) -> list[str]:
    """The data columns a formula's right-hand side uses.

    ``formulaic`` reports a backquoted name with a dot (`` `acs.k3` ``) as the variable
    ``acs`` (attribute access); such names are taken from the backquotes instead.

    Examples
    --------
    >>> formula_columns("y ~ `a.b` + np.log(c)", {"a", "c", "np"}, pd.DataFrame(columns=["a.b", "c", "y"]))
    ['a.b', 'c']
    """
    quoted = re.findall(r"`([^`]+)`", formula.split("~", 1)[1])
    prefixes = {q.split(".")[0] for q in quoted if "." in q}
    names = [str(v) for v in required if v in data.columns] + [q for q in quoted if q in data.columns]
    unknown = sorted(
        str(v) for v in required if v not in data.columns and v not in MODULES and v not in prefixes
    )
    unknown += [q for q in quoted if q not in data.columns]
    if unknown:
        raise WeightingError(f"formula: column {unknown[0]!r} is not in the data")
    return sorted(set(names))
