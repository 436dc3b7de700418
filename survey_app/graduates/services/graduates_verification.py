"""Verification samples of the destination register and misreport-rate estimates.

Design: strata institution x destination group (:data:`VERIFICATION_GROUPS`); each institution
gets ``n_i`` (a rate of its registered graduates or a fixed size) allocated to its groups in
proportion to ``N_h * f_h`` with ``f_h = oversample`` for the inflation-prone groups (12 other
hiring forms, 75/76, legacy 77) and 1 otherwise (``sampling.allocate(method="neyman")`` with
``sd = f_h``), at least ``min_per_stratum`` per stratum, then simple random sampling without
replacement within strata (``sampling.draw_sample``, seeded, with its manifest).

Estimation uses ``weighting.Design(weights=design_weight, strata=stratum,
fpc=stratum_population)``. A sampled graduate is *reached* when the callback confirmed the
record or found a different destination; the misreport indicator (verified code differs from
the reported one) is missing for the others, so the main estimate is a domain estimate over the
reached graduates (unreached missing at random). Unreachable and refused rates are estimated
separately, and the sensitivity bounds set every unreached graduate to confirmed (lower) or
misreported (upper). Calls not yet made (no outcome) are left out of all figures.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, selectinload

import sampling
from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.errors import NotFound, ValidationFailed
from survey_app.core.pagination import page_within
from survey_app.graduates.models import (
    CallbackOutcome,
    DrawPurpose,
    Graduate,
    GraduateDraw,
    GraduateSampleUnit,
    Institution,
)
from survey_app.graduates.services.graduates_codes import (
    ALL_CODES,
    NOT_PLACED,
    VERIFICATION_GROUPS,
    VERIFICATION_PRONE_GROUPS,
    code_to_group,
)
from survey_app.graduates.services.graduates_register import (
    frame_of,
    read_csv_or_xlsx,
    snapshot,
)
from survey_app.projects.models import SurveyProject
from weighting import quality_flags
from weighting.design import Design

OUTCOME_ALIASES = {
    "confirmed": CallbackOutcome.CONFIRMED, "确认": CallbackOutcome.CONFIRMED, "属实": CallbackOutcome.CONFIRMED,
    "different": CallbackOutcome.DIFFERENT, "不一致": CallbackOutcome.DIFFERENT,
    "unreachable": CallbackOutcome.UNREACHABLE, "无法联系": CallbackOutcome.UNREACHABLE,
    "refused": CallbackOutcome.REFUSED, "拒绝": CallbackOutcome.REFUSED,
}


UNREACHED = (CallbackOutcome.UNREACHABLE.value, CallbackOutcome.REFUSED.value)


ESTIMATE_VARIABLES = ("misreport", "misreport_lower", "misreport_upper", "unreachable", "refused", "verified_placed", "reported_placed")


def allocation_table(
    frame: pd.DataFrame,
    *,
    rate: float | None = None,
    per_institution: int | None = None,
    oversample: float = 3.0,
    min_per_stratum: int = 2,
) -> pd.Series:
    """Stratum -> n_h for a verification frame with ``institution``, ``group`` and ``stratum``."""
    if (rate is None) == (per_institution is None):
        raise ValidationFailed(_("Give either a sampling rate or a sample size per institution."), {"rate": [_("one of rate or per_institution")]})
    if rate is not None and not 0 < rate <= 1:
        raise ValidationFailed(_("The sampling rate must be between 0 and 1."), {"rate": [str(rate)]})
    if per_institution is not None and per_institution < 1:
        raise ValidationFailed(_("The sample size per institution must be positive."), {"per_institution": [str(per_institution)]})
    if min_per_stratum < 2:  # two per stratum are needed for a variance; smaller strata are taken whole
        raise ValidationFailed(_("At least 2 graduates per stratum are needed."), {"min_per_stratum": [str(min_per_stratum)]})
    if oversample < 1:
        raise ValidationFailed(_("The oversampling factor must be at least 1."), {"oversample": [str(oversample)]})
    counts = frame.groupby(["institution", "stratum", "group"], sort=True).size().rename("N").reset_index()
    sizes: dict[str, int] = {}
    for institution, strata in counts.groupby("institution", sort=True):  # one allocation per institution
        population = pd.Series(strata["N"].to_numpy(), index=strata["stratum"].to_numpy())
        N_i = int(population.sum())
        n_i = int(round(rate * N_i)) if rate is not None else int(per_institution or 0)
        floor = int(np.minimum(population.to_numpy(), min_per_stratum).sum())
        n_i = min(max(n_i, floor), N_i)
        factor = pd.Series(np.where(strata["group"].isin(VERIFICATION_PRONE_GROUPS), oversample, 1.0), index=population.index)
        try:
            n_h = sampling.allocate(population, n_i, method="neyman", sd=factor, min_n=min_per_stratum)
        except sampling.SamplingError as exc:
            raise ValidationFailed(_("The allocation is not feasible."), {"institution": [f"{institution}: {exc}"]}) from exc
        sizes.update({str(k): int(v) for k, v in n_h.items()})
    return pd.Series(sizes)


def verification_frame(session: Session, cohort: int, on: date) -> pd.DataFrame:
    frame = snapshot(session, cohort, on)
    frame = frame[frame["destination_code"] != ""].reset_index(drop=True)
    if frame.empty:
        raise ValidationFailed(_("No registered destinations on this date."), {"snapshot_on": [on.isoformat()]})
    frame["group"] = frame["destination_code"].map(code_to_group(VERIFICATION_GROUPS))
    frame["stratum"] = frame["institution"] + "|" + frame["group"]
    return frame


def draw_verification_sample(
    session: Session,
    cohort: int,
    *,
    snapshot_on: date,
    seed: int,
    rate: float | None = None,
    per_institution: int | None = None,
    oversample: float = 3.0,
    min_per_stratum: int = 2,
    label: str = "",
    project: SurveyProject | None = None,
    actor: User | None = None,
) -> GraduateDraw:
    """Draw, store and log a verification sample of ``cohort`` (register as of ``snapshot_on``) for
    ``project`` (the callbacks belong to it; a draw without a project is for administrators only)."""
    frame = verification_frame(session, cohort, snapshot_on)
    n_h = allocation_table(frame, rate=rate, per_institution=per_institution, oversample=oversample, min_per_stratum=min_per_stratum)
    design_frame = frame[["graduate_id", "stratum", "destination_code"]]
    sample = sampling.draw_sample(design_frame, n_h, strata="stratum", rng=seed)
    parameters = {"rate": rate, "per_institution": per_institution, "oversample": oversample, "min_per_stratum": min_per_stratum,
                  "strata": "institution|destination group", "groups": {k: list(v) for k, v in VERIFICATION_GROUPS.items()},
                  "oversampled_groups": list(VERIFICATION_PRONE_GROUPS), "project_id": project.id if project is not None else None}
    draw = GraduateDraw(
        purpose=DrawPurpose.VERIFICATION, cohort=cohort, label=label or _("Verification sample"), snapshot_on=snapshot_on, seed=seed,
        sample_size=len(sample.units), parameters=parameters, allocation=sample.manifest.allocation, manifest=sample.manifest.to_dict(),
        created_by_id=actor.id if actor is not None else None,
    )
    session.add(draw)
    session.flush()
    units = sample.units
    session.execute(
        insert(GraduateSampleUnit),
        [
            {"draw_id": draw.id, "graduate_id": int(g), "stratum": s, "stratum_population": int(N), "inclusion_probability": float(p),
             "design_weight": float(w), "reported_code": c, "stage": {}, "answers": {}}
            for g, s, N, p, w, c in zip(units["graduate_id"], units["stratum"], units["stratum_population"], units["inclusion_probability"],
                                        units["design_weight"], units["destination_code"], strict=True)
        ],
    )
    audit.record(session, "graduates.verification_draw", actor=actor, object_type="graduate_draw", object_id=draw.id,
                 details={"cohort": cohort, "seed": seed, "sample_size": len(units), "snapshot_on": snapshot_on, **parameters})
    return draw


def get_draw(session: Session, draw_id: int, purpose: DrawPurpose | None = None) -> GraduateDraw:
    draw = session.get(GraduateDraw, draw_id)
    if draw is None or (purpose is not None and draw.purpose != purpose):
        raise NotFound(_("No such sample draw."))
    return draw


def list_draws(session: Session, purpose: DrawPurpose, cohort: int | None = None) -> list[GraduateDraw]:
    stmt = select(GraduateDraw).where(GraduateDraw.purpose == purpose).order_by(GraduateDraw.id.desc())
    if cohort is not None:
        stmt = stmt.where(GraduateDraw.cohort == cohort)
    return list(session.scalars(stmt))


def unit_page(session: Session, draw: GraduateDraw, *, pending_only: bool = True, page: int = 1,
              per_page: int = 50) -> list[GraduateSampleUnit]:
    """Sampled graduates of a draw for the callback list (pending calls first when asked)."""
    stmt = select(GraduateSampleUnit).where(GraduateSampleUnit.draw_id == draw.id)
    if pending_only:
        stmt = stmt.where(GraduateSampleUnit.outcome.is_(None))
    page = page_within(page, int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0), per_page)
    stmt = stmt.options(selectinload(GraduateSampleUnit.graduate)).order_by(GraduateSampleUnit.id)
    return list(session.scalars(stmt.offset((page - 1) * per_page).limit(per_page)))


def _check_outcome(outcome: str, verified_code: str, reported: str, attempts: int, min_attempts: int) -> dict[str, str]:
    errors: dict[str, str] = {}
    if outcome == CallbackOutcome.DIFFERENT.value:
        if verified_code not in ALL_CODES:
            errors["verified_code"] = _("a different destination needs the verified destination code")
        elif verified_code == reported:
            errors["verified_code"] = _("the verified code equals the reported code; record it as confirmed")
    elif verified_code:
        errors["verified_code"] = _("only a different destination has a verified code")
    if outcome == CallbackOutcome.UNREACHABLE.value and attempts < min_attempts:
        errors["attempts"] = _("unreachable needs at least %(n)d call attempts", n=min_attempts)
    if attempts < 0:
        errors["attempts"] = _("must not be negative")
    return errors


def record_outcome(
    session: Session,
    unit: GraduateSampleUnit,
    *,
    outcome: str,
    verified_code: str = "",
    attempts: int = 1,
    note: str = "",
    min_attempts: int = 3,
    actor: User | None = None,
) -> GraduateSampleUnit:
    """Record the callback outcome of one sampled graduate (replaces an earlier one, logged)."""
    parsed = OUTCOME_ALIASES.get(outcome.strip().lower())
    if parsed is None:
        raise ValidationFailed(_("The callback outcome is not valid."), {"outcome": [_("unknown outcome")]})
    verified_code = verified_code.strip()
    errors = _check_outcome(parsed.value, verified_code, unit.reported_code, attempts, min_attempts)
    if errors:
        raise ValidationFailed(_("The callback outcome is not valid."), {k: [v] for k, v in errors.items()})
    before = {"outcome": unit.outcome, "verified_code": unit.verified_code, "attempts": unit.attempts}
    unit.outcome, unit.verified_code, unit.attempts, unit.outcome_note = parsed, verified_code or None, attempts, note[:500]
    unit.outcome_recorded_at = datetime.now(UTC)
    unit.outcome_recorded_by_id = actor.id if actor is not None else None
    session.flush()
    audit.record(session, "graduates.callback_outcome", actor=actor, object_type="graduate_sample_unit", object_id=unit.id,
                 before=before, after={"outcome": parsed, "verified_code": verified_code, "attempts": attempts})
    return unit


def import_outcomes(session: Session, draw: GraduateDraw, data: bytes, filename: str, *, min_attempts: int = 3, actor: User | None = None) -> int:
    """Import callback outcomes (graduate_id, outcome, verified_code, attempts, note); all or nothing."""
    frame = read_csv_or_xlsx(data, filename)
    rename = {"毕业生编号": "graduate_id", "核查结果": "outcome", "核实去向代码": "verified_code", "拨打次数": "attempts", "备注": "note"}
    frame = frame.rename(columns={c: rename.get(str(c).strip(), str(c).strip().lower()) for c in frame.columns})
    missing = [c for c in ("graduate_id", "outcome") if c not in frame.columns]
    if missing:
        raise ValidationFailed(_("Required columns are missing."), {"columns": missing})
    for column in ("verified_code", "attempts", "note"):
        if column not in frame.columns:
            frame[column] = ""
    frame = frame.astype(str).apply(lambda s: s.str.strip())
    units = frame_of(session, select(GraduateSampleUnit.id, Graduate.graduate_key, GraduateSampleUnit.reported_code)
            .join(Graduate, Graduate.id == GraduateSampleUnit.graduate_id)
            .where(GraduateSampleUnit.draw_id == draw.id), ["unit_id", "graduate_id", "reported_code"])
    rows = frame.merge(units, on="graduate_id", how="left").set_axis(frame.index)
    rows["parsed"] = rows["outcome"].str.lower().map({k: v.value for k, v in OUTCOME_ALIASES.items()})
    rows["verified_code"] = rows["verified_code"].str.replace(r"\.0$", "", regex=True).map(lambda v: v.zfill(2) if v else v)
    rows["attempts_n"] = pd.to_numeric(rows["attempts"].replace("", "1"), errors="coerce")
    errors: list[dict[str, Any]] = []
    for idx, rec in rows.iterrows():  # row-level messages for a callback file of a few thousand rows
        line = int(idx) + 2
        if pd.isna(rec["unit_id"]):
            errors.append({"row": line, "column": "graduate_id", "message": _("is not in this sample")})
            continue
        if rec["parsed"] is None or pd.isna(rec["parsed"]):
            errors.append({"row": line, "column": "outcome", "message": _("unknown outcome")})
            continue
        if pd.isna(rec["attempts_n"]):
            errors.append({"row": line, "column": "attempts", "message": _("must be a whole number")})
            continue
        for column, message in _check_outcome(rec["parsed"], rec["verified_code"], rec["reported_code"], int(rec["attempts_n"]), min_attempts).items():
            errors.append({"row": line, "column": column, "message": message})
    duplicated = rows["graduate_id"].duplicated(keep="first")
    errors += [{"row": int(i) + 2, "column": "graduate_id", "message": _("appears twice in the file")} for i in rows.index[duplicated]]
    if errors:
        errors.sort(key=lambda e: e["row"])
        raise ValidationFailed(_("%(count)d errors; nothing was stored.", count=len(errors)), {"rows": errors[:500]})
    now = datetime.now(UTC)
    session.execute(
        update(GraduateSampleUnit),
        [
            {"id": int(r.unit_id), "outcome": CallbackOutcome(r.parsed), "verified_code": r.verified_code or None, "attempts": int(r.attempts_n),
             "outcome_note": r.note[:500], "outcome_recorded_at": now, "outcome_recorded_by_id": actor.id if actor is not None else None}
            for r in rows.itertuples()
        ],
    )
    audit.record(session, "graduates.callback_import", actor=actor, object_type="graduate_draw", object_id=draw.id,
                 details={"filename": filename, "rows": len(rows)})
    return len(rows)


def sample_frame(session: Session, draw: GraduateDraw) -> pd.DataFrame:
    """The sampled graduates of a draw with design columns, institution and callback outcome."""
    stmt = (
        select(GraduateSampleUnit.id, Graduate.graduate_key, Institution.code, GraduateSampleUnit.stratum, GraduateSampleUnit.stratum_population,
               GraduateSampleUnit.design_weight, GraduateSampleUnit.reported_code, GraduateSampleUnit.outcome, GraduateSampleUnit.verified_code,
               GraduateSampleUnit.attempts)
        .join(Graduate, Graduate.id == GraduateSampleUnit.graduate_id)
        .join(Institution, Institution.id == Graduate.institution_id)
        .where(GraduateSampleUnit.draw_id == draw.id)
        .order_by(GraduateSampleUnit.id)
    )
    frame = frame_of(session, stmt, ["unit_id", "graduate_key", "institution", "stratum", "stratum_population", "design_weight",
                                  "reported_code", "outcome", "verified_code", "attempts"])
    frame["outcome"] = frame["outcome"].map(lambda v: getattr(v, "value", v)).fillna("")
    frame["verified_code"] = frame["verified_code"].fillna("")
    return frame


def indicators(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the 0/1 analysis variables (NaN = missing) to a :func:`sample_frame`."""
    out = frame.copy()
    outcome = out["outcome"]
    called = outcome != ""
    reached = outcome.isin([CallbackOutcome.CONFIRMED.value, CallbackOutcome.DIFFERENT.value])
    unreached = outcome.isin(UNREACHED)
    different = (outcome == CallbackOutcome.DIFFERENT.value).astype(float)
    out["misreport"] = different.where(reached)
    out["misreport_lower"] = different.where(called)  # unreached counted as confirmed
    out["misreport_upper"] = (different.astype(bool) | unreached).astype(float).where(called)  # unreached counted as misreported
    out["unreachable"] = (outcome == CallbackOutcome.UNREACHABLE.value).astype(float).where(called)
    out["refused"] = (outcome == CallbackOutcome.REFUSED.value).astype(float).where(called)
    verified = out["verified_code"].where(out["verified_code"] != "", out["reported_code"])
    out["verified_placed"] = (~verified.isin(NOT_PLACED)).astype(float).where(reached)
    out["reported_placed"] = (~out["reported_code"].isin(NOT_PLACED)).astype(float).where(reached)
    return out


