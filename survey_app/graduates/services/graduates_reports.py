"""Report parameters and display tables for the graduate pages and API (parsing, JSON-ready rows)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.core.errors import ValidationFailed
from survey_app.graduates.models import Graduate, GraduateDraw
from survey_app.graduates.services import (
    graduates_rates,
    graduates_register,
    graduates_survey,
    graduates_verification,
)
from survey_app.graduates.services.graduates_codes import GROUP_LABELS, RollUp, parse_rollup


def parse_date(value: str | None, name: str) -> date | None:
    if value is None or not str(value).strip():
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValidationFailed(_("Invalid input."), {name: [_("must be a date YYYY-MM-DD")]}) from exc


def parse_number(value: str | None, name: str, kind: type = int, *, default: Any = None, low: float | None = None) -> Any:
    if value is None or not str(value).strip():
        if default is None:
            raise ValidationFailed(_("Invalid input."), {name: [_("is required")]})
        return default
    try:
        number = kind(str(value).strip())
    except ValueError as exc:
        raise ValidationFailed(_("Invalid input."), {name: [_("must be a number")]}) from exc
    if low is not None and number < low:
        raise ValidationFailed(_("Invalid input."), {name: [_("must be at least %(low)s", low=low)]})
    return number


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows: NaN and NA become None, numpy scalars plain Python."""
    out = []
    for rec in frame.astype(object).to_dict("records"):
        out.append({k: (None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else
                        (v.item() if hasattr(v, "item") else v)) for k, v in rec.items()})
    return out


@dataclass(frozen=True)
class RatesReport:
    cohort: int
    on: date | None
    by: list[str]
    rollup: RollUp
    min_count: int
    table: pd.DataFrame

    def wide_rows(self) -> list[dict[str, Any]]:
        return records(graduates_rates.wide(self.table, self.by))

    def indicators(self) -> list[str]:
        return list(dict.fromkeys(self.table["indicator"]))


def rates_report(session: Session, cohort: int, values: Mapping[str, str], *, min_count: int) -> RatesReport:
    """Placement-rate table from request values: ``on`` (or ``snapshot``), ``by``, ``groups``, ``min_count``."""
    preset = values.get("snapshot", "")
    on = graduates_rates.snapshot_dates(cohort).get(preset) if preset in ("september", "year_end") else parse_date(values.get("on"), "on")
    by = graduates_rates.dimensions(values.get("by", "institution"))
    rollup = parse_rollup(values.get("groups"))
    # a report may suppress more than the configured minimum, never less
    threshold = max(min_count, parse_number(values.get("min_count"), "min_count", default=min_count, low=1))
    table = graduates_rates.placement_rates(session, cohort, on=on, by=by, rollup=rollup, min_count=threshold)
    return RatesReport(cohort=cohort, on=on, by=by, rollup=rollup, min_count=threshold, table=table)


def cohort_summary(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(Graduate.cohort, func.count()).group_by(Graduate.cohort).order_by(Graduate.cohort.desc())).all()
    return [{"cohort": int(c), "graduates": int(n)} for c, n in rows]


def verification_params(values: Mapping[str, str], cohort: int) -> dict[str, Any]:
    mode = values.get("mode", "rate")
    params: dict[str, Any] = {
        "snapshot_on": parse_date(values.get("snapshot_on"), "snapshot_on") or date(cohort, 9, 1),
        "seed": parse_number(values.get("seed"), "seed", int, low=0),
        "oversample": parse_number(values.get("oversample"), "oversample", float, default=3.0, low=1),
        "min_per_stratum": parse_number(values.get("min_per_stratum"), "min_per_stratum", int, default=2, low=2),
        "label": values.get("label", "").strip()[:200],
    }
    if mode == "size":
        params["per_institution"] = parse_number(values.get("per_institution"), "per_institution", int, low=1)
    else:
        params["rate"] = parse_number(values.get("rate"), "rate", float, low=0)
    return params


def survey_params(values: Mapping[str, str], cohort: int) -> dict[str, Any]:
    return {
        "seed": parse_number(values.get("seed"), "seed", int, low=0),
        "institutions_per_stratum": parse_number(values.get("institutions_per_stratum"), "institutions_per_stratum", int, default=2, low=1),
        "graduates_per_institution": parse_number(values.get("graduates_per_institution"), "graduates_per_institution", int, default=100, low=2),
        "snapshot_on": parse_date(values.get("snapshot_on"), "snapshot_on") or date(cohort, 12, 31),
        "label": values.get("label", "").strip()[:200],
    }


def verification_report(session: Session, draw: GraduateDraw) -> dict[str, Any]:
    """Allocation, outcome counts, estimates and ranking of a verification draw (estimates None before callbacks)."""
    frame = graduates_verification.sample_frame(session, draw)
    report: dict[str, Any] = {
        "allocation": draw.allocation,
        "outcomes": records(graduates_verification.outcome_counts(frame).reset_index()),
        "estimates": None,
        "ranking": None,
    }
    if (frame["outcome"] != "").any():
        table, ranked = graduates_verification.draw_estimates(session, draw)
        report["estimates"] = records(table)
        report["ranking"] = records(ranked)
    return report


def survey_report(session: Session, draw: GraduateDraw) -> dict[str, Any]:
    register = graduates_register.snapshot(session, draw.cohort)
    frame = graduates_survey.survey_frame(session, draw, register=register)
    summary = records(graduates_survey.response_summary(session, draw, frame=frame))
    tables = None
    if (frame["disposition"] == "respondent").any():
        estimates = graduates_survey.survey_estimates(session, draw, frame=frame, register=register)
        tables = {name: records(table) for name, table in estimates.items()}
    return {"responses": summary, "estimates": tables}


def group_label(name: str) -> str:
    label = GROUP_LABELS.get(name)
    return str(label) if label is not None else name
