"""Demo graduate register: a synthetic cohort, a verification sample and survey responses.

Everything is synthetic and seeded (no real person): ten institutions in two provinces and two
institution types, about 30,000 graduates of the 2026 cohort imported per institution through
the register importer (identifying fields encrypted), destination changes after 1 September, a
small 2019 cohort with the legacy codes 77 and 99, a verification sample with callback outcomes
(some institutions inflate "other hiring forms" and flexible employment), and a two-stage
employment sample survey. The employment questionnaire's variable names follow the demo
graduate questionnaire (``destination``, ``employed``, ``salary``, ``job_match``, ``satisfied``),
plus ``job_satisfaction``. When the ``graduate-employment-2026`` project has its published
employment questionnaire, the survey sample is put into fieldwork there (frame, sample draw,
personal invitations), the synthetic answers are submitted as questionnaire responses and read
back with :func:`graduates_fieldwork.collect`; otherwise they are stored with the sample.
Idempotent: nothing is added when the 2026 cohort exists.

Under ``app.testing`` the cohort is scaled down to 5% (setting ``GRADUATE_DEMO_SCALE``) so test
suites that load the whole demo stay fast. Without an application context (no encryption key)
the graduate demo is skipped and a log message says so.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from flask import current_app, has_app_context
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from survey_app.accounts.models import User
from survey_app.core.personal_data import uscc_check_character
from survey_app.fieldwork.models import FrameUnit, Invitation, InvitationStatus, SampleUnit
from survey_app.graduates.models import Graduate
from survey_app.graduates.services import (
    graduates_fieldwork,
    graduates_register,
    graduates_survey,
    graduates_verification,
)
from survey_app.graduates.services.graduates_codes import EMPLOYED
from survey_app.graduates.services.graduates_register import frame_of
from survey_app.projects.models import SurveyProject
from survey_app.questionnaires.services import questionnaires
from survey_app.respond.models import Response, ResponseStatus

log = logging.getLogger(__name__)


COHORT = 2026


PROJECT = "graduate-employment-2026"


LEGACY_COHORT = 2019


SEED = 20260901


# code, name, type, province, graduates, inflation (share of "12"/"77"-type reports that are false)
INSTITUTIONS = [
    ("10001", "示范大学", "本科院校", "示范省", 5200, 0.05),
    ("10002", "示范理工大学", "本科院校", "示范省", 4100, 0.25),
    ("10003", "示范师范大学", "本科院校", "示范省", 3300, 0.08),
    ("10004", "示范财经大学", "本科院校", "邻近省", 2600, 0.12),
    ("10005", "示范医科大学", "本科院校", "邻近省", 2200, 0.04),
    ("12001", "示范职业技术学院", "高职院校", "示范省", 3400, 0.35),
    ("12002", "示范交通职业学院", "高职院校", "示范省", 2500, 0.10),
    ("12003", "示范商贸职业学院", "高职院校", "邻近省", 2300, 0.20),
    ("12004", "示范卫生职业学院", "高职院校", "邻近省", 1900, 0.06),
    ("12005", "示范工程职业学院", "高职院校", "邻近省", 2100, 0.15),
]


COLLEGES = [("机械工程学院", "工学", ["机械设计", "车辆工程"]), ("信息学院", "工学", ["计算机科学", "软件工程", "通信工程"]),
            ("数理学院", "理学", ["数学", "统计学"]), ("经济管理学院", "管理学", ["会计学", "工商管理", "金融学"]),
            ("文学院", "文学", ["汉语言文学", "英语"]), ("医学院", "医学", ["临床医学", "护理学"]),
            ("教育学院", "教育学", ["学前教育", "小学教育"])]


PROVINCES = ["示范省", "邻近省", "广东", "浙江", "四川", "河南", "湖南", "江西"]


PROVINCE_P = [0.55, 0.15, 0.06, 0.05, 0.06, 0.05, 0.04, 0.04]


SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")


GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰")


# destination code shares: bachelor-type and vocational-type institutions
CODES = ["10", "11", "12", "27", "46", "50", "51", "75", "76", "80", "85", "70", "71", "72"]


SHARES_BACHELOR = [0.22, 0.20, 0.08, 0.01, 0.01, 0.02, 0.02, 0.02, 0.04, 0.17, 0.05, 0.10, 0.05, 0.01]


SHARES_VOCATIONAL = [0.18, 0.24, 0.16, 0.00, 0.02, 0.01, 0.02, 0.05, 0.08, 0.10, 0.00, 0.10, 0.02, 0.02]


LEGACY_CODES = ["10", "11", "12", "77", "80", "85", "99", "70", "71", "72"]


LEGACY_SHARES = [0.25, 0.20, 0.10, 0.12, 0.12, 0.03, 0.05, 0.09, 0.03, 0.01]


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])


def _id_numbers(rng: np.random.Generator, n: int, born: int) -> list[str]:
    area = rng.choice([110105, 310104, 440106, 330106, 510107, 410102], size=n)
    day = pd.Timestamp(f"{born}-01-01") + pd.to_timedelta(rng.integers(0, 365 * 2, size=n), unit="D")
    body = [f"{a}{d:%Y%m%d}{s:03d}" for a, d, s in zip(area, day, rng.integers(0, 1000, size=n), strict=True)]
    digits = np.array([list(b) for b in body], dtype=np.int64)
    checks = np.array(list("10X98765432"))[(digits @ _ID_WEIGHTS) % 11]
    return [b + c for b, c in zip(body, checks, strict=True)]


def _employers(rng: np.random.Generator, n: int = 400) -> pd.DataFrame:
    bodies = [f"91{rng.integers(110000, 660000):06d}{rng.integers(0, 10**9):09d}" for _ in range(n)]
    return pd.DataFrame({"employer_name": [f"示范{i:03d}{rng.choice(['科技', '制造', '贸易', '医疗', '教育', '咨询'])}有限公司" for i in range(n)],
                         "employer_uscc": [b + (uscc_check_character(b) or "0") for b in bodies]})


def _institution_rows(rng: np.random.Generator, inst: tuple[Any, ...], cohort: int, codes: list[str], shares: list[float],
                      employers: pd.DataFrame, scale: float) -> pd.DataFrame:
    code, name, kind, province, n, _inflation = inst
    vocational = kind == "高职院校"
    n = max(40, int(n * scale) // (1 if cohort == COHORT else 6))
    college = rng.integers(0, len(COLLEGES), size=n)
    majors = [COLLEGES[c][2][rng.integers(0, len(COLLEGES[c][2]))] for c in college]
    degree = np.where(vocational, "专科", rng.choice(["本科", "硕士", "博士"], size=n, p=[0.76, 0.2, 0.04]))
    destination = rng.choice(codes, size=n, p=np.asarray(shares) / np.sum(shares))
    boss = rng.integers(0, len(employers), size=n)
    has_employer = np.isin(destination, ["10", "11", "12"])
    registered = pd.Timestamp(f"{cohort}-06-15") + pd.to_timedelta(rng.integers(0, 40, size=n), unit="D")
    return pd.DataFrame({
        "graduate_id": [f"{cohort}{code}{i:05d}" for i in range(n)],
        "institution_code": code, "institution_name": name, "institution_type": kind, "institution_province": province,
        "college": [COLLEGES[c][0] for c in college], "major": majors, "discipline": [COLLEGES[c][1] for c in college],
        "degree": degree, "sex": rng.choice(["男", "女"], size=n), "province": rng.choice(PROVINCES, size=n, p=PROVINCE_P),
        "destination_code": destination,
        "employer_name": np.where(has_employer, employers["employer_name"].to_numpy()[boss], ""),
        "employer_uscc": np.where(has_employer, employers["employer_uscc"].to_numpy()[boss], ""),
        "registered_on": registered.strftime("%Y-%m-%d"), "confirmed_on": (registered + timedelta(days=20)).strftime("%Y-%m-%d"),
        "name": [SURNAMES[a] + GIVEN[b] + (GIVEN[c] if c % 2 else "") for a, b, c in zip(
            rng.integers(0, len(SURNAMES), n), rng.integers(0, len(GIVEN), n), rng.integers(0, len(GIVEN), n), strict=True)],
        "id_number": _id_numbers(rng, n, cohort - 22),
        "phone": [f"1{p}" for p in rng.integers(3_000_000_000, 9_999_999_999, size=n)],
    })


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL)
    return buffer.getvalue().encode("utf-8")


def _outcomes(rng: np.random.Generator, frame: pd.DataFrame) -> bytes:
    """Synthetic callback results: inflating institutions' prone reports are often false."""
    inflation = {i[0]: i[5] for i in INSTITUTIONS}
    prone = frame["reported_code"].isin(["12", "75", "76"])
    p_false = np.where(prone, frame["institution"].map(inflation).to_numpy(), 0.02)
    u = rng.random(len(frame))
    outcome = np.where(u < 0.07, "unreachable", np.where(u < 0.10, "refused", np.where(rng.random(len(frame)) < p_false, "different", "confirmed")))
    verified = np.where(outcome == "different", np.where(frame["reported_code"] == "70", "11", rng.choice(["70", "72", "71"], size=len(frame))), "")
    attempts = np.where(outcome == "unreachable", 3, rng.integers(1, 3, size=len(frame)))
    return _csv(pd.DataFrame({"graduate_id": frame["graduate_key"], "outcome": outcome, "verified_code": verified, "attempts": attempts}))


