"""Random inspection draws: frozen registers, reproducible draws, conflict exclusion, publication."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import ValidationFailed
from survey_app.demo.services.demo import DemoSummary
from survey_app.inspections.models import InspectionDraw, RegisterKind
from survey_app.inspections.services import inspections

from .. import workbooks


def _registers(session: Session) -> tuple:  # type: ignore[type-arg]
    units_csv, staff_csv = inspections.demo_registers(seed=3)
    units = inspections.upload_register(session, RegisterKind.UNITS, units_csv, "units.csv", actor_label="test")
    staff = inspections.upload_register(session, RegisterKind.INSPECTORS, staff_csv, "staff.csv", actor_label="test")
    return units, staff


def test_register_upload_names_rows_and_freezes_with_a_hash(session: Session) -> None:
    bad = "unit_id,name,stratum,district,complaint\nS1,A,x,d1,1\nS1,B,x,d1,0\nS3,,x,d1,maybe\n"
    with pytest.raises(ValidationFailed) as caught:
        inspections.upload_register(session, RegisterKind.UNITS, bad.encode(), "u.csv")
    assert caught.value.errors["rows"] == ["row 3: unit_id appears on an earlier row", "row 4: name is empty",
                                           "row 4: complaint must be 1/0, yes/no or 是/否"]
    session.rollback()
    assert inspections.registers(session) == []
    with pytest.raises(ValidationFailed, match="columns"):
        inspections.upload_register(session, RegisterKind.INSPECTORS, bad.encode(), "i.csv")
    units, staff = _registers(session)
    assert units.row_count == 120 and staff.row_count == 16 and len({units.sha256, staff.sha256}) == 2
    again = inspections.upload_register(session, RegisterKind.UNITS, inspections.demo_registers(seed=3)[0], "copy.csv")
    assert again.sha256 == units.sha256  # same content, same hash
    xlsx = io.BytesIO()
    pd.read_csv(io.BytesIO(inspections.demo_registers(seed=3)[0]), dtype=str, keep_default_na=False).to_excel(xlsx, index=False)
    from_excel = inspections.upload_register(session, RegisterKind.UNITS, xlsx.getvalue(), "units.xlsx")
    assert from_excel.sha256 == units.sha256


def test_draw_is_reproducible_and_excludes_conflicts(session: Session) -> None:
    units, staff = _registers(session)
    settings = inspections.DrawSettings("Spring", seed=77, share=0.1, min_n=2, flagged_share=1.0, k=2)
    first = inspections.draw(session, units, staff, settings, actor_label="test")
    second = inspections.draw(session, units, staff, settings, actor_label="test")
    assert first.assignments == second.assignments and first.units == second.units
    assert inspections.verify(first)
    other = inspections.draw(session, units, staff, inspections.DrawSettings("Other", 78, 0.1, 2, 1.0, 2))
    assert other.assignments != first.assignments
    unit_rows = pd.DataFrame(units.rows).set_index("unit_id")
    staff_rows = pd.DataFrame(staff.rows).set_index("inspector_id")
    pairs = pd.DataFrame(first.assignments)
    assert pairs.groupby("unit_id")["inspector_id"].nunique().eq(2).all()
    assert set(pairs["unit_id"]) == {u["unit_id"] for u in first.units}
    for pair in pairs.itertuples():
        unit, person = unit_rows.loc[pair.unit_id], staff_rows.loc[pair.inspector_id]
        assert unit["district"] != person["district"]
        assert pair.unit_id != person["unit"]
        assert pair.unit_id not in person["relations"].split(";")
    # Every unit with a complaint is drawn (flagged_share=1) and every stratum gets at least its share.
    complaints = set(unit_rows.index[unit_rows["complaint"] == "1"])
    drawn = {u["unit_id"] for u in first.units}
    assert complaints and complaints <= drawn
    cells = pd.DataFrame(first.cells)
    assert (cells["n"] >= (cells["population"] * 0.1).clip(upper=cells["population"]).apply(int)).all()
    # A changed register (a new frozen snapshot) does not replay the stored draw.
    first.units_register = inspections.upload_register(session, RegisterKind.UNITS, inspections.demo_registers(seed=4)[0], "new.csv")
    assert not inspections.verify(first)


def test_declared_relation_is_excluded(session: Session) -> None:
    units = "unit_id,name,stratum,district,complaint\nU1,School 1,primary,d1,0\nU2,School 2,primary,d1,0\n"
    staff = ("inspector_id,name,role,unit,district,relations\nA,Ann,inspector,X,d2,U1\nB,Bo,inspector,X,d2,\n"
             "C,Cy,inspector,X,d2,\nD,Di,inspector,U2,d3,\n")
    u = inspections.upload_register(session, RegisterKind.UNITS, units.encode(), "u.csv")
    s = inspections.upload_register(session, RegisterKind.INSPECTORS, staff.encode(), "s.csv")
    record = inspections.draw(session, u, s, inspections.DrawSettings("t", 1, 1.0, 1, 1.0, 2))
    pairs = {(a["unit_id"], a["inspector_id"]) for a in record.assignments}
    assert ("U1", "A") not in pairs and ("U2", "D") not in pairs and len(pairs) == 4
    with pytest.raises(ValidationFailed, match="not possible"):
        inspections.draw(session, u, s, inspections.DrawSettings("t", 1, 1.0, 1, 1.0, 4))


def test_malformed_xml_inside_a_register_workbook_is_refused(client: FlaskClient, session: Session, logged_in) -> None:  # type: ignore[no-untyped-def]
    logged_in(Role.DESIGNER)
    units = pd.read_csv(io.BytesIO(inspections.demo_registers(seed=3)[0]), dtype=str)
    damaged = workbooks.broken_at_row(workbooks.xlsx([list(units.columns), *units.to_numpy().tolist()]), 20)
    reply = client.post("/admin/inspections/", data={"action": "upload", "kind": "units", "file": (io.BytesIO(damaged), "units.xlsx")},
                        content_type="multipart/form-data")
    assert reply.status_code == 422 and "The Excel workbook could not be read" in reply.get_data(as_text=True)
    assert inspections.registers(session) == []


def test_a_register_workbook_over_a_reading_limit_is_refused(client: FlaskClient, app: Flask, session: Session, logged_in) -> None:  # type: ignore[no-untyped-def]
    logged_in(Role.DESIGNER)
    app.config["SHEET_MAX_ROWS"] = 50
    units = pd.read_csv(io.BytesIO(inspections.demo_registers(seed=3)[0]), dtype=str)
    data = workbooks.xlsx([list(units.columns), *units.to_numpy().tolist()])
    assert len(units) >= 50
    reply = client.post("/admin/inspections/", data={"action": "upload", "kind": "units", "file": (io.BytesIO(data), "units.xlsx")},
                        content_type="multipart/form-data")
    assert reply.status_code == 422 and "has more than 50 rows" in reply.get_data(as_text=True)
    assert inspections.registers(session) == []


def test_draw_page_results_and_public_page(client: FlaskClient, app: Flask, logged_in) -> None:  # type: ignore[no-untyped-def]
    logged_in(Role.DESIGNER)
    units_csv, staff_csv = inspections.demo_registers(seed=3)
    for kind, data in (("units", units_csv), ("inspectors", staff_csv)):
        reply = client.post("/admin/inspections/", data={"action": "upload", "kind": kind, "file": (io.BytesIO(data), f"{kind}.csv")},
                            content_type="multipart/form-data")
        assert reply.status_code == 303
    with db.session_factory(app)() as session:
        ids = {r.kind: r.id for r in inspections.registers(session)}
    form = {"action": "draw", "title": "Autumn", "units_register_id": ids[RegisterKind.UNITS],
            "inspectors_register_id": ids[RegisterKind.INSPECTORS], "share": "0.05", "min_n": "2", "k": "2", "seed": "99"}
    assert client.post("/admin/inspections/", data={**form, "share": "2"}).status_code == 422
    reply = client.post("/admin/inspections/", data=form)
    assert reply.status_code == 303
    page = client.get(reply.headers["Location"]).get_data(as_text=True)
    assert "Replayed from the frozen registers" in page and "99" in page
    with db.session_factory(app)() as session:
        record = session.scalars(select(InspectionDraw)).one()
        unit_id, slug = record.units[0]["unit_id"], record.slug
        staff_ids = [a["inspector_id"] for a in record.assignments]
    assert client.get(f"/inspections/{slug}").status_code == 404  # not published yet
    assert client.post(f"/admin/inspections/draws/{record.id}", data={"action": "results", "results": "NOPE=x"}).status_code == 422
    client.post(f"/admin/inspections/draws/{record.id}", data={"action": "results", "results": f"{unit_id}=No issues found"})
    client.post(f"/admin/inspections/draws/{record.id}", data={"action": "publish"})
    client.post("/logout")
    public = client.get(f"/inspections/{slug}")
    html = public.get_data(as_text=True)
    assert public.status_code == 200 and "No issues found" in html and "督学" in html
    assert not any(f">{sid}<" in html or f"{sid}," in html for sid in staff_ids)  # no inspector ids
    assert "relations" not in html
    assert slug in client.get("/inspections/").get_data(as_text=True)


def test_demo_loader_publishes_a_draw(session: Session) -> None:
    summary = DemoSummary()
    inspections.load_demo(session, summary)
    inspections.load_demo(session, summary)  # idempotent
    draws = inspections.draws(session, published_only=True)
    assert len(draws) == 1 and inspections.verify(draws[0]) and draws[0].results
