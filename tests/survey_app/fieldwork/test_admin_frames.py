"""Frame upload: encodings, XLSX, mapping, validation report, background import with progress."""

from __future__ import annotations

import io
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent, Role
from survey_app.core import frame_files
from survey_app.fieldwork.models import FrameStatus, FrameUnit, SamplingFrame
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import project_admin

from .. import workbooks
from ..admin_world import frame_csv, project_data
from ..conftest import login

MAPPING = {"unit_id": "unit_id", "stratum": "school", "size": "size", "contact": ["phone"], "name": "Graduates"}


@pytest.fixture
def project(client: FlaskClient, logged_in: Any, session: Session) -> SurveyProject:
    designer = logged_in(Role.DESIGNER)
    created = project_admin.create(session, project_data(), actor=session.merge(designer))
    session.commit()
    return created


def _upload(client: FlaskClient, project: SurveyProject, content: bytes, name: str = "frame.csv") -> Any:
    return client.post(f"/admin/projects/{project.id}/frames/upload", data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def _wait(client: FlaskClient, frame_id: int) -> dict[str, Any]:
    for _ in range(200):
        progress = client.get(f"/admin/frames/{frame_id}/progress").get_json()
        if progress["status"] != "importing":
            return progress
        time.sleep(0.05)
    raise AssertionError("import did not finish")


def _count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_upload_map_validate_and_import_in_the_background(app: Flask, client: FlaskClient, project: SurveyProject, session: Session, encoding: str) -> None:
    app.config["FRAME_IMPORT_CHUNK_ROWS"] = 100  # several chunks, several progress updates
    content = frame_csv(450).replace(b"school-", "学院-".encode(encoding) if encoding != "utf-8-sig" else "学院-".encode())
    if encoding == "utf-8-sig":
        content = b"\xef\xbb\xbf" + content
    uploaded = _upload(client, project, content)
    assert uploaded.status_code == 302
    mapping_url = uploaded.headers["Location"]
    page = client.get(mapping_url).get_data(as_text=True)
    assert "学院-0" in page and "unit_id" in page
    report = client.post(mapping_url, data={**MAPPING, "action": "validate"})
    assert report.status_code == 200 and "No problems found" in report.get_data(as_text=True)
    assert _count(session, SamplingFrame) == 0  # checking stores nothing
    started = client.post(mapping_url, data={**MAPPING, "action": "import"})
    assert started.status_code == 302
    frame_id = int(started.headers["Location"].rsplit("/", 1)[1])
    progress = _wait(client, frame_id)
    assert progress == {**progress, "status": "ready", "rows_imported": 450, "row_count": 450, "percent": 100.0}
    frame = session.get(SamplingFrame, frame_id)
    assert frame is not None and frame.columns["encoding"] in (encoding, "utf-8-sig")
    units = session.scalars(select(FrameUnit).where(FrameUnit.frame_id == frame_id).order_by(FrameUnit.row_number)).all()
    assert len(units) == 450 and units[0].unit_key == "g00000" and units[0].stratum == "学院-0"
    assert units[0].contact == {"phone": "13800000000"} and units[0].size == 1.0 and units[0].row_number == 2
    assert list(Path(app.config["FRAME_UPLOAD_DIR"]).iterdir()) == []  # the staged file is gone
    shown = client.get(f"/admin/frames/{frame_id}").get_data(as_text=True)
    assert "学院-2" in shown and "Design and draw a sample" in shown
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "sampling_frame")).all()
    assert actions == ["frame.upload", "frame.import_complete"]


def test_xlsx_upload(client: FlaskClient, project: SurveyProject, session: Session) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["编号", "学院", "规模", "手机"])
    for i in range(40):
        sheet.append([1000 + i, f"学院{i % 2}", i % 3 + 1, f"139{i:08d}"])
    sheet.append([None, None, None, None])  # trailing empty row is ignored
    buffer = io.BytesIO()
    book.save(buffer)
    uploaded = _upload(client, project, buffer.getvalue(), "名单.xlsx")
    assert uploaded.status_code == 302
    mapping_url = uploaded.headers["Location"]
    mapping = {"unit_id": "编号", "stratum": "学院", "size": "规模", "contact": ["手机"], "name": "名单"}
    assert "Excel workbook" in client.get(mapping_url).get_data(as_text=True)
    started = client.post(mapping_url, data={**mapping, "action": "import"})
    assert started.status_code == 302, started.get_data(as_text=True)[-3000:]
    frame_id = int(started.headers["Location"].rsplit("/", 1)[1])
    assert _wait(client, frame_id)["rows_imported"] == 40
    keys = session.scalars(select(FrameUnit.unit_key).where(FrameUnit.frame_id == frame_id).order_by(FrameUnit.row_number)).all()
    assert keys[:2] == ["1000", "1001"]


