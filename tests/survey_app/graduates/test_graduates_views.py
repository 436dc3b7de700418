"""Graduate pages: import with row errors, rates report, verification draw and callbacks, survey, access log."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from survey_app.accounts.models import AuditEvent, Role
from survey_app.fieldwork.models import FrameUnit, Invitation, SampleUnit
from survey_app.graduates.models import Graduate, GraduateDraw, GraduateSampleUnit
from survey_app.projects.services import surveys

from .. import workbooks
from ..graduates_util import HEADER, csv_bytes, row

CODES = ["10"] * 12 + ["11"] * 6 + ["12"] * 6 + ["80"] * 6 + ["70"] * 6


def _upload(client, rows, cohort="2026"):
    return client.post("/admin/graduates/import", data={"cohort": cohort, "file": (io.BytesIO(csv_bytes(rows)), "r.csv")},
                       content_type="multipart/form-data")


def _rows():
    rows = [row(f"A{i:03d}", c) for i, c in enumerate(CODES)]
    return rows + [row(f"B{i:03d}", c, institution_code="10002", institution_name="示范学院") for i, c in enumerate(CODES)]


@pytest.fixture
def designer(client, logged_in, session):
    """A designer logged in on ``client`` who owns a survey project (the project the draws are for)."""
    user = logged_in(Role.DESIGNER)
    project = surveys.create_project(session, {"code": "grad-2026", "title": "毕业生就业状况调查", "form_number": "表1", "issuing_authority": "示范厅",
                                               "approval_number": "示〔2026〕1号", "valid_until": "2027-01-01"}, actor=session.merge(user))
    session.commit()
    return project


def test_only_designers_and_admins(client, logged_in) -> None:
    assert client.get("/admin/graduates/").status_code == 302  # to the login page
    logged_in(Role.STATISTICIAN)
    assert client.get("/admin/graduates/").status_code == 403


def test_import_errors_are_listed_and_nothing_is_stored(client, designer, session) -> None:
    response = _upload(client, [row("A001", "10"), row("A002", "13")])
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<td>3</td><td>destination_code</td>" in page
    assert session.scalar(select(func.count()).select_from(Graduate)) == 0


def test_malformed_xml_inside_a_register_workbook_is_refused(client, designer, session) -> None:
    rows = _rows()
    damaged = workbooks.broken_at_row(workbooks.xlsx([HEADER, *([r[c] for c in HEADER] for r in rows)]), 20)
    response = client.post("/admin/graduates/import", data={"cohort": "2026", "file": (io.BytesIO(damaged), "r.xlsx")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "The Excel workbook could not be read" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Graduate)) == 0


def test_nul_bytes_in_the_register_are_refused_naming_row_and_column(client, designer, session) -> None:
    """PostgreSQL cannot store NUL in text (it answered 500 there): the import refuses them on every database."""
    rows = _rows()
    rows[3]["major"] = "统\x00计学"
    response = _upload(client, rows)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "NUL (0x00) bytes" in page and "row 5, column major" in page
    assert session.scalar(select(func.count()).select_from(Graduate)) == 0


def test_a_register_workbook_over_a_reading_limit_is_refused(client, app, designer, session) -> None:
    app.config["SHEET_MAX_CELL_CHARS"] = 40
    rows = _rows()
    rows[5]["employer_name"] = "示范" * 21
    data = workbooks.xlsx([HEADER, *([r[c] for c in HEADER] for r in rows)])
    response = client.post("/admin/graduates/import", data={"cohort": "2026", "file": (io.BytesIO(data), "r.xlsx")},
                           content_type="multipart/form-data")
    column = chr(ord("A") + HEADER.index("employer_name"))
    assert response.status_code == 422 and f"row 7, column {column} holds more than 40 characters" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Graduate)) == 0


def test_register_rates_and_graduate_record(client, designer, session) -> None:
    assert _upload(client, _rows()).status_code == 302
    index = client.get("/admin/graduates/").get_data(as_text=True)
    assert "2026" in index and "72" in index
    page = client.get("/admin/graduates/2026/rates?snapshot=september&by=institution").get_data(as_text=True)
    # 36 graduates per school, 6 seeking work: placement 30/36 = 83.3%
    assert "83.3%" in page
    custom = client.get("/admin/graduates/2026/rates?by=&groups=flexible:12,75,76,77").get_data(as_text=True)
    assert "16.7%" in custom  # 12/72 in the custom flexible group
    bad = client.get("/admin/graduates/2026/rates?groups=flexible:13")
    assert bad.status_code == 422
    graduate_id = session.scalar(select(Graduate.id).where(Graduate.graduate_key == "A001"))
    masked = client.get(f"/admin/graduates/graduate/{graduate_id}").get_data(as_text=True)
    assert "张*" in masked and "13800138000" not in masked and "138****8000" in masked
    # A001 is in no sample of the designer's project: the identity stays masked (test_graduates_access has the reveals)
    refused = client.post(f"/admin/graduates/graduate/{graduate_id}", data={"purpose": "audit check"})
    assert refused.status_code == 403 and "13800138000" not in refused.get_data(as_text=True)
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "graduate")).all()
    assert actions == ["personal_data.view"]


def test_verification_draw_callbacks_and_report(client, designer, session) -> None:
    _upload(client, _rows())
    response = client.post("/admin/graduates/verification", data={"cohort": "2026", "mode": "size", "per_institution": "18", "seed": "7",
                                                                   "oversample": "3", "snapshot_on": "2026-09-01", "project_id": designer.id})
    assert response.status_code == 302
    draw_id = int(re.search(r"/verification/(\d+)", response.headers["Location"]).group(1))
    page = client.get(f"/admin/graduates/verification/{draw_id}").get_data(as_text=True)
    assert "No callback outcomes recorded yet." in page
    units = session.scalars(select(GraduateSampleUnit).where(GraduateSampleUnit.draw_id == draw_id)).all()
    assert len(units) == 36
    call = client.get(f"/admin/graduates/units/{units[0].id}").get_data(as_text=True)
    assert "13800138000" not in call and "138****8000" in call  # masked; the view is logged
    shown = client.post(f"/admin/graduates/units/{units[0].id}", data={"action": "reveal", "purpose": "callback"}).get_data(as_text=True)
    assert "13800138000" in shown  # the caller asked for the phone, with a reason
    bad = client.post(f"/admin/graduates/units/{units[0].id}", data={"outcome": "unreachable", "attempts": "1"})
    assert bad.status_code == 422
    assert client.post(f"/admin/graduates/units/{units[0].id}", data={"outcome": "unreachable", "attempts": "3"}).status_code == 302
    lines = ["graduate_id,outcome,verified_code,attempts"]
    for u in units[1:]:
        key = session.get(Graduate, u.graduate_id).graduate_key
        lines.append(f"{key},different,70,1" if u.reported_code == "12" and key.startswith("A") else f"{key},confirmed,,1")
    data = {"file": (io.BytesIO("\n".join(lines).encode()), "cb.csv")}
    assert client.post(f"/admin/graduates/verification/{draw_id}/outcomes", data=data, content_type="multipart/form-data").status_code == 302
    report = client.get(f"/admin/graduates/verification/{draw_id}").get_data(as_text=True)
    assert 'id="ranking"' in report and 'id="estimates"' in report
    ranking = report[report.index('id="ranking"'):report.index('id="estimates"')]
    assert ranking.index("10001") < ranking.index("10002")  # school A misreported its "other hiring forms"
    reveals = session.scalar(select(func.count()).where(AuditEvent.action == "personal_data.reveal"))
    assert reveals == 1  # the explicit reveal only: the re-rendered form after the rejected POST is masked
    manifest = client.get(f"/admin/graduates/draws/{draw_id}/manifest.json").get_json()
    assert manifest["seed"] == 7 and manifest["purpose"] == "verification"


def test_survey_draw_and_page(client, designer, session) -> None:
    project = designer
    _upload(client, _rows())
    response = client.post("/admin/graduates/survey", data={"cohort": "2026", "seed": "3", "institutions_per_stratum": "2",
                                                             "graduates_per_institution": "10", "project_id": project.id})
    assert response.status_code == 302
    draw = session.scalar(select(GraduateDraw))
    page = client.get(f"/admin/graduates/survey/{draw.id}")
    assert page.status_code == 200 and "No survey responses" in page.get_data(as_text=True)
    invalid = client.post("/admin/graduates/survey", data={"cohort": "2026", "seed": "", "project_id": project.id})
    assert invalid.status_code == 422
    started = client.post(f"/admin/graduates/survey/{draw.id}/fieldwork", data={"project_id": str(project.id)})
    assert started.status_code == 302
    session.expire_all()
    link = session.get(GraduateDraw, draw.id).parameters["fieldwork"]
    assert session.scalar(select(func.count()).select_from(Invitation).join(SampleUnit, SampleUnit.id == Invitation.sample_unit_id)
                          .where(SampleUnit.draw_id == link["sample_draw_id"])) == draw.sample_size
    keys = set(session.scalars(select(FrameUnit.unit_key).join(SampleUnit, SampleUnit.frame_unit_id == FrameUnit.id)
                               .where(SampleUnit.draw_id == link["sample_draw_id"])))
    assert all(not c for c in session.scalars(select(FrameUnit.contact)))  # no identifying field copied
    assert keys == set(session.scalars(select(Graduate.graduate_key).join(GraduateSampleUnit).where(GraduateSampleUnit.draw_id == draw.id)))
    again = client.post(f"/admin/graduates/survey/{draw.id}/fieldwork", data={"project_id": str(project.id)}, follow_redirects=True)
    assert "already in fieldwork" in again.get_data(as_text=True)
    collected = client.post(f"/admin/graduates/survey/{draw.id}/fieldwork", data={"action": "collect"}, follow_redirects=True)
    assert "Read 0 complete questionnaire responses." in collected.get_data(as_text=True)
    scheme = client.post(f"/admin/graduates/survey/{draw.id}/fieldwork", data={"action": "scheme"}, follow_redirects=True)
    assert "Calibration is not feasible" in scheme.get_data(as_text=True)  # no respondents yet: nothing computed


def test_huge_page_numbers_show_the_last_page(client, designer, session) -> None:
    """Issue #20: ``page=`` beyond any database integer gave a 500; it now shows the last page."""
    _upload(client, _rows())
    for page, shown, key in (("99999999999999999999999", "Page 2", "B035"), ("-5", "Page 1", "A000"), ("x", "Page 1", "A000")):
        response = client.get(f"/admin/graduates/2026/register?page={page}")
        assert response.status_code == 200, page
        assert key in response.get_data(as_text=True) and shown in response.get_data(as_text=True)
    response = client.post("/admin/graduates/verification", data={"cohort": "2026", "mode": "size", "per_institution": "18", "seed": "7",
                                                                   "project_id": designer.id})
    draw_url = response.headers["Location"]
    page = client.get(f"{draw_url}?pending=1&page=99999999999999999999999")
    assert page.status_code == 200 and "/admin/graduates/units/" in page.get_data(as_text=True)