def design(frame: pd.DataFrame) -> Design:
    """The verification design: strata institution x group, FPC = stratum population."""
    return Design(frame, weights="design_weight", strata="stratum", fpc="stratum_population", lonely_psu="certainty")


def _binary(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The category-1 rows of a 0/1 proportion table (derived from category 0 when 1 is absent)."""
    cat = table["category"].astype(float)
    ones = table[cat == 1.0].set_index([*by, "variable"]) if by else table[cat == 1.0].set_index("variable")
    zeros = table[cat == 0.0].set_index([*by, "variable"]) if by else table[cat == 0.0].set_index("variable")
    flipped = zeros.assign(estimate=1 - zeros["estimate"], ci_low=1 - zeros["ci_high"], ci_high=1 - zeros["ci_low"],
                           cv=np.where(zeros["estimate"] < 1, zeros["se"] / np.maximum(1 - zeros["estimate"], 1e-300), np.nan))
    combined = pd.concat([ones, flipped[~flipped.index.isin(ones.index)]])
    return combined.drop(columns="category").reset_index()


def estimates(frame: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """Tidy estimates for every variable of :data:`ESTIMATE_VARIABLES`, overall and per institution.

    Columns: ``institution`` (``"*"`` overall), ``variable``, ``estimate, se, ci_low, ci_high, df,
    n, deff, cv`` (logit intervals from ``weighting``), ``grade`` and ``flag`` (NCHS 2017 rules as
    review flags, values not blanked), plus ``pending`` and ``sampled`` counts.
    """
    data = indicators(frame)
    for name in ESTIMATE_VARIABLES:
        data[name] = pd.Categorical(data[name], categories=[0.0, 1.0])
    dsg = design(data)
    parts = []
    for by in ([], ["institution"]):
        results = [_binary(dsg.proportion(name, by=by or None, level=level), by) for name in ESTIMATE_VARIABLES]
        table = pd.concat(results, ignore_index=True)
        if not by:
            table.insert(0, "institution", "*")
        parts.append(table)
    table = pd.concat(parts, ignore_index=True)
    # NCHS 2017 proportion rules as review flags; values stay visible (internal follow-up, not publication)
    graded = quality_flags(table, proportions=True)
    table["grade"], table["flag"] = graded["grade"].to_numpy(), graded["flag"].to_numpy()
    counts = data.assign(pending=(data["outcome"] == "").astype(int), sampled=1)
    per = counts.groupby("institution")[["pending", "sampled"]].sum()
    per.loc["*"] = counts[["pending", "sampled"]].sum()
    table = table.merge(per, left_on="institution", right_index=True, how="left")
    table["_overall"] = table["institution"] != "*"
    table["_var"] = table["variable"].map({v: i for i, v in enumerate(ESTIMATE_VARIABLES)})
    return table.sort_values(["_overall", "institution", "_var"]).drop(columns=["_overall", "_var"]).reset_index(drop=True)


def ranking(table: pd.DataFrame) -> pd.DataFrame:
    """Institutions by the lower confidence bound of their misreport rate (highest first)."""
    mis = table[(table["variable"] == "misreport") & (table["institution"] != "*")]
    bounds = table[table["variable"].isin(["misreport_lower", "misreport_upper", "unreachable"])].pivot(
        index="institution", columns="variable", values="estimate")
    out = mis.set_index("institution")[["estimate", "ci_low", "ci_high", "n", "pending", "sampled"]].join(bounds)
    out = out.sort_values(["ci_low", "estimate"], ascending=False)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index()


def draw_estimates(session: Session, draw: GraduateDraw, *, level: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Estimates and ranking of a verification draw (raises when no outcome is recorded yet)."""
    frame = sample_frame(session, draw)
    if (frame["outcome"] == "").all():
        raise ValidationFailed(_("No callback outcomes are recorded for this sample yet."), {"draw": [str(draw.id)]})
    table = estimates(frame, level=level)
    return table, ranking(table)


def outcome_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Sampled graduates per institution and outcome (``pending`` for calls not made)."""
    outcome = frame["outcome"].replace("", "pending")
    return pd.crosstab(frame["institution"], outcome).reindex(columns=["confirmed", "different", "unreachable", "refused", "pending"], fill_value=0)
