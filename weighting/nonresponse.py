"""Nonresponse adjustment by weighting classes, with unknown eligibility."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from weighting.adjustment import Adjustment, FloatArray
from weighting.cells import (
    as_matrix,
    check_weights,
    combine_codes,
    group_sums,
    indicator,
    label,
    require_columns,
    require_complete,
)
from weighting.errors import WeightingError

RESPONDENT = "respondent"
NONRESPONDENT = "nonrespondent"
INELIGIBLE = "ineligible"
UNKNOWN = "unknown"
DISPOSITIONS = (RESPONDENT, NONRESPONDENT, INELIGIBLE, UNKNOWN)


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator; 0 when both are 0, nan when only the denominator is."""
    out = np.where(numerator > 0, np.nan, 0.0)
    return np.divide(numerator, denominator, out=out, where=denominator > 0)


def adjust_for_nonresponse(
    data: pd.DataFrame,
    weights: FloatArray,
    disposition: Hashable,
    classes: Hashable | Sequence[Hashable] | None,
) -> Adjustment:
    r"""Move the weight of nonrespondents and unknown-eligibility units to respondents.

    Parameters
    ----------
    data : DataFrame
        One row per sampled unit (respondents and the others).
    weights : ndarray, shape (n,)
        Base (design) weights.
    disposition : column name
        Column with exactly ``"respondent"``, ``"nonrespondent"``, ``"ineligible"`` or
        ``"unknown"`` (eligibility unknown, e.g. never contacted).
    classes : column name, list of column names or None
        Weighting classes (crossed when several columns); ``None`` for one class.

    Returns
    -------
    Adjustment
        ``kind="nonresponse"``; nonrespondents and unknowns get weight 0, ineligibles keep
        their (step-1) weight. ``residualize`` is ``None``: linearisation treats the adjusted
        weights as fixed; use replicate weights (``reapply``) to reflect the adjustment in the
        variance. ``details`` has ``classes``, the factor ranges and the weight moved.

    Raises
    ------
    WeightingError
        An unknown disposition value (named), missing values, a class with unknowns but no
        unit of known eligibility, or with eligible units but no respondent (named).

    Notes
    -----
    Within each class :math:`c` (Kalton & Flores-Cervantes 2003; Valliant, Dever & Kreuter
    2018, ch. 13):

    1. unknown eligibility: units of known eligibility (respondents, nonrespondents,
       ineligibles) are multiplied by :math:`\sum_{c} w / \sum_{c,\,known} w`, unknowns get 0;
    2. nonresponse: respondents are multiplied by
       :math:`\sum_{c,\,R \cup NR} w' / \sum_{c,\,R} w'`, nonrespondents get 0.

    Ineligibles keep their weight after step 1: they estimate the ineligible part of the
    frame and are not respondents. The total weight of each class is unchanged, and the
    respondents carry the whole estimated eligible total of their class.

    Examples
    --------
    >>> data = pd.DataFrame({"d": ["respondent", "nonrespondent", "ineligible", "unknown"]})
    >>> adjust_for_nonresponse(data, np.full(4, 10.0), "d", None).weights
    array([26.66666667,  0.        , 13.33333333,  0.        ])
    """
    require_columns(data, [disposition], "disposition")
    if classes is None:
        class_columns: list[Hashable] = []
    elif isinstance(classes, str) or not isinstance(classes, Sequence):
        class_columns = [classes]
    else:
        class_columns = list(classes)
    require_columns(data, class_columns, "classes")
    require_complete(data, [disposition, *class_columns], "adjust_for_nonresponse")
    w = check_weights(weights, len(data))
    status = data[disposition].astype(str)
    unknown_values = sorted(set(status.unique()) - set(DISPOSITIONS))
    if unknown_values:
        raise WeightingError(
            f"disposition column {disposition!r} has value(s) {unknown_values[:5]}; "
            f"allowed: {list(DISPOSITIONS)}"
        )
    if class_columns:
        codes, first_rows = combine_codes([data[c] for c in class_columns])
        keys = data[class_columns].iloc[first_rows].itertuples(index=False, name=None)
        names = [label(k if len(k) > 1 else k[0]) for k in keys]
    else:
        codes = np.zeros(len(data), dtype=np.intp)
        names = ["(all)"]
    S = indicator(codes, len(names))
    values = status.to_numpy()
    respondent = (values == RESPONDENT).astype(np.float64)
    eligible = respondent + (values == NONRESPONDENT)
    known = eligible + (values == INELIGIBLE)

    all_w, known_w = group_sums(S, w), group_sums(S, w * known)
    no_known = (all_w > 0) & (known_w <= 0)
    if no_known.any():
        raise WeightingError(
            f"classes {[names[i] for i in np.flatnonzero(no_known)][:5]} have units of unknown "
            "eligibility but none of known eligibility; collapse classes"
        )
    elig_w, resp_w = group_sums(S, w * eligible), group_sums(S, w * respondent)
    no_resp = (elig_w > 0) & (resp_w <= 0)
    if no_resp.any():
        raise WeightingError(
            f"classes {[names[i] for i in np.flatnonzero(no_resp)][:5]} have eligible units but "
            "no respondents with positive weight; collapse classes"
        )
    ineligible = known - eligible

    def adjust(M: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        f1 = _ratio(group_sums(S, M), group_sums(S, M * known[:, None]))
        step1 = M * known[:, None] * f1[codes]
        f2 = _ratio(
            group_sums(S, step1 * eligible[:, None]), group_sums(S, step1 * respondent[:, None])
        )
        keep = respondent[:, None] * f2[codes] + ineligible[:, None]
        return step1 * keep, f1, f2

    new2, f1, f2 = adjust(w[:, None])
    new = new2[:, 0]

    def reapply(weights_in: FloatArray) -> FloatArray:
        M, flat = as_matrix(weights_in)
        out = adjust(M)[0]
        return out[:, 0] if flat else out

    active = all_w > 0
    response_factors = f2[resp_w > 0, 0]
    return Adjustment(
        kind="nonresponse",
        weights=new,
        reapply=reapply,
        residualize=None,
        details={
            "classes": tuple(class_columns),
            "n_classes": len(names),
            "n_respondents": int(respondent.sum()),
            "eligibility_factor_max": float(f1[active, 0].max(initial=1.0)),
            "response_factor_min": float(response_factors.min(initial=np.inf)),
            "response_factor_max": float(response_factors.max(initial=-np.inf)),
            "weight_moved": float(np.sum(w * (1 - respondent - ineligible))),
        },
    )
