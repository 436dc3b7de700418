"""Employment sample survey: two-stage draw, nonresponse adjustment, calibration, estimates; demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from survey_app.core.errors import ValidationFailed
from survey_app.graduates.services import graduates_register as register
from survey_app.graduates.services import graduates_survey as survey
from weighting.design import Design

from ..graduates_util import csv_bytes, row

INSTITUTIONS = [("20001", "省A", "本科院校"), ("20002", "省A", "本科院校"), ("20003", "省A", "高职院校"), ("20004", "省A", "高职院校"),
                ("20005", "省B", "本科院校"), ("20006", "省B", "本科院校"), ("20007", "省B", "本科院校")]


def _load(app, session) -> None:
    rng = np.random.default_rng(3)
    rows = []
    for code, province, kind in INSTITUTIONS:
        for i in range(int(rng.integers(30, 60))):
            rows.append(row(f"{code}{i:03d}", str(rng.choice(["10", "11", "80", "70"])), institution_code=code, institution_name=f"学校{code}",
                            institution_province=province, institution_type=kind, degree=str(rng.choice(["本科", "硕士"])),
                            sex=str(rng.choice(["男", "女"])), province=str(rng.choice(["甲", "乙", "丙"], p=[0.6, 0.35, 0.05]))))
    with app.test_request_context():
        register.import_graduates(session, csv_bytes(rows), "r.csv", cohort=2026)
        session.commit()


def _responses(frame: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    respond = rng.random(len(frame)) < 0.7
    return pd.DataFrame({
        "graduate_key": frame["graduate_key"], "disposition": np.where(respond, "respondent", "nonrespondent"),
        "employed": np.where(respond, rng.integers(0, 2, len(frame)).astype(float), np.nan),
        "salary": np.where(respond, rng.normal(6000, 800, len(frame)).round(), np.nan),
        "job_match": np.where(respond, rng.integers(1, 6, len(frame)).astype(float), np.nan),
        "satisfied": np.where(respond, rng.integers(1, 6, len(frame)).astype(float), np.nan),
    })


def test_two_stage_draw_weights_and_calibrated_estimates(app, session) -> None:
    _load(app, session)
    with app.test_request_context():
        draw = survey.draw_survey_sample(session, 2026, seed=9, institutions_per_stratum=2, graduates_per_institution=15)
        again = survey.draw_survey_sample(session, 2026, seed=9, institutions_per_stratum=2, graduates_per_institution=15)
        session.commit()
        frame = survey.survey_frame(session, draw)
        assert frame["graduate_id"].tolist() == survey.survey_frame(session, again)["graduate_id"].tolist()
        # stratum 省A|本科院校 has 2 institutions, both taken; 省B|本科院校 has 3, two taken
        picked = frame.groupby("psu_stratum")["institution"].nunique().to_dict()
        assert picked == {"省A|本科院校": 2, "省A|高职院校": 2, "省B|本科院校": 2}
        sizes = register.snapshot(session, 2026).groupby("institution").size()
        expected = frame["stage1_population"] / 2 * frame["institution"].map(sizes) / 15
        assert np.allclose(frame["design_weight"], expected)
        with pytest.raises(ValidationFailed):
            survey.survey_estimates(session, draw)  # no responses yet
        survey.store_responses(session, draw, _responses(frame))
        session.commit()
        frame = survey.survey_frame(session, draw)
        population = register.snapshot(session, 2026)
        dsg = survey.weighted_design(frame, population)
        tables = survey.survey_estimates(session, draw)
    # calibrated weights reproduce the register totals of the calibration groups
    totals, aux = survey.calibration_totals(population, frame)
    w = pd.Series(dsg.weights, index=frame.index)
    for column in ("cal_degree_sex", "cal_province"):
        assert w.groupby(aux[column]).sum().to_dict() == pytest.approx(totals[column], rel=1e-9)
    assert w.sum() == pytest.approx(len(population))
    assert (w[frame["disposition"] != "respondent"] == 0).all()
    # the nonresponse step keeps each class's design-weight total
    classes = survey.nonresponse_classes(frame, 5)
    data = frame.assign(nr_class=classes, unit=np.arange(len(frame)))
    base = Design(data, weights="design_weight", strata="psu_stratum", psu=["institution", "unit"], fpc=["stage1_population", "stage2_population"])
    adjusted = base.adjust_nonresponse("disposition", classes="nr_class")
    assert pd.Series(adjusted.weights).groupby(classes.to_numpy()).sum().to_dict() == pytest.approx(
        frame.groupby(classes)["design_weight"].sum().to_dict())
    overall = tables["overall"].set_index("variable")
    assert overall.loc["salary", "ci_low"] < overall.loc["salary", "estimate"] < overall.loc["salary", "ci_high"]
    assert overall.loc["employed", "df"] == 6 - 3  # 6 PSUs in 3 strata
    assert set(tables["degree"]["degree"]) == {"bachelor", "master"}
    direct = dsg.mean(list(survey.NUMERIC_ANSWERS), by="region")
    pd.testing.assert_frame_equal(tables["region"].reset_index(drop=True), survey.with_quality(direct).reset_index(drop=True))
    # publication rules: the employment rate is a proportion (NCHS: df < 8 flagged), means get CV grades
    employed = tables["overall"].set_index("variable").loc["employed"]
    assert "df<8" in employed["flag"] and employed["grade"] in ("caution", "suppress")
    salary = tables["overall"].set_index("variable").loc["salary"]
    assert salary["grade"] == "publish" and salary["flag"] == ""
    small = tables["region"][tables["region"]["n"] < 5]
    assert small["suppressed"].all() and small["estimate"].isna().all()


def test_responses_must_match_the_sample(app, session) -> None:
    _load(app, session)
    with app.test_request_context():
        draw = survey.draw_survey_sample(session, 2026, seed=1, graduates_per_institution=10)
        bad = pd.DataFrame({"graduate_key": ["nobody"], "disposition": ["maybe"]})
        with pytest.raises(ValidationFailed) as info:
            survey.store_responses(session, draw, bad)
    assert set(info.value.errors) == {"graduate_key", "disposition"}