def test_invalid_file_reports_every_problem_and_stores_nothing(client: FlaskClient, project: SurveyProject, session: Session) -> None:
    content = frame_csv(50, extra="g00003,school-1,2,1\n,school-1,2,1\ng99999,,3,1\ng99998,school-2,abc,1\ng99997,school-2,-4,1\n")
    mapping_url = _upload(client, project, content).headers["Location"]
    report = client.post(mapping_url, data={**MAPPING, "action": "validate"})
    assert report.status_code == 422
    page = report.get_data(as_text=True)
    assert "Duplicate unit ids: 1" in page and "g00003" in page and "line 53" in page
    assert "Rows without a unit id: 1" in page
    assert "Rows without a stratum: 1" in page and "g99999" in page
    assert "non-positive sizes: 2" in page and "abc" in page
    assert 'value="import"' not in page
    refused = client.post(mapping_url, data={**MAPPING, "action": "import"})  # forcing the import is refused too
    assert refused.status_code == 422 and "nothing was stored" in refused.get_data(as_text=True)
    assert _count(session, SamplingFrame) == 0 and _count(session, FrameUnit) == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("frame.pdf", b"%PDF-1.4", "Only CSV"),
        ("frame.csv", b"", "The file is empty"),
        ("frame.xlsx", b"not a zip", "not an Excel workbook"),
    ],
)
def test_bad_uploads_are_refused(client: FlaskClient, project: SurveyProject, app: Flask, name: str, content: bytes, message: str) -> None:
    response = _upload(client, project, content, name)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    directory = Path(app.config["FRAME_UPLOAD_DIR"])
    assert not directory.exists() or list(directory.iterdir()) == []


def test_malformed_xml_inside_a_frame_workbook_is_refused_and_nothing_is_stored(app: Flask, client: FlaskClient, project: SurveyProject, session: Session) -> None:
    good = workbooks.xlsx([["unit_id", "school"], *([f"u{i}", "s"] for i in range(40))])
    # a workbook whose workbook part is malformed is refused at the upload
    refused = _upload(client, project, workbooks.with_part(good, "xl/workbook.xml", b"<workbook><sheets><sheet"), "frame.xlsx")
    assert refused.status_code == 422 and "The Excel workbook could not be read" in refused.get_data(as_text=True)
    assert list(Path(app.config["FRAME_UPLOAD_DIR"]).iterdir()) == []
    # malformed XML further down the sheet: the header and preview read, the check reports it
    mapping_url = _upload(client, project, workbooks.broken_at_row(good, 30), "frame.xlsx").headers["Location"]
    assert client.get(mapping_url).status_code == 200
    for action in ("validate", "import"):
        response = client.post(mapping_url, data={"unit_id": "unit_id", "stratum": "school", "action": action})
        assert response.status_code == 422 and "The Excel workbook could not be read" in response.get_data(as_text=True)
    assert _count(session, SamplingFrame) == 0 and _count(session, FrameUnit) == 0


def test_nul_bytes_are_refused_by_the_check_naming_line_and_column(client: FlaskClient, project: SurveyProject, session: Session) -> None:
    """PostgreSQL cannot store NUL in text: the check finds them (on every database) instead of the import failing."""
    content = frame_csv(20).replace(b"g00007,school-1", b"g00007,sch\x00ool-1").replace(b"g00011,", b"g0\x0011,")
    mapping_url = _upload(client, project, content).headers["Location"]
    report = client.post(mapping_url, data={**MAPPING, "action": "validate"})
    page = report.get_data(as_text=True)
    assert report.status_code == 422 and "Cells containing NUL (0x00) bytes, which cannot be stored: 2" in page
    assert "line 9, column school" in page and "line 13, column unit_id" in page
    refused = client.post(mapping_url, data={**MAPPING, "action": "import"})
    assert refused.status_code == 422 and "nothing was stored" in refused.get_data(as_text=True)
    assert _count(session, SamplingFrame) == 0 and _count(session, FrameUnit) == 0


