"""Verification samples: stratified oversampling draw, callback outcomes, misreport estimates."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select

from survey_app.accounts.models import AuditEvent
from survey_app.core.errors import ValidationFailed
from survey_app.graduates.models import GraduateSampleUnit
from survey_app.graduates.services import graduates_register as register
from survey_app.graduates.services import graduates_verification as verification
from weighting.design import Design

from ..graduates_util import csv_bytes, row


def _hand_frame() -> pd.DataFrame:
    """Three strata: A|x (N=10, n=4), A|y (N=6, n=3), B|x (N=8, n=2)."""
    strata = ["A|x"] * 4 + ["A|y"] * 3 + ["B|x"] * 2
    return pd.DataFrame(
        {
            "unit_id": range(9),
            "graduate_key": [f"g{i}" for i in range(9)],
            "institution": [s[0] for s in strata],
            "stratum": strata,
            "stratum_population": [10] * 4 + [6] * 3 + [8] * 2,
            "design_weight": [2.5] * 4 + [2.0] * 3 + [4.0] * 2,
            "reported_code": ["10", "10", "12", "10", "75", "75", "76", "11", "11"],
            "outcome": ["confirmed", "confirmed", "different", "confirmed", "different", "confirmed", "unreachable", "confirmed", "confirmed"],
            "verified_code": ["", "", "70", "", "12", "", "", "", ""],
            "attempts": [1] * 9,
        }
    )


def _row(table: pd.DataFrame, institution: str, variable: str) -> pd.Series:
    hit = table[(table["institution"] == institution) & (table["variable"] == variable)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_bounds_match_a_hand_calculation() -> None:
    table = verification.estimates(_hand_frame())
    lower = _row(table, "*", "misreport_lower")  # unreached counted as confirmed
    # stratified mean: (10 * 1/4 + 6 * 1/3 + 8 * 0) / 24
    assert lower["estimate"] == pytest.approx(4.5 / 24, rel=1e-12)
    s2_ax, s2_ay = (0.25 * 0.75) * 4 / 3, (1 / 3) * (2 / 3) * 3 / 2
    variance = (10 / 24) ** 2 * (1 - 4 / 10) * s2_ax / 4 + (6 / 24) ** 2 * (1 - 3 / 6) * s2_ay / 3
    assert lower["se"] == pytest.approx(math.sqrt(variance), rel=1e-10)
    upper = _row(table, "*", "misreport_upper")  # unreached counted as misreported: A|y all 0/1 -> 2/3
    assert upper["estimate"] == pytest.approx((10 * 0.25 + 6 * (2 / 3)) / 24, rel=1e-12)
    assert _row(table, "*", "unreachable")["estimate"] == pytest.approx(6 * (1 / 3) / 24, rel=1e-12)
    assert _row(table, "B", "misreport")["estimate"] == 0.0 and _row(table, "B", "misreport")["ci_high"] > 0
    # verified placement: the 12 reported in A|x was really 70 (not placed)
    assert _row(table, "*", "verified_placed")["estimate"] < _row(table, "*", "reported_placed")["estimate"] == 1.0
    assert (table.loc[table["institution"] == "A", "pending"] == 0).all()


def test_estimates_agree_with_weighting_called_directly() -> None:
    frame = _hand_frame()
    table = verification.estimates(frame)
    data = frame.copy()
    reached = data["outcome"].isin(["confirmed", "different"])
    data["misreport"] = pd.Categorical((data["outcome"] == "different").astype(float).where(reached), categories=[0.0, 1.0])
    direct = Design(data, weights="design_weight", strata="stratum", fpc="stratum_population").proportion("misreport", by="institution")
    a = direct[(direct["institution"] == "A") & (direct["category"].astype(float) == 1.0)].iloc[0]
    ours = _row(table, "A", "misreport")
    for column in ("estimate", "se", "ci_low", "ci_high", "df", "n", "deff"):
        assert ours[column] == pytest.approx(a[column], rel=1e-12, nan_ok=True)
    # domain estimate over the reached: A has 6 reached with weighted misreport (2.5 + 2.0) / (4 * 2.5 + 2 * 2.0)
    assert ours["estimate"] == pytest.approx(4.5 / 14, rel=1e-12)


def test_ranking_uses_the_lower_bound() -> None:
    table = verification.estimates(_hand_frame())
    ranked = verification.ranking(table)
    assert ranked["institution"].tolist() == ["A", "B"]
    assert ranked["rank"].tolist() == [1, 2]
    assert (np.diff(ranked["ci_low"].to_numpy()) <= 0).all()
    assert {"misreport_lower", "misreport_upper", "unreachable"} <= set(ranked.columns)


def _load(app, session) -> None:
    codes = ["10"] * 30 + ["11"] * 10 + ["12"] * 10 + ["75"] * 5 + ["80"] * 10 + ["70"] * 15
    rows = [row(f"A{i:03d}", c) for i, c in enumerate(codes)]
    rows += [row(f"B{i:03d}", c, institution_code="10002", institution_name="示范学院") for i, c in enumerate(codes[::2])]
    with app.test_request_context():
        register.import_graduates(session, csv_bytes(rows), "a.csv", cohort=2026)
        session.commit()


def test_draw_is_stratified_seeded_and_oversamples_prone_groups(app, session) -> None:
    _load(app, session)
    with app.test_request_context():
        first = verification.draw_verification_sample(session, 2026, snapshot_on=date(2026, 9, 1), seed=11, rate=0.2, oversample=3)
        second = verification.draw_verification_sample(session, 2026, snapshot_on=date(2026, 9, 1), seed=11, rate=0.2, oversample=3)
        session.commit()
        a = verification.sample_frame(session, first)
        b = verification.sample_frame(session, second)
    assert a["graduate_key"].tolist() == b["graduate_key"].tolist()
    alloc = pd.DataFrame(first.allocation).set_index("stratum")
    assert alloc["selected"].sum() == first.sample_size == len(a)
    assert int(alloc.loc["10001|agreement_contract", "population"]) == 40
    fraction = alloc["selected"] / alloc["population"]
    assert fraction["10001|other_hiring"] > 2 * fraction["10001|agreement_contract"]
    assert (alloc["selected"] >= np.minimum(2, alloc["population"])).all()
    assert np.allclose(a["design_weight"] * a.groupby("stratum")["stratum"].transform("size"), a["stratum_population"])
    assert first.manifest["seed"] == 11 and "frame" in first.manifest["input_hashes"]
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions.count("graduates.verification_draw") == 2
    with app.test_request_context(), pytest.raises(ValidationFailed) as info:
        verification.draw_verification_sample(session, 2026, snapshot_on=date(2026, 9, 1), seed=1, rate=0.2, min_per_stratum=1)
    assert "min_per_stratum" in info.value.errors


def test_outcomes_validation_import_and_estimates(app, session, make_user) -> None:
    _load(app, session)
    user = make_user()
    with app.test_request_context():
        draw = verification.draw_verification_sample(session, 2026, snapshot_on=date(2026, 9, 1), seed=5, per_institution=20)
        session.commit()
        units = session.scalars(select(GraduateSampleUnit).where(GraduateSampleUnit.draw_id == draw.id).order_by(GraduateSampleUnit.id)).all()
        with pytest.raises(ValidationFailed) as info:
            verification.record_outcome(session, units[0], outcome="different", verified_code=units[0].reported_code)
        assert "verified_code" in info.value.errors
        with pytest.raises(ValidationFailed) as info:
            verification.record_outcome(session, units[0], outcome="unreachable", attempts=1)
        assert "attempts" in info.value.errors
        verification.record_outcome(session, units[0], outcome="unreachable", attempts=3, actor=user)
        session.commit()
        frame = verification.sample_frame(session, draw)
        keys = frame["graduate_key"].tolist()
        bad = "graduate_id,outcome,verified_code,attempts\n" + f"{keys[1]},confirmed,,1\nNOPE,confirmed,,1\n{keys[2]},maybe,,1\n"
        with pytest.raises(ValidationFailed) as info:
            verification.import_outcomes(session, draw, bad.encode(), "cb.csv")
        session.rollback()
        assert [(e["row"], e["column"]) for e in info.value.errors["rows"]] == [(3, "graduate_id"), (4, "outcome")]
        assert session.scalar(select(func.count()).where(GraduateSampleUnit.outcome.is_not(None))) == 1
        lines = ["毕业生编号,核查结果,核实去向代码,拨打次数"]
        for i, (key, code) in enumerate(zip(keys[1:], frame["reported_code"].tolist()[1:], strict=True)):
            if code == "12" and i % 2 == 0:
                lines.append(f"{key},不一致,70,2")
            elif i % 7 == 0:
                lines.append(f"{key},拒绝,,1")
            else:
                lines.append(f"{key},确认,,1")
        count = verification.import_outcomes(session, draw, "\n".join(lines).encode(), "cb.csv", actor=user)
        session.commit()
        table, ranked = verification.draw_estimates(session, draw)
    assert count == len(keys) - 1
    overall = _row(table, "*", "misreport")
    assert 0 < overall["estimate"] < 1 and overall["ci_low"] <= overall["estimate"] <= overall["ci_high"]
    assert _row(table, "*", "misreport_lower")["estimate"] <= overall["estimate"] <= _row(table, "*", "misreport_upper")["estimate"]
    assert set(ranked["institution"]) == {"10001", "10002"}
    assert _row(table, "*", "refused")["estimate"] > 0