def _responses(rng: np.random.Generator, frame: pd.DataFrame) -> pd.DataFrame:
    """Synthetic answers to the employment questionnaire, with response propensity by degree."""
    n = len(frame)
    propensity = frame["degree"].map({"junior_college": 0.62, "bachelor": 0.72, "master": 0.8, "doctor": 0.85}).to_numpy()
    respond = rng.random(n) < propensity
    employed = frame["destination_code"].isin(EMPLOYED).to_numpy()
    base = frame["degree"].map({"junior_college": 4300, "bachelor": 6100, "master": 9200, "doctor": 13500}).to_numpy()
    salary = np.round(base * rng.lognormal(0, 0.35, size=n), -1)
    match = np.clip(np.round(rng.normal(3.6, 1.0, size=n)), 1, 5)
    dont_know = rng.random(n) < 0.05
    return pd.DataFrame({
        "graduate_key": frame["graduate_key"],
        "disposition": np.where(respond, "respondent", "nonrespondent"),
        "employed": np.where(respond, employed.astype(float), np.nan),
        "salary": np.where(respond & employed, salary, np.nan),
        "job_match": np.where(respond & employed & ~dont_know, match, np.nan),
        "job_satisfaction": np.where(respond & employed, np.clip(np.round(rng.normal(3.8, 0.9, size=n)), 1, 5), np.nan),
        "satisfied": np.where(respond, np.clip(np.round(rng.normal(3.9, 0.9, size=n)), 1, 5), np.nan),
    })


