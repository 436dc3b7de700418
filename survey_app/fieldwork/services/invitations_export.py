"""Invitations of a drawn sample: issue personal links, export them for SMS/mail merge, QR codes,
and e-mail reminders over SMTP (configured by ``STRATA_SMTP_URL``; disabled when unset).

Tokens are issued by :mod:`survey_app.fieldwork.services.invitations` (the respondent side). Exports contain
contact data (personal information), so every export is written to the audit log.
"""

from __future__ import annotations

import io
import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import segno
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core import exporters
from survey_app.core.errors import Conflict, ValidationFailed
from survey_app.core.models import utcnow
from survey_app.fieldwork.models import (
    FrameUnit,
    Invitation,
    InvitationStatus,
    SampleDraw,
    SampleUnit,
)
from survey_app.fieldwork.services import invitations

Link = Callable[[str], str]


REMINDABLE = (InvitationStatus.ISSUED, InvitationStatus.STARTED)


@dataclass(frozen=True)
class InvitationRow:
    invitation_id: int | None
    unit_key: str
    stratum: str
    contact: dict[str, Any]
    token: str
    status: str
    reminders_sent: int

    @property
    def masked_contact(self) -> dict[str, str]:
        """Contact values for display: only the first and last characters shown (exports are full, and audited)."""
        return {key: mask(value) for key, value in self.contact.items()}


def mask(value: Any) -> str:
    """``13800001234`` -> ``138******34``; ``g1@example.org`` -> ``g1*********rg``; short values hidden."""
    text = str(value or "")
    if len(text) <= 4:
        return "*" * len(text)
    keep = 3 if len(text) >= 8 else 1
    return text[:keep] + "*" * (len(text) - keep - 2) + text[-2:]


def rows(session: Session, draw: SampleDraw) -> Iterator[InvitationRow]:
    """Every sampled unit of ``draw`` with its invitation (if issued), in frame order."""
    query = (
        select(Invitation.id, FrameUnit.unit_key, SampleUnit.stratum, FrameUnit.contact, Invitation.token, Invitation.status, Invitation.reminders_sent)
        .select_from(SampleUnit)
        .join(FrameUnit, FrameUnit.id == SampleUnit.frame_unit_id)
        .outerjoin(Invitation, Invitation.sample_unit_id == SampleUnit.id)
        .where(SampleUnit.draw_id == draw.id)
        .order_by(FrameUnit.row_number)
        .execution_options(yield_per=2000)
    )
    for inv_id, key, stratum, contact, token, status, reminders in session.execute(query):
        yield InvitationRow(inv_id, key, stratum or "", dict(contact or {}), token or "", status.value if status else "", reminders or 0)


def counts(session: Session, draw: SampleDraw) -> dict[str, int]:
    """Sampled units, issued invitations, and invitations per status."""
    units = session.scalar(select(func.count(SampleUnit.id)).where(SampleUnit.draw_id == draw.id)) or 0
    by_status = dict(
        session.execute(
            select(Invitation.status, func.count(Invitation.id)).join(SampleUnit, SampleUnit.id == Invitation.sample_unit_id).where(SampleUnit.draw_id == draw.id).group_by(Invitation.status)
        ).all()
    )
    result = {"units": int(units), "issued": int(sum(by_status.values()))}
    result.update({status.value: int(by_status.get(status, 0)) for status in InvitationStatus})
    return result


def issue(session: Session, draw: SampleDraw, *, actor: User) -> int:
    """Issue a personal invitation to every unit of ``draw`` that has none; returns how many."""
    units = list(session.scalars(select(SampleUnit).where(SampleUnit.draw_id == draw.id).order_by(SampleUnit.id)))
    created = invitations.issue_personal(session, draw.frame.project, units, actor=actor)
    return len(created)


def _contact_columns(draw: SampleDraw) -> list[str]:
    return [str(c) for c in draw.frame.columns.get("contact") or []]


def _table(session: Session, draw: SampleDraw, link: Link) -> Iterator[list[Any]]:
    """Header and rows as stored; the writers pass every cell through
    :func:`survey_app.core.exporters.spreadsheet_safe` (frame values and column names come from an
    uploaded file)."""
    contact = _contact_columns(draw)
    yield ["unit_id", "stratum", *contact, "token", "link", "status", "reminders_sent"]
    for row in rows(session, draw):
        if not row.token:
            continue
        yield [row.unit_key, row.stratum, *(row.contact.get(c, "") for c in contact), row.token, link(row.token), row.status, row.reminders_sent]


def _require_issued(session: Session, draw: SampleDraw) -> int:
    issued = counts(session, draw)["issued"]
    if not issued:
        raise Conflict("No invitations have been issued for this sample yet.", {"invitations": ["issue the invitations first"]})
    return issued


def export_csv(session: Session, draw: SampleDraw, link: Link, *, actor: User) -> str:
    """CSV with a UTF-8 BOM (opens correctly in Excel) for SMS or mail merge."""
    issued = _require_issued(session, draw)
    text = exporters.BOM + exporters.csv_lines(_table(session, draw, link))
    audit.record(session, "invitation.export", actor=actor, object_type="sample_draw", object_id=draw.id, details={"format": "csv", "rows": issued})
    return text


def export_xlsx(session: Session, draw: SampleDraw, link: Link, *, actor: User) -> bytes:
    from openpyxl import Workbook

    issued = _require_issued(session, draw)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("invitations")
    for line in _table(session, draw, link):
        sheet.append(exporters.xlsx_row(line))
    buffer = io.BytesIO()
    book.save(buffer)
    audit.record(session, "invitation.export", actor=actor, object_type="sample_draw", object_id=draw.id, details={"format": "xlsx", "rows": issued})
    return buffer.getvalue()


