"""Register import: row-level errors with nothing stored, bulk insert, change history, snapshots."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest
from sqlalchemy import func, select, text

from survey_app.core.errors import ValidationFailed
from survey_app.graduates.models import DestinationChange, Graduate, Institution
from survey_app.graduates.services import graduates_register as register

from ..graduates_util import csv_bytes, id_number, row, uscc


def _count(session, model) -> int:
    return int(session.scalar(select(func.count()).select_from(model)))


def test_import_stores_rows_and_history(app, session) -> None:
    rows = [row("G001", "10"), row("G002", "70", sex="男"), row("G003", "80", degree="硕士"), row("G004", "77", degree="专科")]
    with app.test_request_context():
        result = register.import_graduates(session, csv_bytes(rows), "cohort.csv", cohort=2026)
        session.commit()
    assert (result.rows, result.created, result.updated, result.institutions_created) == (4, 4, 0, 1)
    graduates = session.scalars(select(Graduate).order_by(Graduate.graduate_key)).all()
    assert [g.destination_code for g in graduates] == ["10", "70", "80", "77"]
    assert [g.degree.value for g in graduates] == ["bachelor", "bachelor", "master", "junior_college"]
    assert graduates[0].employer_uscc == uscc(1) and graduates[0].registered_on == date(2026, 6, 20)
    assert _count(session, DestinationChange) == 4
    assert session.scalar(select(Institution.kind)) == "本科院校"


def test_invalid_rows_are_reported_with_row_numbers_and_nothing_is_stored(app, session) -> None:
    bad_id = id_number(5)[:-1] + ("0" if id_number(5)[-1] != "0" else "1")
    bad_uscc = uscc(3)[:-1] + ("A" if uscc(3)[-1] != "A" else "B")
    rows = [
        row("G001", "10"),
        row("G002", "13"),  # row 3: not a code
        row("G003", "10", employer_uscc=bad_uscc),  # row 4
        row("G004", "70", id_number=bad_id),  # row 5
        row("G005", "80", degree="学士", registered_on="2026-13-01"),  # row 6: two errors
        row("G001", "70"),  # row 7: duplicate key
        row("G007", "11", employer_name=""),  # row 8: employer required
    ]
    with app.test_request_context(), pytest.raises(ValidationFailed) as info:
        register.import_graduates(session, csv_bytes(rows), "bad.csv", cohort=2026)
    session.rollback()
    errors = info.value.errors["rows"]
    found = {(e["row"], e["column"]) for e in errors}
    assert found == {
        (3, "destination_code"), (4, "employer_uscc"), (5, "id_number"), (6, "degree"), (6, "registered_on"),
        (7, "graduate_id"), (8, "employer_name"),
    }
    assert "7 errors in 6 rows" in info.value.message
    assert _count(session, Graduate) == 0 and _count(session, Institution) == 0 and _count(session, DestinationChange) == 0


def test_missing_columns_are_named(app, session) -> None:
    data = b"graduate_id,institution_code\nG1,10001\n"
    with app.test_request_context(), pytest.raises(ValidationFailed) as info:
        register.import_graduates(session, data, "x.csv", cohort=2026)
    assert "destination_code" in info.value.errors["columns"]


def test_chinese_headers_and_xlsx(app, session) -> None:
    frame = pd.DataFrame([row("G101", "85"), row("G102", "12")]).rename(
        columns={"graduate_id": "毕业生编号", "destination_code": "毕业去向代码", "degree": "学历层次", "sex": "性别"}
    )
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    with app.test_request_context():
        result = register.import_graduates(session, buffer.getvalue(), "register.xlsx", cohort=2026)
        session.commit()
    assert result.created == 2
    assert sorted(session.scalars(select(Graduate.destination_code))) == ["12", "85"]


def test_reimport_records_changes_and_snapshots_reproduce_the_past(app, session) -> None:
    with app.test_request_context():
        register.import_graduates(session, csv_bytes([row("G001", "70"), row("G002", "70"), row("G003", "80")]), "a.csv", cohort=2026)
        session.commit()
        result = register.import_graduates(
            session, csv_bytes([row("G001", "11"), row("G002", "70"), row("G003", "80")]), "b.csv", cohort=2026,
            effective_on=date(2026, 8, 15),
        )
        session.commit()
        assert (result.created, result.updated, result.unchanged) == (0, 1, 2)
        g1 = session.scalar(select(Graduate).where(Graduate.graduate_key == "G001"))
        register.change_destination(session, g1, code="85", effective_on=date(2026, 10, 1), source="manual")
        session.commit()
        before = register.snapshot(session, 2026, date(2026, 6, 1))
        september = register.snapshot(session, 2026, date(2026, 9, 1))
        year_end = register.snapshot(session, 2026, date(2026, 12, 31))
    assert before["destination_code"].tolist() == ["", "", ""]  # registered on 20 June
    assert september.set_index("graduate_key")["destination_code"].to_dict() == {"G001": "11", "G002": "70", "G003": "80"}
    assert year_end.set_index("graduate_key")["destination_code"].to_dict() == {"G001": "85", "G002": "70", "G003": "80"}
    assert g1.destination_code == "85"


def test_identifying_fields_are_encrypted_at_rest(app, session) -> None:
    with app.test_request_context():
        register.import_graduates(session, csv_bytes([row("G001", "70", name="李四", phone="13912345678")]), "a.csv", cohort=2026)
        session.commit()
    raw = session.execute(text("SELECT name_enc, id_number_enc, phone_enc FROM graduates")).one()
    clear = ("李四", id_number(1), "13912345678")
    for stored, value in zip(raw, clear, strict=True):
        assert stored.startswith("v1:") and value not in stored
    assert b"13912345678" not in b"".join(str(v).encode() for v in raw)
