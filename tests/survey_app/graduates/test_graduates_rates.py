"""Placement-rate definitions on hand-computed registers (legacy codes, snapshots, suppression)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from survey_app.core.errors import ValidationFailed
from survey_app.graduates.services import graduates_register as register
from survey_app.graduates.services.graduates_codes import STANDARD, parse_rollup
from survey_app.graduates.services.graduates_rates import placement_rates, rate_table, wide

from ..graduates_util import csv_bytes, row

# 20 graduates of school A: 10 x4, 11 x2, 12 x1, 77 x1 (legacy), 80 x2, 85 x1, 99 x1 (legacy), 70 x5, 71 x2, 72 x1
CODES_A = ["10"] * 4 + ["11"] * 2 + ["12", "77", "80", "80", "85", "99"] + ["70"] * 5 + ["71", "71", "72"]
# 6 graduates of school B: 10 x3, 70 x1, 75 x1, and one not yet registered ("")
CODES_B = ["10", "10", "10", "70", "75", ""]


def _register() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "institution": ["A"] * len(CODES_A) + ["B"] * len(CODES_B),
            "sex": (["female", "male"] * 13)[: len(CODES_A) + len(CODES_B)],
            "destination_code": CODES_A + CODES_B,
        }
    )


def _get(table: pd.DataFrame, indicator: str, **keys: str) -> pd.Series:
    mask = table["indicator"] == indicator
    for key, value in keys.items():
        mask &= table[key] == value
    assert mask.sum() == 1
    return table[mask].iloc[0]


def test_standard_definition_by_hand() -> None:
    table = rate_table(_register(), ["institution"], STANDARD, min_count=1)
    a = {ind: _get(table, ind, institution="A") for ind in ("placement", "agreement_contract", "employed", "flexible", "further_study", "seeking_work", "not_placed", "other_legacy")}
    # placement = 1 - (70+71+72)/total = 1 - 8/20; 99 (legacy "other") counts as placed
    assert a["placement"]["count"] == 12 and a["placement"]["rate"] == pytest.approx(12 / 20)
    assert a["agreement_contract"]["rate"] == pytest.approx(6 / 20)
    assert a["employed"]["count"] == 8  # 10,11,12 and the legacy 77
    assert a["flexible"]["count"] == 1  # 77 only in school A
    assert a["further_study"]["rate"] == pytest.approx(3 / 20)
    assert a["seeking_work"]["rate"] == pytest.approx(5 / 20)
    assert a["not_placed"]["count"] == 8 and a["other_legacy"]["count"] == 1
    b = _get(table, "placement", institution="B")
    # the graduate with no destination yet counts in the denominator and as not placed
    assert b["total"] == 6 and b["count"] == 4 and b["rate"] == pytest.approx(4 / 6)
    assert _get(table, "unregistered", institution="B")["count"] == 1
    overall = _get(table, "placement", institution="*")
    assert overall["total"] == 26 and overall["rate"] == pytest.approx(16 / 26)


def test_small_counts_are_suppressed() -> None:
    table = rate_table(_register(), ["institution"], STANDARD, min_count=5)
    assert _get(table, "agreement_contract", institution="A")["count"] == 6
    flexible = _get(table, "flexible", institution="A")
    assert flexible["suppressed"] and pd.isna(flexible["count"]) and np.isnan(flexible["rate"])
    assert _get(table, "seeking_work", institution="A")["count"] == 5  # 5 is not below 5
    assert not _get(table, "other_hiring", institution="B")["suppressed"]  # zero is shown
    assert _get(table, "other_hiring", institution="B")["count"] == 0
    # a domain below the threshold is withheld as a whole (cross: school B x male has 3)
    cross = rate_table(_register(), ["institution", "sex"], STANDARD, min_count=5)
    small = cross[(cross["institution"] == "B") & (cross["sex"] == "male")]
    assert small["suppressed"].all() and small["total"].isna().all()


def test_custom_rollup_changes_the_groups_not_the_denominator() -> None:
    rollup = parse_rollup("flexible:12,75,76,77;not_placed:70,71,72,99")
    table = rate_table(_register(), ["institution"], rollup, min_count=1)
    assert _get(table, "flexible", institution="A")["count"] == 2
    assert _get(table, "placement", institution="A")["rate"] == pytest.approx(11 / 20)  # 99 now counts as not placed
    with pytest.raises(ValidationFailed):
        parse_rollup("flexible:12,13")
    with pytest.raises(ValidationFailed):
        parse_rollup("justaname")


def test_wide_table_has_one_row_per_domain() -> None:
    table = rate_table(_register(), ["institution"], STANDARD, min_count=1)
    frame = wide(table, ["institution"])
    assert frame["institution"].tolist() == ["*", "A", "B"]
    assert frame.loc[1, "placement_rate"] == pytest.approx(0.6)


def test_rates_from_the_database_for_a_past_snapshot(app, session) -> None:
    rows = [row(f"G{i:03d}", code) for i, code in enumerate(CODES_A[:-1] + ["70"], start=1)]
    with app.test_request_context():
        register.import_graduates(session, csv_bytes(rows), "a.csv", cohort=2026)
        session.commit()
        # the six seekers find jobs in October; the 1 September snapshot must not change
        changed = [dict(r) for r in rows]
        for r in changed:
            if r["destination_code"] == "70":
                r.update(destination_code="11", employer_name="某公司")
        register.import_graduates(session, csv_bytes(changed), "b.csv", cohort=2026, effective_on=date(2026, 10, 8))
        session.commit()
        september = placement_rates(session, 2026, on=date(2026, 9, 1), by="institution", min_count=1)
        year_end = placement_rates(session, 2026, on=date(2026, 12, 31), by="institution", min_count=1)
        before_registration = placement_rates(session, 2026, on=date(2026, 6, 1), by="", min_count=1)
    assert _get(september, "placement", institution="10001")["rate"] == pytest.approx(1 - 8 / 20)  # 70 x6, 71 x2
    assert _get(year_end, "placement", institution="10001")["rate"] == pytest.approx(1 - 2 / 20)  # the six seekers placed
    assert _get(before_registration, "unregistered")["count"] == 20
    assert _get(before_registration, "placement")["rate"] == 0.0