def test_an_uncertain_encoding_is_flagged_and_the_designer_picks_another(client: FlaskClient, project: SurveyProject, session: Session) -> None:
    """Latin-1 bytes decode as several code pages: detected as cp1250, Genève read as Genčve without a word."""
    cities = ["Genève", "Zürich", "Montréal", "Köln", "Paris"]
    content = ("unit_id,city\n" + "".join(f"u{i},{cities[i % 5]}\n" for i in range(30))).encode("latin-1")
    mapping_url = _upload(client, project, content).headers["Location"]
    page = client.get(mapping_url).get_data(as_text=True)
    assert "could not be recognised with certainty: it is read as cp1250" in page
    assert "u0,Genčve" in page and "u0,Genève" in page  # the same line as it reads in the guessed and in other encodings
    refused = client.post(mapping_url + "/encoding", data={"encoding": "rot13"})
    assert refused.status_code == 422 and "Choose one of the encodings offered" in refused.get_data(as_text=True)
    chosen = client.post(mapping_url + "/encoding", data={"encoding": "latin-1"})
    assert chosen.status_code == 302 and chosen.headers["Location"].endswith(mapping_url.rsplit("/admin", 1)[1])
    page = client.get(mapping_url).get_data(as_text=True)
    first_rows = page.split("First rows of the file")[1].split("</table>")[0]
    assert "with certainty" not in page and "<td>Genève</td>" in first_rows and "Genčve" not in first_rows
    started = client.post(mapping_url, data={"unit_id": "unit_id", "attributes": ["city"], "action": "import"})
    frame_id = int(started.headers["Location"].rsplit("/", 1)[1])
    assert _wait(client, frame_id)["status"] == "ready"
    stored = session.scalars(select(FrameUnit.attributes).where(FrameUnit.frame_id == frame_id).order_by(FrameUnit.row_number)).all()
    assert [s["city"] for s in stored[:5]] == cities
    # UTF-8 and GB18030 text are recognised: no warning
    for encoding in ("utf-8", "gb18030"):
        text = ("unit_id,学院\n" + "".join(f"u{i},数学学院\n" for i in range(30))).encode(encoding)
        assert "with certainty" not in client.get(_upload(client, project, text).headers["Location"]).get_data(as_text=True)


def _frame_xlsx(rows: int, width: int = 2, **cells: str) -> bytes:
    """A frame workbook of ``rows`` units; ``cells`` puts a text at a cell, e.g. ``B20="..."``."""
    grid = [["unit_id", *(f"c{j}" for j in range(1, width))], *([f"u{i}", *(["x"] * (width - 1))] for i in range(rows))]
    for ref, value in cells.items():
        grid[int(ref[1:]) - 1][ord(ref[0]) - ord("A")] = value
    return workbooks.streamed_xlsx({"units": grid})


@pytest.mark.parametrize(
    ("limits", "content", "message"),
    [
        ({"SHEET_MAX_ROWS": 100}, lambda: _frame_xlsx(150), "The sheet units has more than 100 rows"),
        ({"SHEET_MAX_CELLS": 300}, lambda: _frame_xlsx(100, width=4), "The workbook has more than 300 cells"),
        ({"SHEET_MAX_CELL_CHARS": 50}, lambda: _frame_xlsx(30, B20="y" * 51), "row 20, column B holds more than 50 characters"),
        ({"SHEET_MAX_SECONDS": 0.05}, lambda: _frame_xlsx(20_000), "Reading the workbook took longer than 0.05 seconds"),
    ],
)
def test_a_frame_workbook_over_a_reading_limit_is_refused_by_the_check(
    app: Flask, client: FlaskClient, project: SurveyProject, session: Session, limits: dict[str, Any], content: Any, message: str
) -> None:
    mapping_url = _upload(client, project, content(), "frame.xlsx").headers["Location"]
    app.config.update(limits)
    for action in ("validate", "import"):
        response = client.post(mapping_url, data={"unit_id": "unit_id", "action": action})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert _count(session, SamplingFrame) == 0 and _count(session, FrameUnit) == 0


