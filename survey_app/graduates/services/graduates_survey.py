"""The graduate employment sample survey: two-stage draw, responses, weighting and estimates.

Design: institutions (PSUs) in strata institution province x institution type, simple random
sampling of ``institutions_per_stratum`` in each, then ``graduates_per_institution`` graduates by
simple random sampling within each selected institution (``sampling.draw_two_stage_sample``).

Weighting (``weighting.Design(psu=[institution, graduate], fpc=[stage-1 PSU count, stage-2
graduate count], strata=PSU stratum)``):

1. nonresponse adjustment in classes institution x degree (a class with fewer than
   ``min_class_respondents`` respondents is collapsed to its institution);
2. linear calibration to register totals of degree x sex (crossed) and province of origin
   (provinces with fewer than ``min_province_respondents`` respondents are pooled as "other"
   in both the sample and the register totals).

Estimates with t intervals on the design degrees of freedom: employment rate, mean monthly
salary of the employed, job-major match, job satisfaction and satisfaction with the school's
career services (1-5 scales, "don't know" missing), by degree, discipline and region.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

import sampling
from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.errors import ValidationFailed
from survey_app.graduates.models import (
    DrawPurpose,
    Graduate,
    GraduateDraw,
    GraduateSampleUnit,
    SurveyDisposition,
)
from survey_app.graduates.services.graduates_register import frame_of, snapshot
from survey_app.projects.models import SurveyProject
from weighting import quality_flags
from weighting.design import Design

#: Answer variables of the employment questionnaire (names as in the demo questionnaire).
NUMERIC_ANSWERS = ("employed", "salary", "job_match", "job_satisfaction", "satisfied")


#: 0/1 answers whose means are proportions.
PROPORTIONS = ("employed",)


ESTIMATE_BY = ("degree", "discipline", "region")


OTHER = "其他 other"


def draw_survey_sample(
    session: Session,
    cohort: int,
    *,
    seed: int,
    institutions_per_stratum: int = 2,
    graduates_per_institution: int = 100,
    snapshot_on: date | None = None,
    label: str = "",
    project: SurveyProject | None = None,
    actor: User | None = None,
) -> GraduateDraw:
    """Draw and store a two-stage sample of graduates of ``cohort`` (institutions, then graduates) for
    ``project`` (its fieldwork runs there; a draw without a project is for administrators only)."""
    if institutions_per_stratum < 1 or graduates_per_institution < 2:
        raise ValidationFailed(_("The sample sizes are too small."), {"graduates_per_institution": [str(graduates_per_institution)]})
    frame = snapshot(session, cohort, snapshot_on)
    if frame.empty:
        raise ValidationFailed(_("No graduates are registered for this cohort."), {"cohort": [str(cohort)]})
    frame["psu_stratum"] = frame["institution_province"].replace("", "-") + "|" + frame["institution_type"].replace("", "-")
    per_stratum = frame.groupby("psu_stratum")["institution"].nunique()
    n_psu = {str(k): int(min(institutions_per_stratum, v)) for k, v in per_stratum.items()}
    design_frame = frame[["graduate_id", "institution", "psu_stratum", "destination_code"]]
    sample = sampling.draw_two_stage_sample(design_frame, psu="institution", n_psu=n_psu, n_units=graduates_per_institution,
                                            strata="psu_stratum", rng=seed)
    parameters = {"institutions_per_stratum": institutions_per_stratum, "graduates_per_institution": graduates_per_institution,
                  "strata": "institution province|institution type", "psu": "institution",
                  "project_id": project.id if project is not None else None}
    draw = GraduateDraw(purpose=DrawPurpose.SURVEY, cohort=cohort, label=label or _("Employment sample survey"),
                        snapshot_on=snapshot_on or date.today(), seed=seed, sample_size=len(sample.units), parameters=parameters,
                        allocation=sample.manifest.allocation, manifest=sample.manifest.to_dict(),
                        created_by_id=actor.id if actor is not None else None)
    session.add(draw)
    session.flush()
    u = sample.units
    stage_columns = ["stage1_inclusion_probability", "stage1_population", "stage2_inclusion_probability", "stage2_population"]
    stages = u[stage_columns].astype(float).to_dict("records")
    session.execute(
        insert(GraduateSampleUnit),
        [
            {"draw_id": draw.id, "graduate_id": int(g), "stratum": s, "stratum_population": int(st["stage1_population"]),
             "inclusion_probability": float(p), "design_weight": float(w), "reported_code": c, "stage": st, "answers": {}}
            for g, s, p, w, c, st in zip(u["graduate_id"], u["psu_stratum"], u["inclusion_probability"], u["design_weight"],
                                         u["destination_code"], stages, strict=True)
        ],
    )
    audit.record(session, "graduates.survey_draw", actor=actor, object_type="graduate_draw", object_id=draw.id,
                 details={"cohort": cohort, "seed": seed, "sample_size": len(u), **parameters})
    return draw


def store_responses(session: Session, draw: GraduateDraw, responses: pd.DataFrame, *, actor: User | None = None) -> int:
    """Store dispositions and answers: ``responses`` has ``graduate_key``, ``disposition`` and answer columns."""
    units = frame_of(session, select(GraduateSampleUnit.id, Graduate.graduate_key).join(Graduate, Graduate.id == GraduateSampleUnit.graduate_id)
                        .where(GraduateSampleUnit.draw_id == draw.id), ["unit_id", "graduate_key"])
    rows = responses.merge(units, on="graduate_key", how="left")
    errors: dict[str, list[str]] = {}
    unknown = rows.loc[rows["unit_id"].isna(), "graduate_key"].tolist()
    if unknown:
        errors["graduate_key"] = [_("not in this sample: %(keys)s", keys=", ".join(map(str, unknown[:10])))]
    bad = sorted(set(rows["disposition"]) - {d.value for d in SurveyDisposition})
    if bad:
        errors["disposition"] = [", ".join(map(str, bad))]
    if errors:
        raise ValidationFailed(_("The responses do not match the sample."), errors)
    answer_columns = [c for c in responses.columns if c not in ("graduate_key", "disposition")]
    answers = rows[answer_columns].astype(object).where(rows[answer_columns].notna(), None).to_dict("records")
    session.execute(
        update(GraduateSampleUnit),
        [{"id": int(i), "disposition": SurveyDisposition(d), "answers": {k: v for k, v in a.items() if v is not None}}
         for i, d, a in zip(rows["unit_id"], rows["disposition"], answers, strict=True)],
    )
    audit.record(session, "graduates.survey_responses", actor=actor, object_type="graduate_draw", object_id=draw.id,
                 details={"rows": len(rows), "respondents": int((rows["disposition"] == "respondent").sum())})
    return len(rows)


def survey_frame(session: Session, draw: GraduateDraw, *, register: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per sampled graduate: design columns, register attributes, disposition, answers.

    ``reported_code`` is the register destination on the draw's snapshot date.
    """
    register = snapshot(session, draw.cohort) if register is None else register
    units = frame_of(session, select(GraduateSampleUnit.graduate_id, GraduateSampleUnit.stratum, GraduateSampleUnit.design_weight,
                               GraduateSampleUnit.stage, GraduateSampleUnit.disposition, GraduateSampleUnit.answers, GraduateSampleUnit.reported_code)
                        .where(GraduateSampleUnit.draw_id == draw.id).order_by(GraduateSampleUnit.id),
                        ["graduate_id", "psu_stratum", "design_weight", "stage", "disposition", "answers", "reported_code"])
    stage = pd.DataFrame(units.pop("stage").tolist(), index=units.index)
    answers = pd.DataFrame(units.pop("answers").tolist(), index=units.index)
    for column in NUMERIC_ANSWERS:
        answers[column] = pd.to_numeric(answers[column], errors="coerce") if column in answers else np.nan
    units["disposition"] = units["disposition"].map(lambda v: getattr(v, "value", v)).fillna(SurveyDisposition.UNKNOWN.value)
    frame = units.join(stage).join(answers[list(NUMERIC_ANSWERS)])
    frame = frame.merge(register.drop(columns=["destination_code"]), on="graduate_id", how="left")
    frame["region"] = frame["province"]
    frame.loc[frame["employed"] != 1, "salary"] = np.nan  # salary of the employed only
    return frame