def qr_code(url: str, kind: str) -> bytes:
    """A QR code of ``url`` as SVG or PNG (segno, error correction M)."""
    if kind not in ("svg", "png"):
        raise ValidationFailed("QR codes are SVG or PNG.", {"kind": [f"{kind!r} is not svg or png"]})
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind=kind, scale=6 if kind == "png" else 4, border=2)
    return buffer.getvalue()


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str
    password: str
    sender: str
    ssl: bool
    starttls: bool

    @property
    def display(self) -> str:
        return f"{'smtps' if self.ssl else 'smtp'}://{self.host}:{self.port} ({self.sender})"


def smtp_settings(url: str) -> SmtpSettings | None:
    """Parse ``smtp[s]://user:password@host:port?from=sender&starttls=1``; ``None`` when unset."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValidationFailed("STRATA_SMTP_URL is not valid.", {"STRATA_SMTP_URL": ["use smtp://user:password@host:port?from=sender@example.org"]})
    query = parse_qs(parts.query)
    sender = (query.get("from") or [""])[0] or (unquote(parts.username or "") if "@" in unquote(parts.username or "") else "")
    if not sender:
        raise ValidationFailed("STRATA_SMTP_URL has no sender.", {"STRATA_SMTP_URL": ["add ?from=sender@example.org"]})
    ssl = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or (465 if ssl else 25),
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        sender=sender,
        ssl=ssl,
        starttls=(query.get("starttls") or ["0"])[0] in ("1", "true", "yes"),
    )


def _email(contact: dict[str, Any]) -> str:
    for value in contact.values():
        text = str(value or "").strip()
        if "@" in text and "." in text.rsplit("@", 1)[-1] and " " not in text:
            return text
    return ""


def send_reminders(
    session: Session,
    draw: SampleDraw,
    settings: SmtpSettings | None,
    link: Link,
    *,
    subject: str,
    body: str,
    actor: User,
    smtp_class: type[smtplib.SMTP] | None = None,
) -> tuple[int, int]:
    """E-mail the link to units not yet done that have an e-mail address; returns (sent, skipped).

    ``body`` may contain ``{link}``. Each sent invitation's ``reminders_sent`` and ``last_sent_at``
    are updated; one audit event records the batch.
    """
    if settings is None:
        raise Conflict("E-mail reminders are disabled: STRATA_SMTP_URL is not set.")
    if "{link}" not in body:
        raise ValidationFailed("The message must contain {link}.", {"body": ["put {link} where the survey link goes"]})
    targets = [(row, _email(row.contact)) for row in rows(session, draw) if row.token and row.status in {s.value for s in REMINDABLE}]
    sendable = [(row, address) for row, address in targets if address]
    cls = smtp_class or (smtplib.SMTP_SSL if settings.ssl else smtplib.SMTP)
    sent_ids: list[int] = []
    with cls(settings.host, settings.port, timeout=30) as server:
        if settings.starttls:
            server.starttls()
        if settings.username:
            server.login(settings.username, settings.password)
        for row, address in sendable:
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = settings.sender, address, subject
            message.set_content(body.replace("{link}", link(row.token)))
            server.send_message(message)
            assert row.invitation_id is not None
            sent_ids.append(row.invitation_id)
    now = utcnow()
    for invitation in session.scalars(select(Invitation).where(Invitation.id.in_(sent_ids))):
        invitation.reminders_sent += 1
        invitation.last_sent_at = now
    session.flush()
    audit.record(session, "invitation.remind", actor=actor, object_type="sample_draw", object_id=draw.id, details={"sent": len(sent_ids), "without_email": len(targets) - len(sendable)})
    return len(sent_ids), len(targets) - len(sendable)


SETTABLE = {"refused": InvitationStatus.REFUSED, "not_reached": InvitationStatus.NOT_REACHED, "issued": InvitationStatus.ISSUED}


def record_outcomes(session: Session, draw: SampleDraw, text: str, *, actor: User) -> int:
    """Record field outcomes from lines ``unit_id,outcome`` (``refused``, ``not_reached`` or
    ``issued`` to undo). Every line is checked first; one bad line stores nothing."""
    wanted: dict[str, InvitationStatus] = {}
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        key, _, outcome = (part.strip() for part in line.replace("\t", ",").partition(","))
        if outcome not in SETTABLE:
            problems.append(f"line {number}: {outcome!r} is not one of {', '.join(SETTABLE)}")
            continue
        wanted[key] = SETTABLE[outcome]
    invitations_by_key = {
        key: invitation
        for invitation, key in session.execute(
            select(Invitation, FrameUnit.unit_key)
            .join(SampleUnit, SampleUnit.id == Invitation.sample_unit_id)
            .join(FrameUnit, FrameUnit.id == SampleUnit.frame_unit_id)
            .where(SampleUnit.draw_id == draw.id, FrameUnit.unit_key.in_(list(wanted)))
        )
    }
    for key in wanted:
        invitation = invitations_by_key.get(key)
        if invitation is None:
            problems.append(f"{key!r} has no invitation in this sample")
        elif invitation.status in (InvitationStatus.SUBMITTED, InvitationStatus.STARTED):
            problems.append(f"{key!r} has already answered ({invitation.status.value})")
    if problems or not wanted:
        raise ValidationFailed("The outcomes were not recorded.", {"outcomes": problems or ["enter lines like unit_id,refused"]})
    changes = {}
    for key, status in wanted.items():
        invitation = invitations_by_key[key]
        if invitation.status != status:
            changes[key] = [invitation.status.value, status.value]
            invitation.status = status
    session.flush()
    audit.record(session, "invitation.outcomes", actor=actor, object_type="sample_draw", object_id=draw.id, details={"changed": changes})
    return len(changes)