@pytest.mark.parametrize(
    ("limits", "content", "message"),
    [
        # 20 MB of one letter in 20 kB: a zip bomb in small, refused before anything is unpacked
        ({}, lambda: workbooks.streamed_xlsx({"units": [["unit_id", "name"], ["u1", "a" * (20 << 20)]]}),
         "is compressed more than 100 times"),
        ({"SHEET_MAX_UNPACKED_MB": 1}, lambda: _frame_xlsx(3, B2=workbooks.noise(1_200_000)), "more than the limit of 1 MB"),
        ({}, lambda: workbooks.with_parts(_frame_xlsx(3), 1_001), "more than 1000 parts"),
    ],
)
def test_a_frame_workbook_that_unpacks_too_much_is_refused_at_the_upload(
    app: Flask, client: FlaskClient, project: SurveyProject, limits: dict[str, Any], content: Any, message: str
) -> None:
    app.config.update(limits)
    response = _upload(client, project, content(), "frame.xlsx")
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert list(Path(app.config["FRAME_UPLOAD_DIR"]).iterdir()) == []


def test_a_csv_cell_over_the_length_limit_is_refused_by_the_check(app: Flask, client: FlaskClient, project: SurveyProject, session: Session) -> None:
    app.config["SHEET_MAX_CELL_CHARS"] = 50
    mapping_url = _upload(client, project, frame_csv(40).replace(b"g00031,school-1", b"g00031," + b"s" * 51)).headers["Location"]
    assert client.get(mapping_url).status_code == 200
    response = client.post(mapping_url, data={**MAPPING, "action": "validate"})
    assert response.status_code == 422 and "line 33, column school holds more than 50 characters" in response.get_data(as_text=True)
    assert _count(session, SamplingFrame) == 0


def test_spaces_around_csv_column_names_are_ignored(client: FlaskClient, project: SurveyProject, session: Session) -> None:
    """The mapping page showed the names stripped, the check looked them up unstripped: a 500."""
    mapping_url = _upload(client, project, b"unit_id , school\nu1,a\nu2,b\n").headers["Location"]
    report = client.post(mapping_url, data={"unit_id": "unit_id", "stratum": "school", "action": "validate"})
    assert report.status_code == 200 and "No problems found" in report.get_data(as_text=True)


def test_bad_mapping_names_the_column(client: FlaskClient, project: SurveyProject) -> None:
    mapping_url = _upload(client, project, frame_csv(5)).headers["Location"]
    response = client.post(mapping_url, data={**MAPPING, "unit_id": "nope", "action": "validate"})
    assert response.status_code == 422 and "&#39;nope&#39; is not a column of the file" in response.get_data(as_text=True)
    same = client.post(mapping_url, data={**MAPPING, "stratum": "unit_id", "action": "validate"})
    assert same.status_code == 422 and "must be different columns" in same.get_data(as_text=True)


def test_undecodable_text_is_reported(client: FlaskClient, project: SurveyProject) -> None:
    content = frame_csv(3) + b"g9,\xff\xfe\xfa\xfb,1,1\n" * 2
    response = _upload(client, project, content)
    if response.status_code == 302:  # detected as some single-byte encoding: the data then decodes
        assert client.get(response.headers["Location"]).status_code == 200
    else:
        assert response.status_code == 422


def test_staged_upload_of_another_project_is_not_found(app: Flask, client: FlaskClient, project: SurveyProject, session: Session) -> None:
    other = project_admin.create(session, project_data("other"), actor=session.get(type(project.owner), project.owner_id))  # type: ignore[arg-type]
    session.commit()
    staged = frame_files.stage_upload(app.config["FRAME_UPLOAD_DIR"], "x.csv", io.BytesIO(frame_csv(3)), project_id=other.id, user_id=project.owner_id or 0)
    assert client.get(f"/admin/projects/{project.id}/frames/staged/{staged.token}").status_code == 404
    assert client.get(f"/admin/projects/{project.id}/frames/staged/..%2F..%2Fetc").status_code == 404


def test_failed_import_keeps_nothing(app: Flask, session: Session, project: SurveyProject) -> None:
    from survey_app.core import db
    from survey_app.fieldwork.services import frames

    staged = frame_files.stage_upload(app.config["FRAME_UPLOAD_DIR"], "f.csv", io.BytesIO(frame_csv(30)), project_id=project.id, user_id=project.owner_id or 0)
    mapping = frames.parse_mapping(frame_files.header(staged), MAPPING)
    frame, _ = frames.start_import(session, project, staged, mapping, name="F", actor=session.get(type(project.owner), project.owner_id))  # type: ignore[arg-type]
    session.commit()
    staged.path.write_bytes(frame_csv(30) + b"g00001,school-1,1,1\n")  # changed on disk after validation: unique key violated
    frames.run_import(db.session_factory(app), frame.id, staged, chunk_rows=10)
    session.expire_all()
    failed = session.get(SamplingFrame, frame.id)
    assert failed is not None and failed.status == FrameStatus.FAILED and failed.error
    assert _count(session, FrameUnit) == 0