def nonresponse_classes(frame: pd.DataFrame, min_respondents: int) -> pd.Series:
    """Institution x degree, collapsed to the institution where a class has too few respondents."""
    fine = frame["institution"] + "|" + frame["degree"]
    respondents = (frame["disposition"] == SurveyDisposition.RESPONDENT.value).groupby(fine).transform("sum")
    return fine.where(respondents >= min_respondents, frame["institution"] + "|*")


def _pool(register: pd.Series, sample: pd.Series, respondents: pd.Series, parent: dict[str, str], min_n: int) -> tuple[pd.Series, pd.Series]:
    """Replace levels with fewer than ``min_n`` respondents by their ``parent`` level (in both)."""
    counts = sample[respondents].value_counts()
    levels = set(register) | set(sample)
    mapping = {v: (v if counts.get(v, 0) >= min_n else parent.get(v, OTHER)) for v in levels}
    return register.map(mapping), sample.map(mapping)


def calibration_totals(register: pd.DataFrame, sample: pd.DataFrame, *, min_cell_respondents: int = 5,
                       min_province_respondents: int = 20) -> tuple[dict[str, Any], pd.DataFrame]:
    """Register totals for calibration and the sample's matching auxiliary columns.

    Auxiliaries: degree x sex cells (a cell with fewer than ``min_cell_respondents``
    respondents is pooled into its degree, a degree still below that into one pooled level) and
    province of origin (provinces below ``min_province_respondents`` pooled as "other", merged
    into the largest province if still too small). Raises when even the pooled levels have no
    respondents (calibration is infeasible).
    """
    respondents = sample["disposition"] == SurveyDisposition.RESPONDENT.value
    reg_cell, smp_cell = register["degree"] + "|" + register["sex"], sample["degree"] + "|" + sample["sex"]
    parent = {v: v.split("|")[0] + "|*" for v in set(reg_cell) | set(smp_cell)}
    reg_cell, smp_cell = _pool(reg_cell, smp_cell, respondents, parent, min_cell_respondents)
    reg_cell, smp_cell = _pool(reg_cell, smp_cell, respondents, {}, min_cell_respondents)
    reg_prov, smp_prov = _pool(register["province"], sample["province"], respondents, {}, min_province_respondents)
    counts = smp_prov[respondents].value_counts()
    if counts.get(OTHER, 0) < min_province_respondents and len(counts) > 1:
        largest = counts.drop(OTHER, errors="ignore").idxmax()
        reg_prov, smp_prov = reg_prov.replace(OTHER, largest), smp_prov.replace(OTHER, largest)
    aux = pd.DataFrame({"cal_degree_sex": smp_cell, "cal_province": smp_prov}, index=sample.index)
    for column, values in (("cal_degree_sex", reg_cell), ("cal_province", reg_prov)):
        empty = sorted(set(values) - set(aux.loc[respondents, column]))
        if empty:
            raise ValidationFailed(_("Calibration is not feasible: register groups without respondents."), {column: empty[:10]})
    totals = {"cal_degree_sex": {str(k): float(v) for k, v in reg_cell.value_counts().items()},
              "cal_province": {str(k): float(v) for k, v in reg_prov.value_counts().items()}}
    return totals, aux


