"""Placement rate (毕业去向落实率) and sub-rates from the register, for any snapshot date.

Census figures: no confidence intervals. Every rate has the register total of its domain as
denominator. The placement rate is ``1 - not_placed / total`` where ``not_placed`` counts the
roll-up's not-placed codes (standard: 70, 71, 72) *and* graduates with no destination effective
on the snapshot date. Small-count suppression: a count ``0 < count < min_count`` (setting
``GRADUATE_MIN_CELL_COUNT``, default 5) is withheld together with its rate, and so is every
figure of a domain whose total is below ``min_count``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from survey_app.core.errors import ValidationFailed
from survey_app.graduates.services.graduates_codes import STANDARD, RollUp
from survey_app.graduates.services.graduates_register import snapshot

DIMENSIONS = ("institution", "college", "major", "discipline", "degree", "sex", "province", "institution_type", "institution_province")


#: Finer dimensions are reported inside their institution (college names repeat across schools).
NESTED_IN_INSTITUTION = ("college", "major")


PLACEMENT = "placement"


UNREGISTERED = "unregistered"


def dimensions(by: Sequence[str] | str | None) -> list[str]:
    """Validated grouping columns (``college``/``major`` add ``institution`` in front)."""
    if by is None or by == "":
        return []
    names = [b.strip() for b in (by.split(",") if isinstance(by, str) else by) if b.strip()]
    unknown = [b for b in names if b not in DIMENSIONS]
    if unknown:
        raise ValidationFailed(_("Unknown grouping."), {"by": [", ".join(unknown)]})
    if any(b in NESTED_IN_INSTITUTION for b in names) and "institution" not in names:
        names.insert(0, "institution")
    return list(dict.fromkeys(names))


def rate_table(register: pd.DataFrame, by: Sequence[str], rollup: RollUp = STANDARD, *, min_count: int = 5) -> pd.DataFrame:
    """Long table of counts and rates per domain: ``by..., indicator, count, total, rate, suppressed``.

    ``register`` has one row per graduate with ``destination_code`` (``""`` = not yet registered)
    and the ``by`` columns. The first indicator is ``placement`` (placed count and rate), then
    one per roll-up group, then ``unregistered``. Rows with every ``by`` column equal to
    ``"*"`` are the overall figures.
    """
    code = register["destination_code"].astype(str)
    unregistered = code.eq("")
    indicators = {PLACEMENT: ~(code.isin(rollup.not_placed) | unregistered)}
    indicators.update({name: code.isin(codes) for name, codes in rollup.groups.items()})
    indicators[UNREGISTERED] = unregistered
    flags = pd.DataFrame({name: mask.to_numpy(dtype=np.int64) for name, mask in indicators.items()})
    keys = register[list(by)].astype(str).reset_index(drop=True) if by else pd.DataFrame(index=register.index).reset_index(drop=True)
    flags["_total"] = 1
    overall = flags.sum().to_frame().T
    for column in by:
        overall[column] = "*"
    if by:
        grouped = pd.concat([keys, flags], axis=1).groupby(list(by), sort=True, observed=True).sum().reset_index()
        wide = pd.concat([overall, grouped], ignore_index=True)
    else:
        wide = overall
    long = wide.melt(id_vars=[*by, "_total"], value_vars=list(indicators), var_name="indicator", value_name="count")
    order = {name: i for i, name in enumerate(indicators)}
    long["_order"] = long["indicator"].map(order)
    long["_overall"] = (long[list(by)] == "*").all(axis=1) if by else True
    long = long.sort_values(["_overall", *by, "_order"], ascending=[False, *([True] * len(by)), True], kind="stable")
    total = long["_total"].to_numpy(dtype=np.int64)
    count = long["count"].to_numpy(dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(total > 0, count / np.maximum(total, 1), np.nan)
    suppressed = ((count > 0) & (count < min_count)) | (total < min_count)
    out = long[list(by)].reset_index(drop=True)
    out["indicator"] = long["indicator"].to_numpy()
    out["count"] = pd.array(np.where(suppressed, 0, count), dtype="Int64")
    out.loc[suppressed, "count"] = pd.NA
    out["total"] = pd.array(total, dtype="Int64")
    out.loc[total < min_count, "total"] = pd.NA
    out["rate"] = np.where(suppressed, np.nan, rate)
    out["suppressed"] = suppressed
    return out


def placement_rates(
    session: Session,
    cohort: int,
    *,
    on: date | None = None,
    by: Sequence[str] | str | None = ("institution",),
    rollup: RollUp = STANDARD,
    min_count: int = 5,
) -> pd.DataFrame:
    """:func:`rate_table` of the register of ``cohort`` as it stood on ``on``."""
    columns = dimensions(by)
    register = snapshot(session, cohort, on)
    if register.empty:
        raise ValidationFailed(_("No graduates are registered for this cohort."), {"cohort": [str(cohort)]})
    return rate_table(register, columns, rollup, min_count=min_count)


def wide(table: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """One row per domain, ``total`` then ``<indicator>_count`` / ``<indicator>_rate`` columns (for pages)."""
    keys = list(by) if by else []
    base = table.assign(_key=table[keys].astype(str).agg("|".join, axis=1) if keys else "*")
    indicators = list(dict.fromkeys(base["indicator"]))
    first = base.drop_duplicates("_key")[[*keys, "_key", "total"]].set_index("_key")
    counts = base.pivot(index="_key", columns="indicator", values="count")[indicators].add_suffix("_count")
    rates = base.pivot(index="_key", columns="indicator", values="rate")[indicators].add_suffix("_rate")
    return first.join(counts).join(rates).reset_index(drop=True)


def snapshot_dates(cohort: int) -> dict[str, date]:
    """The standard reporting dates of a cohort: 1 September and 31 December of its year."""
    return {"september": date(cohort, 9, 1), "year_end": date(cohort, 12, 31)}