def test_a_failed_import_shows_neither_sql_nor_the_rows(app: Flask, client: FlaskClient, session: Session, project: SurveyProject) -> None:
    """A database error during the import is logged; the designer sees what happened, not the statement and its data."""
    from survey_app.core import db
    from survey_app.fieldwork.services import frames

    staged = frame_files.stage_upload(app.config["FRAME_UPLOAD_DIR"], "f.csv", io.BytesIO(frame_csv(30)), project_id=project.id, user_id=project.owner_id or 0)
    mapping = frames.parse_mapping(frame_files.header(staged), MAPPING)
    frame, _ = frames.start_import(session, project, staged, mapping, name="F", actor=session.get(type(project.owner), project.owner_id))  # type: ignore[arg-type]
    session.commit()
    staged.path.write_bytes(frame_csv(30) + b"g00001,school-1,1,13999999999\n")  # a duplicate key appears after the check
    frames.run_import(db.session_factory(app), frame.id, staged, chunk_rows=10)
    page = client.get(f"/admin/frames/{frame.id}").get_data(as_text=True)
    assert "The import failed and nothing was kept" in page and "unexpected error" in page
    for leaked in ("INSERT", "SQL", "frame_units", "13999999999", "1380000", "IntegrityError"):
        assert leaked not in page


def _age(directory: Path, token: str, hours: float) -> None:
    then = time.time() - hours * 3600
    for path in directory.glob(f"{token}.*"):
        os.utime(path, (then, then))


def test_staged_uploads_left_unused_expire(app: Flask, client: FlaskClient, project: SurveyProject) -> None:
    """Staged files (contact data among them) stayed on disk forever when the designer went away."""
    directory = Path(app.config["FRAME_UPLOAD_DIR"])
    left, used = (_upload(client, project, frame_csv(5)).headers["Location"] for _ in range(2))
    _age(directory, left.rsplit("/", 1)[1], hours=25)
    _age(directory, used.rsplit("/", 1)[1], hours=23)
    assert client.get(used).status_code == 200  # using an upload keeps it for another day
    _age(directory, used.rsplit("/", 1)[1], hours=2)
    fresh = _upload(client, project, frame_csv(5)).headers["Location"]  # each upload clears the staging folder
    assert sorted(p.stem for p in directory.iterdir()) == sorted([used.rsplit("/", 1)[1], fresh.rsplit("/", 1)[1]] * 2)
    gone = client.get(left)
    assert gone.status_code == 404 and "left unused for more than 24 hours" in gone.get_data(as_text=True)
    _age(directory, used.rsplit("/", 1)[1], hours=25)  # expired, even before another upload clears it
    assert client.get(used).status_code == 404 and not list(directory.glob(used.rsplit("/", 1)[1] + ".*"))
    # a command for cron clears the folder when nobody uploads
    _age(directory, fresh.rsplit("/", 1)[1], hours=30)
    result = app.test_cli_runner().invoke(args=["frames", "cleanup"])
    assert result.exit_code == 0 and "1 staged upload(s) removed" in result.output and list(directory.iterdir()) == []


def _start(app: Flask, session: Session, project: SurveyProject, rows: int = 60) -> tuple[SamplingFrame, Any]:
    from survey_app.fieldwork.services import frames

    staged = frame_files.stage_upload(app.config["FRAME_UPLOAD_DIR"], "f.csv", io.BytesIO(frame_csv(rows)), project_id=project.id, user_id=project.owner_id or 0)
    mapping = frames.parse_mapping(frame_files.header(staged), MAPPING)
    frame, _ = frames.start_import(session, project, staged, mapping, name="F", actor=session.get(type(project.owner), project.owner_id))  # type: ignore[arg-type]
    session.commit()
    return frame, staged


def _stall(session: Session, frame_id: int, minutes: float = 6) -> None:
    """Make the frame's last progress ``minutes`` old, as when the process running its import died."""
    session.execute(update(SamplingFrame).where(SamplingFrame.id == frame_id).values(updated_at=datetime.now(UTC) - timedelta(minutes=minutes)))
    session.commit()