def load(session: Session, summary: Any) -> None:
    """Load the demo register, verification sample and survey sample (the caller commits)."""
    if not has_app_context():
        log.warning("graduate demo skipped: it needs the application context for the encryption key")
        return
    if session.scalar(select(func.count()).select_from(Graduate).where(Graduate.cohort == COHORT)):
        summary.existing.append(f"graduate register {COHORT}")
        return
    scale = float(current_app.config.get("GRADUATE_DEMO_SCALE", 0.05 if current_app.testing else 1.0))
    rng = np.random.default_rng(SEED)
    employers = _employers(rng)
    actor = session.scalar(select(User).where(User.email == "designer@strata.example"))
    late: list[pd.DataFrame] = []
    legacy: list[pd.DataFrame] = []
    for inst in INSTITUTIONS:
        shares = SHARES_VOCATIONAL if inst[2] == "高职院校" else SHARES_BACHELOR
        rows = _institution_rows(rng, inst, COHORT, CODES, shares, employers, scale)
        graduates_register.import_graduates(session, _csv(rows), f"{inst[0]}-{COHORT}.csv", cohort=COHORT, actor=actor)
        seekers = rows[rows["destination_code"] == "70"]
        found = seekers.sample(frac=0.45, random_state=int(rng.integers(1 << 31)))
        boss = rng.integers(0, len(employers), size=len(found))
        late.append(found.assign(destination_code=rng.choice(["10", "11"], size=len(found)),
                                 employer_name=employers["employer_name"].to_numpy()[boss],
                                 employer_uscc=employers["employer_uscc"].to_numpy()[boss]))
        legacy.append(_institution_rows(rng, inst, LEGACY_COHORT, LEGACY_CODES, LEGACY_SHARES, employers, scale))
    # the old cohort comes as one provincial file
    graduates_register.import_graduates(session, _csv(pd.concat(legacy)), f"province-{LEGACY_COHORT}.csv", cohort=LEGACY_COHORT, actor=actor)
    graduates_register.import_graduates(session, _csv(pd.concat(late)), f"changes-{COHORT}.csv", cohort=COHORT,
                                        effective_on=date(COHORT, 10, 15), actor=actor)
    summary.created.append(f"graduate register {COHORT} and {LEGACY_COHORT}")

    project = session.scalar(select(SurveyProject).where(SurveyProject.code == PROJECT))  # the draws belong to it
    check = graduates_verification.draw_verification_sample(session, COHORT, snapshot_on=date(COHORT, 9, 1), seed=SEED, rate=0.03,
                                                            oversample=3.0, label="2026届毕业去向核查抽样", project=project, actor=actor)
    units = graduates_verification.sample_frame(session, check)
    graduates_verification.import_outcomes(session, check, _outcomes(rng, units), "callbacks.csv", actor=actor)
    summary.created.append(f"verification sample ({check.sample_size} graduates)")

    survey = graduates_survey.draw_survey_sample(session, COHORT, seed=SEED, institutions_per_stratum=2,
                                                 graduates_per_institution=max(30, int(160 * min(scale * 4, 1))),
                                                 snapshot_on=date(COHORT, 12, 31), label="2026届毕业生就业状况抽样调查", project=project,
                                                 actor=actor)
    frame = graduates_survey.survey_frame(session, survey)
    frame["destination_code"] = frame["reported_code"]  # the destination at the draw's snapshot (31 December)
    answers = _responses(rng, frame)
    version = questionnaires.current_published(session, project.id) if project is not None else None
    if project is None or version is None:  # no employment questionnaire: keep the answers with the sample
        graduates_survey.store_responses(session, survey, answers, actor=actor)
        summary.created.append(f"employment survey sample ({survey.sample_size} graduates, synthetic responses)")
        return
    sample = graduates_fieldwork.publish(session, survey, project, actor=actor, frame=frame)
    submitted = _submit(session, project, version.id, sample.id, answers.assign(destination=frame["destination_code"].to_numpy()))
    respondents = graduates_fieldwork.collect(session, survey, actor=actor)
    scheme = graduates_fieldwork.create_weighting_scheme(session, survey, actor=actor)
    summary.created.append(f"employment survey sample ({survey.sample_size} graduates, {submitted} synthetic questionnaire responses "
                           f"to {PROJECT}, {respondents} complete, weighting scheme #{scheme.id} for the estimates API)")


