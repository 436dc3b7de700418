"""Weighted estimates with confidence intervals by domain, with reporting-quality flags.

A request names a computed weighting scheme, variables, a statistic (mean, total, proportion,
ratio, quantile), optional domains (``by``), the confidence level and, for proportions, the
interval method. Rating items can be reported on the 0-100 scale (``scale="score100"``) or as
the share satisfied (``scale="satisfied"``, the top two points).

Quality rules (STATS.md), applied to every row before it leaves the system by
:func:`weighting.quality_flags` (the one implementation of the rules; flag names mapped to the
API's in :data:`FLAG_NAMES`):

- unweighted ``n`` < 5: suppressed (counts below 5 are never published);
- proportions (US NCHS 2017): effective sample size < 30 or CI width >= 0.30: suppressed;
  df < 8: flagged; CI width relative to the estimate > 130% (for intervals wider than 0.05):
  flagged;
- other statistics (Statistics Canada CV grades): CV <= 16.5% publish, 16.5-33.3% "caution",
  > 33.3% suppressed;
- no standard error: flagged.

Suppressed rows carry no value: ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``deff`` and ``cv``
are null (and ``n`` too when below 5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from survey_app.analysis.models import ApiToken
from survey_app.analysis.services import api_surveys, weighting_schemes
from survey_app.core import exporters
from survey_app.core.errors import ValidationFailed
from survey_app.projects.models import SurveyProject
from survey_app.questionnaires.services import codebook
from survey_app.questionnaires.services.codebook import (
    SATISFIED,
    SATISFIED_SUFFIX,
    SCORE_SUFFIX,
    STATISTIC_KINDS,
)
from weighting.errors import WeightingError
from weighting.quality import QualityRules, quality_flags

STATISTICS = tuple(STATISTIC_KINDS)


PROPORTION_CI = ("logit", "beta", "wilson", "wald")


SCALES = ("raw", "score100", "satisfied")


VALUE_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "deff", "cv")


RULES = QualityRules(hide_small_counts=True)


"""STATS.md reporting rules (library defaults); counts below 5 are blanked too."""


FLAG_NAMES = {
    "count": "count_below_5",
    "no_se": "no_variance",
    "effective_n": "effective_n_below_30",
    "ci_width": "ci_width_at_least_0.30",
    "df": "df_below_8",
    "relative_ci_width": "relative_ci_width_above_130pct",
    "cv_suppress": "cv_above_33.3pct",
    "cv_caution": "cv_16.5_to_33.3pct",
}


"""API flag name of each rule of :meth:`weighting.QualityRules.labels`."""


@dataclass(frozen=True)
class EstimateRequest:
    scheme_id: int
    variables: Sequence[str]
    statistic: str = "mean"
    by: Sequence[str] = ()
    level: float = 0.95
    ci_method: str | None = None
    scale: str = "raw"
    denominator: str | None = None
    quantiles: Sequence[float] = (0.5,)
    version: int | None = None

    @property
    def interval(self) -> str:
        """The interval method: as asked, else logit for proportions and t otherwise."""
        return self.ci_method or ("logit" if self.statistic == "proportion" else "t")

    def parameters(self) -> dict[str, Any]:
        return {
            "scheme_id": self.scheme_id, "version": self.version, "variables": list(self.variables),
            "statistic": self.statistic, "by": list(self.by), "level": self.level,
            "ci_method": self.interval, "scale": self.scale, "denominator": self.denominator,
            "quantiles": list(self.quantiles) if self.statistic == "quantile" else None,
        }


@dataclass
class EstimateResult:
    table: pd.DataFrame
    request: EstimateRequest
    scheme: dict[str, Any]
    probability_sample: bool
    notes: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """JSON-ready rows (``by`` as a mapping, NaN as null)."""
        by = list(self.request.by)
        out = []
        for record in self.table.to_dict(orient="records"):
            row = {k: _plain(v) for k, v in record.items() if k not in by}
            row["by"] = {k: _plain(record[k]) for k in by}
            out.append(row)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NA:
        return None
    return value


def _problem(field_name: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, {field_name: [message]})


def _check(request: EstimateRequest, catalogue: Mapping[str, codebook.Variable], columns: pd.Index) -> list[str]:
    """Validate the request against the variables; return the design columns to estimate."""
    if request.statistic not in STATISTICS:
        raise _problem("statistic", f"Unknown statistic {request.statistic!r}; use one of {', '.join(STATISTICS)}.")
    if request.scale not in SCALES:
        raise _problem("scale", f"Unknown scale {request.scale!r}; use one of {', '.join(SCALES)}.")
    if not 0.5 <= request.level < 1:
        raise _problem("level", f"The confidence level must be at least 0.5 and below 1, got {request.level}.")
    if request.statistic == "proportion" and request.interval not in PROPORTION_CI:
        raise _problem("ci_method", f"Unknown interval method {request.interval!r} for proportions; use one of {', '.join(PROPORTION_CI)}.")
    if request.statistic != "proportion" and request.interval != "t":
        raise _problem("ci_method", f"{request.statistic} estimates use the t interval with the design degrees of freedom (ci_method 't'); got {request.interval!r}.")
    if not request.variables:
        raise _problem("variables", "Name at least one variable.")

    def known(name: str, field_name: str) -> codebook.Variable:
        variable = catalogue.get(name)
        if variable is None or variable.identifying or name not in columns:
            raise _problem(field_name, f"Unknown variable {name!r}.")
        return variable

    for name in request.by:
        variable = known(name, "by")
        if variable.kind in ("text", "date") or (variable.kind == "numeric" and not variable.value_labels):
            raise _problem("by", f"Variable {name!r} ({variable.kind}) cannot define domains; use a categorical variable.")
    targets: list[str] = []
    for name in request.variables:
        variable = known(name, "variables")
        if request.scale != "raw":
            if codebook.rating_scale(variable) is None:
                raise _problem("scale", f"Scale {request.scale!r} needs a rating item (a numeric single choice such as 1-5); {name!r} is not one.")
            allowed = ("proportion",) if request.scale == "satisfied" else ("mean", "quantile")
            if request.statistic not in allowed:
                raise _problem("statistic", f"Scale {request.scale!r} is reported with statistic {' or '.join(allowed)}, not {request.statistic!r}.")
            targets.append(name + (SATISFIED_SUFFIX if request.scale == "satisfied" else SCORE_SUFFIX))
            continue
        if variable.kind not in STATISTIC_KINDS[request.statistic]:
            raise _problem("variables", f"Statistic {request.statistic!r} is not valid for {variable.kind} variable {name!r}.")
        targets.append(name)
    if request.statistic == "ratio":
        if request.denominator is None:
            raise _problem("denominator", "A ratio needs a denominator variable.")
        denominator = known(request.denominator, "denominator")
        if denominator.kind not in STATISTIC_KINDS["ratio"]:
            raise _problem("denominator", f"The denominator {request.denominator!r} must be numeric, not {denominator.kind}.")
    if request.statistic == "quantile" and not all(0 < q < 1 for q in request.quantiles):
        raise _problem("quantiles", "Quantiles must lie strictly between 0 and 1.")
    return targets


def _table(design: Any, request: EstimateRequest, targets: list[str]) -> pd.DataFrame:
    by = list(request.by) or None
    level = request.level
    statistic = request.statistic
    if statistic in ("mean", "total"):
        return getattr(design, statistic)(targets, by=by, level=level)
    if statistic == "ratio":
        return design.ratio(targets, [request.denominator], by=by, level=level)
    if statistic == "quantile":
        return pd.concat([design.quantile(t, list(request.quantiles), by=by, level=level) for t in targets], ignore_index=True)
    parts = [design.proportion(t, by=by, level=level, ci=request.interval) for t in targets]
    return pd.concat(parts, ignore_index=True)


def quality(table: pd.DataFrame, statistic: str) -> pd.DataFrame:
    """Add ``quality`` (publish/caution/suppress), ``flags`` and ``suppressed``; blank suppressed values.

    The rules are :func:`weighting.quality_flags` with :data:`RULES`; its flag labels are
    renamed to the API's flag names (:data:`FLAG_NAMES`).
    """
    checked = quality_flags(table, RULES, proportions=statistic == "proportion")
    names = {RULES.labels()[key]: name for key, name in FLAG_NAMES.items()}
    out = table.copy()
    for column in (*VALUE_COLUMNS, "n"):
        out[column] = checked[column]
    out["quality"] = checked["grade"]
    out["flags"] = [[names[label] for label in text.split("; ")] if text else [] for text in checked["flag"]]
    out["suppressed"] = checked["suppressed"]
    return out


def _relabel(table: pd.DataFrame, request: EstimateRequest) -> pd.DataFrame:
    out = table.copy()
    out["statistic"] = request.statistic
    out["scale"] = request.scale
    if request.scale == "satisfied":
        out = out[out["category"].astype(str) == SATISFIED].reset_index(drop=True)
        out["category"] = None
    suffix = {"score100": SCORE_SUFFIX, "satisfied": SATISFIED_SUFFIX}.get(request.scale)
    if suffix:
        out["variable"] = out["variable"].str.removesuffix(suffix)
    if "category" not in out.columns:
        out["category"] = None
    else:
        out["category"] = out["category"].map(_category_label, na_action="ignore").astype(object)
    if "quantile" not in out.columns:
        out["quantile"] = np.nan
    by = list(request.by)
    ordered = [*by, "variable", "statistic", "scale", "category", "quantile", "estimate", "se", "ci_low", "ci_high", "df", "n", "deff", "cv"]
    return out[ordered]


def _category_label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def estimate(session: Session, token: ApiToken, project: SurveyProject, request: EstimateRequest) -> EstimateResult:
    """Estimates of a computed weighting scheme; audited as an API read."""
    api_surveys.record_read(session, token, "estimates", project=project, parameters=request.parameters())
    weighted = weighting_schemes.weighted_data(session, project, request.scheme_id, request.version)
    design = weighted.result.design
    targets = _check(request, weighted.catalogue, weighted.result.frame.columns)
    try:
        table = _table(design, request, targets)
    except WeightingError as exc:
        raise ValidationFailed(str(exc), {"estimate": [str(exc)]}) from exc
    table = quality(_relabel(table, request), request.statistic)
    probability = bool(weighted.run.diagnostics.get("probability_sample"))
    notes = [] if probability else ["Non-probability sample (no sample draw): weights come from the adjustments only; intervals assume the weighting model holds."]
    return EstimateResult(
        table=table,
        request=request,
        scheme={"id": weighted.scheme.id, "name": weighted.scheme.name, "version": weighted.version.number, "run_id": weighted.run.id},
        probability_sample=probability,
        notes=notes,
    )


def flat_table(result: EstimateResult) -> pd.DataFrame:
    """The table as a file shows it: flags joined with ';'."""
    out = result.table.copy()
    out["flags"] = out["flags"].map(";".join)
    return out


def about_table(result: EstimateResult, project: SurveyProject) -> pd.DataFrame:
    items = [
        ("survey", project.code),
        ("scheme", f"{result.scheme['name']} (id {result.scheme['id']}) version {result.scheme['version']}, run {result.scheme['run_id']}"),
        ("statistic", result.request.statistic),
        ("scale", result.request.scale),
        ("confidence level", str(result.request.level)),
        ("interval", result.request.interval),
        ("probability sample", "yes" if result.probability_sample else "no"),
        ("quality rules", "n<5 suppressed; proportions: NCHS 2017 (effective n<30 or CI width>=0.30 suppressed, df<8 and relative CI width>130% with CI width>0.05 flagged); other statistics: CV>16.5% caution, CV>33.3% suppressed; no standard error flagged"),
        *[("note", note) for note in result.notes],
    ]
    return pd.DataFrame(items, columns=["item", "value"])


def export(result: EstimateResult, project: SurveyProject, file_format: str) -> exporters.Export:
    """The estimates as CSV (UTF-8 with BOM) or XLSX (sheets ``estimates`` and ``about``)."""
    name = f"{project.code}-{result.request.statistic}-estimates"
    table = flat_table(result)
    if file_format == "csv":
        return exporters.Export(f"{name}.csv", exporters.MIMETYPES["csv"], iter([exporters.csv_bytes(table)]))
    body = exporters.xlsx_bytes({"estimates": table, "about": about_table(result, project)})
    return exporters.Export(f"{name}.xlsx", exporters.MIMETYPES["xlsx"], iter([body]))