def test_a_killed_import_fails_cleanly_and_the_designer_can_upload_again(app: Flask, client: FlaskClient, session: Session, project: SurveyProject, monkeypatch: pytest.MonkeyPatch) -> None:
    """An import whose process was killed stayed "importing" forever with part of its units."""
    from survey_app.core import db
    from survey_app.fieldwork.services import frames

    frame, staged = _start(app, session, project)
    chunks = frame_files.iter_chunks

    def killed_after_the_first_batch(*args: Any, **kwargs: Any) -> Any:
        yield next(chunks(*args, **kwargs))
        raise SystemExit("the worker process was killed")  # not an Exception: nothing of run_import's own runs

    monkeypatch.setattr(frame_files, "iter_chunks", killed_after_the_first_batch)
    with pytest.raises(SystemExit):
        frames.run_import(db.session_factory(app), frame.id, staged, chunk_rows=20)
    monkeypatch.undo()
    assert _count(session, FrameUnit) == 20
    assert client.get(f"/admin/frames/{frame.id}/progress").get_json()["status"] == "importing"  # it may still be running
    _stall(session, frame.id)
    progress = client.get(f"/admin/frames/{frame.id}/progress").get_json()
    assert progress["status"] == "failed" and "stopped making progress" in progress["error"] and progress["rows_imported"] == 0
    assert _count(session, FrameUnit) == 0
    assert "stopped making progress" in client.get(f"/admin/frames/{frame.id}").get_data(as_text=True)
    mapping_url = _upload(client, project, frame_csv(60)).headers["Location"]
    started = client.post(mapping_url, data={**MAPPING, "action": "import"})
    assert _wait(client, int(started.headers["Location"].rsplit("/", 1)[1]))["rows_imported"] == 60
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(frame.id), AuditEvent.object_type == "sampling_frame")).all()
    assert actions == ["frame.upload", "frame.import_failed"]


def test_an_import_failed_as_stalled_keeps_nothing_even_if_it_was_still_running(app: Flask, client: FlaskClient, session: Session, project: SurveyProject, monkeypatch: pytest.MonkeyPatch) -> None:
    from survey_app.core import db
    from survey_app.fieldwork.services import frames

    frame, staged = _start(app, session, project)
    chunks = frame_files.iter_chunks
    seen: list[str] = []

    def slow(*args: Any, **kwargs: Any) -> Any:
        for number, chunk in enumerate(chunks(*args, **kwargs)):
            if number == 1:  # a batch that took longer than the stall limit: the frame is failed meanwhile
                _stall(session, frame.id)
                seen.append(client.get(f"/admin/frames/{frame.id}/progress").get_json()["status"])
            yield chunk

    monkeypatch.setattr(frame_files, "iter_chunks", slow)
    frames.run_import(db.session_factory(app), frame.id, staged, chunk_rows=20)
    assert seen == ["failed"]
    session.expire_all()
    failed = session.get(SamplingFrame, frame.id)
    assert failed is not None and failed.status == FrameStatus.FAILED and failed.rows_imported == 0
    assert _count(session, FrameUnit) == 0 and not staged.path.exists()


def test_progress_is_read_from_the_database_by_any_app_instance(app: Flask, app_config: dict[str, Any], client: FlaskClient, project: SurveyProject, session: Session) -> None:
    """A second app (another process in production) sees the import and its progress: no process state."""
    from survey_app import create_app
    from survey_app.core import db

    other_app = create_app(app_config)
    try:
        other = other_app.test_client()
        login(other, session.get(type(project.owner), project.owner_id).email)  # type: ignore[union-attr]
        mapping_url = _upload(client, project, frame_csv(300)).headers["Location"]
        assert other.get(mapping_url).status_code == 200  # the staged file is on disk, not in memory
        started = client.post(mapping_url, data={**MAPPING, "action": "import"})
        frame_id = int(started.headers["Location"].rsplit("/", 1)[1])
        for _ in range(200):
            progress = other.get(f"/admin/frames/{frame_id}/progress").get_json()
            if progress["status"] != "importing":
                break
            time.sleep(0.05)
        assert progress["status"] == "ready" and progress["rows_imported"] == 300
    finally:
        db.engine(other_app).dispose()