def weighted_design(frame: pd.DataFrame, register: pd.DataFrame, *, min_class_respondents: int = 5) -> Design:
    """Design -> nonresponse adjustment (institution x degree) -> calibration to register totals."""
    data = frame.copy()
    data["nr_class"] = nonresponse_classes(data, min_class_respondents)
    totals, aux = calibration_totals(register, data)
    data = data.join(aux)
    data["unit"] = np.arange(len(data))
    base = Design(data, weights="design_weight", strata="psu_stratum", psu=["institution", "unit"],
                  fpc=["stage1_population", "stage2_population"], lonely_psu="certainty")
    return base.adjust_nonresponse("disposition", classes="nr_class").calibrate(totals)


def survey_estimates(session: Session, draw: GraduateDraw, *, level: float = 0.95,
                     frame: pd.DataFrame | None = None, register: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Tidy estimate tables: ``overall`` and one per dimension of :data:`ESTIMATE_BY`."""
    register = snapshot(session, draw.cohort) if register is None else register
    frame = survey_frame(session, draw, register=register) if frame is None else frame
    if not (frame["disposition"] == SurveyDisposition.RESPONDENT.value).any():
        raise ValidationFailed(_("No survey responses are recorded for this sample yet."), {"draw": [str(draw.id)]})
    dsg = weighted_design(frame, register)
    variables = list(NUMERIC_ANSWERS)
    out = {"overall": with_quality(dsg.mean(variables, level=level))}
    for by in ESTIMATE_BY:
        out[by] = with_quality(dsg.mean(variables, by=by, level=level))
    return out


def with_quality(table: pd.DataFrame) -> pd.DataFrame:
    """Reporting rules before publication (``weighting.quality_flags``): the employment rate is a
    proportion (NCHS 2017), the other indicators are means (CV grades); suppressed values blanked."""
    share = table["variable"].isin(PROPORTIONS).to_numpy()
    parts = [quality_flags(table[share], proportions=True), quality_flags(table[~share], proportions=False)]
    return pd.concat(parts).sort_index().drop(columns=["n_eff"], errors="ignore")


def response_summary(session: Session, draw: GraduateDraw, *, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sampled graduates and dispositions per institution (response rate)."""
    frame = survey_frame(session, draw) if frame is None else frame
    table = pd.crosstab(frame["institution"], frame["disposition"])
    for d in SurveyDisposition:
        if d.value not in table:
            table[d.value] = 0
    table = table[[d.value for d in SurveyDisposition]]
    table["sampled"] = table.sum(axis=1)
    table["response_rate"] = table["respondent"] / (table["respondent"] + table["nonrespondent"] + table["unknown"]).replace(0, np.nan)
    return table.reset_index()