def _submit(session: Session, project: SurveyProject, version_id: int, sample_draw_id: int, answers: pd.DataFrame) -> int:
    """Simulated fieldwork: the respondents' answers as submitted questionnaire responses (invitation-bound)."""
    rows = frame_of(session, select(FrameUnit.unit_key, SampleUnit.id, Invitation.id).select_from(SampleUnit)
                    .join(FrameUnit, FrameUnit.id == SampleUnit.frame_unit_id).join(Invitation, Invitation.sample_unit_id == SampleUnit.id)
                    .where(SampleUnit.draw_id == sample_draw_id), ["graduate_key", "unit_id", "invitation_id"])
    data = rows.merge(answers, on="graduate_key")
    data = data[data["disposition"] == "respondent"]
    now = datetime.now(UTC)
    records = []
    for r in data.itertuples(index=False):  # a few hundred demo responses
        employed = r.destination in EMPLOYED
        given = {"destination": r.destination, "employed": int(employed), "satisfied": str(int(r.satisfied))}
        missing = {}
        if employed:
            given["salary"] = int(r.salary)
            given["job_satisfaction"] = str(int(r.job_satisfaction))
            if pd.isna(r.job_match):
                missing["job_match"] = "dk"
            else:
                given["job_match"] = str(int(r.job_match))
        records.append({"project_id": project.id, "version_id": version_id, "invitation_id": int(r.invitation_id), "sample_unit_id": int(r.unit_id),
                        "status": ResponseStatus.COMPLETE, "answers": given, "missing": missing, "language": "zh_CN", "device_class": "phone",
                        "paradata": {"visits": 1}, "started_at": now, "submitted_at": now})
    if records:
        session.execute(insert(Response), records)
        session.execute(update(Invitation).where(Invitation.id.in_([int(i) for i in data["invitation_id"]]))
                        .values(status=InvitationStatus.SUBMITTED, submitted_at=now))
    return len(records)
