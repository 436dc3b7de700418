"""Sampling frames: column mapping, the validation report, and the chunked background import.

Flow: :func:`frame_files.stage_upload` puts the file on disk -> the designer maps columns ->
:func:`validate` reads the whole file in chunks and reports duplicates, missing ids or strata and
bad sizes -> :func:`start_import` (only for a clean report) creates the frame row with status
``importing`` -> :func:`run_import` (a background thread with its own session, see
:func:`launch_import`) inserts the units in batches and records progress on the frame row, where
any app process can read it. An invalid file stores nothing; a failed import removes its units.

An import whose process was killed makes no more progress: after :data:`STALLED_AFTER` without
any, :func:`fail_stalled_imports` (run when its page or progress is read, and by ``strata frames
cleanup``) fails it and removes its units, and the designer uploads the file again. The import
only records progress while its frame is still ``importing``, so one that was merely slow and was
failed meanwhile stops and keeps nothing either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from flask import Flask
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core import frame_files, spreadsheets
from survey_app.core.errors import AppError, NotFound, ValidationFailed
from survey_app.core.frame_files import StagedFile
from survey_app.core.models import utcnow
from survey_app.fieldwork.models import FrameStatus, FrameUnit, SampleDraw, SamplingFrame
from survey_app.projects.models import SurveyProject

log = logging.getLogger(__name__)


EXAMPLES = 10


INSERT_BATCH = 5_000


STALLED_AFTER = timedelta(minutes=5)


MAX_KEY, MAX_STRATUM = 120, 200


#: Stored on the frame when its import made no progress for STALLED_AFTER (shown translated).
IMPORT_STALLED = _l("The import stopped making progress (the process running it was probably stopped) and nothing was kept. "
                    "Upload the file again.")


#: Stored on the frame when an import fails for a reason other than the file (shown translated).
IMPORT_FAILED = _l("The import stopped because of an unexpected error, which has been logged. Upload the file again; "
                   "if it fails again, tell the administrator.")


@dataclass(frozen=True)
class ColumnMapping:
    """Which uploaded column plays which role."""

    unit_id: str
    stratum: str = ""
    size: str = ""
    contact: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()

    @property
    def used(self) -> list[str]:
        """The columns that are imported, in the order of the roles."""
        return list(dict.fromkeys(c for c in (self.unit_id, self.stratum, self.size, *self.contact, *self.attributes) if c))

    def as_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "stratum": self.stratum or None,
            "size": self.size or None,
            "contact": list(self.contact),
            "attributes": list(self.attributes),
        }


@dataclass
class Problem:
    count: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, rows: pd.DataFrame, column: str) -> None:
        """Count ``rows`` and keep the first few as examples (line number and ``column``'s value)."""
        self.count += len(rows)
        need = EXAMPLES - len(self.examples)
        for line, value in zip(rows.index[:need], rows[column].iloc[:need], strict=True):
            self.examples.append({"line": int(line), "value": str(value)})

    def add_cells(self, lines: pd.Index, column: str) -> None:
        """Count cells of ``column`` on ``lines`` and keep the first few as examples (line and column)."""
        self.count += len(lines)
        for line in lines[: EXAMPLES - len(self.examples)]:
            self.examples.append({"line": int(line), "value": "", "column": column})


@dataclass
class ValidationReport:
    rows: int = 0
    missing_ids: Problem = field(default_factory=Problem)
    long_ids: Problem = field(default_factory=Problem)
    duplicates: Problem = field(default_factory=Problem)
    missing_strata: Problem = field(default_factory=Problem)
    long_strata: Problem = field(default_factory=Problem)
    bad_sizes: Problem = field(default_factory=Problem)
    nul_bytes: Problem = field(default_factory=Problem)
    strata: dict[str, int] = field(default_factory=dict)

    @property
    def problems(self) -> dict[str, Problem]:
        named = {
            "missing_ids": self.missing_ids,
            "long_ids": self.long_ids,
            "duplicates": self.duplicates,
            "missing_strata": self.missing_strata,
            "long_strata": self.long_strata,
            "bad_sizes": self.bad_sizes,
            "nul_bytes": self.nul_bytes,
        }
        return {k: v for k, v in named.items() if v.count}

    @property
    def ok(self) -> bool:
        return self.rows > 0 and not self.problems


def parse_mapping(columns: list[str], data: Mapping[str, Any]) -> ColumnMapping:
    """Check a mapping against the file's columns; every problem names the column."""
    errors: dict[str, list[str]] = {}

    def one(name: str, required: bool = False) -> str:
        value = str(data.get(name) or "").strip()
        if not value:
            if required:
                errors[name] = ["choose the column that identifies each unit"]
            return ""
        if value not in columns:
            errors[name] = [f"{value!r} is not a column of the file"]
        return value

    def many(name: str) -> tuple[str, ...]:
        raw = data.get(name) or []
        values = [raw] if isinstance(raw, str) else list(raw)
        bad = [v for v in values if v not in columns]
        if bad:
            errors[name] = [f"{v!r} is not a column of the file" for v in bad]
        return tuple(v for v in values if v in columns)

    mapping = ColumnMapping(one("unit_id", True), one("stratum"), one("size"), many("contact"), many("attributes"))
    used = [c for c in (mapping.unit_id, mapping.stratum, mapping.size) if c]
    overlap = set(mapping.contact) & (set(used) | set(mapping.attributes))
    if overlap:
        errors["contact"] = [f"{c!r} is already used for another role" for c in sorted(overlap)]
    if len(set(used)) != len(used):
        errors["unit_id"] = ["unit id, stratum and size must be different columns"]
    if errors:
        raise ValidationFailed("The column mapping is not valid.", errors)
    return mapping


def _sizes(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.str.replace(",", "", regex=False), errors="coerce")


def validate(staged: StagedFile, mapping: ColumnMapping, chunk_rows: int = frame_files.CHUNK_ROWS) -> ValidationReport:
    """Read the whole file in chunks and report every problem (nothing is stored)."""
    report = ValidationReport()
    hashes: list[np.ndarray] = []
    strata: dict[str, int] = {}
    for chunk in frame_files.iter_chunks(staged, chunk_rows):
        report.rows += len(chunk)
        ids = chunk[mapping.unit_id]
        report.missing_ids.add(chunk[ids == ""], mapping.unit_id)
        report.long_ids.add(chunk[ids.str.len() > MAX_KEY], mapping.unit_id)
        hashes.append(pd.util.hash_array(ids.to_numpy(dtype=object)))
        if mapping.stratum:
            labels = chunk[mapping.stratum]
            report.missing_strata.add(chunk[labels == ""], mapping.unit_id)
            report.long_strata.add(chunk[labels.str.len() > MAX_STRATUM], mapping.stratum)
            for label, count in labels[labels != ""].value_counts().items():
                strata[str(label)] = strata.get(str(label), 0) + int(count)
        if mapping.size:
            sizes = _sizes(chunk[mapping.size])
            bad = sizes.isna() | ~np.isfinite(sizes.fillna(0)) | (sizes <= 0)
            report.bad_sizes.add(chunk[bad.to_numpy()], mapping.size)
        for column in mapping.used:  # PostgreSQL cannot store NUL in text; SQLite could, but the rule is one
            nul = chunk[column].str.contains("\x00", regex=False).to_numpy()
            if nul.any():
                report.nul_bytes.add_cells(chunk.index[nul], column)
    report.strata = dict(sorted(strata.items()))
    if hashes:
        _find_duplicates(staged, mapping, np.concatenate(hashes), report, chunk_rows)
    return report


def _find_duplicates(staged: StagedFile, mapping: ColumnMapping, hashes: np.ndarray, report: ValidationReport, chunk_rows: int) -> None:
    values, counts = np.unique(hashes, return_counts=True)
    repeated = values[counts > 1]
    if not len(repeated):
        return
    report.duplicates.count = int(counts[counts > 1].sum() - len(repeated))
    # second pass, only when there are duplicates: name them
    for chunk in frame_files.iter_chunks(staged, chunk_rows):
        ids = chunk[mapping.unit_id]
        hit = np.isin(pd.util.hash_array(ids.to_numpy(dtype=object)), repeated)
        for line, value in zip(chunk.index[hit], ids[hit], strict=True):
            if len(report.duplicates.examples) >= EXAMPLES:
                return
            report.duplicates.examples.append({"line": int(line), "value": str(value)})


def start_import(
    session: Session,
    project: SurveyProject,
    staged: StagedFile,
    mapping: ColumnMapping,
    *,
    name: str,
    actor: User,
    chunk_rows: int = frame_files.CHUNK_ROWS,
) -> tuple[SamplingFrame, ValidationReport]:
    """Validate, then create the frame row (status ``importing``); raise when the report has problems."""
    report = validate(staged, mapping, chunk_rows)
    if not report.ok:
        errors = {key: [f"{p.count} rows"] for key, p in report.problems.items()} or {"file": ["no data rows"]}
        raise ValidationFailed("The frame has problems; nothing was stored.", errors)
    frame = SamplingFrame(
        project_id=project.id,
        name=(name or staged.filename)[:200],
        source_filename=staged.filename[:300],
        file_sha256=staged.sha256,
        columns={**mapping.as_dict(), "encoding": staged.encoding, "kind": staged.kind},
        row_count=report.rows,
        rows_imported=0,
        status=FrameStatus.IMPORTING,
        created_by_id=actor.id,
    )
    session.add(frame)
    session.flush()
    audit.record(
        session,
        "frame.upload",
        actor=actor,
        object_type="sampling_frame",
        object_id=frame.id,
        after=audit.snapshot(frame),
        details={"project_id": project.id, "rows": report.rows, "strata": len(report.strata)},
    )
    return frame, report


def _unit_rows(frame_id: int, chunk: pd.DataFrame, mapping: ColumnMapping) -> list[dict[str, Any]]:
    keys = chunk[mapping.unit_id].tolist()
    strata = chunk[mapping.stratum].tolist() if mapping.stratum else [None] * len(chunk)
    sizes = _sizes(chunk[mapping.size]).tolist() if mapping.size else [None] * len(chunk)
    attributes = chunk[list(mapping.attributes)].to_dict("records") if mapping.attributes else [{}] * len(chunk)
    contact = chunk[list(mapping.contact)].to_dict("records") if mapping.contact else [{}] * len(chunk)
    return [
        {
            "frame_id": frame_id,
            "row_number": int(line),
            "unit_key": key,
            "stratum": stratum,
            "size": size,
            "attributes": attrs,
            "contact": reach,
        }
        for line, key, stratum, size, attrs, reach in zip(chunk.index, keys, strata, sizes, attributes, contact, strict=True)
    ]


def run_import(factory: sessionmaker[Session], frame_id: int, staged: StagedFile, chunk_rows: int = frame_files.CHUNK_ROWS,
               limits: spreadsheets.Limits | None = None) -> None:
    """Insert the units of a validated file in batches, committing progress after each batch.

    ``limits``: the application's reading limits (a background thread has no application context).
    """
    with factory() as session:
        frame = session.get(SamplingFrame, frame_id)
        if frame is None or frame.status != FrameStatus.IMPORTING:
            return
        columns = frame.columns
        mapping = ColumnMapping(
            columns["unit_id"], columns.get("stratum") or "", columns.get("size") or "",
            tuple(columns.get("contact") or ()), tuple(columns.get("attributes") or ()),
        )
        done = 0
        try:
            for chunk in frame_files.iter_chunks(staged, chunk_rows, limits):
                rows = _unit_rows(frame_id, chunk, mapping)
                for start in range(0, len(rows), INSERT_BATCH):
                    session.execute(insert(FrameUnit), rows[start : start + INSERT_BATCH])
                done += len(rows)
                if not _record_progress(session, frame_id, rows_imported=done):
                    return
                session.commit()
            if not _record_progress(session, frame_id, status=FrameStatus.READY, row_count=done, rows_imported=done):
                return
            audit.record(session, "frame.import_complete", actor_label="frame-import", object_type="sampling_frame", object_id=frame_id, details={"rows": done})
            session.commit()
        except Exception as exc:  # record any failure on the frame; never leave half a frame
            log.exception("import of frame %s failed", frame_id)
            session.rollback()
            session.execute(delete(FrameUnit).where(FrameUnit.frame_id == frame_id))
            # the designer sees a read error of the file; anything else (e.g. the database's statement
            # and its rows, personal data among them) stays in the log
            message = exc.message if isinstance(exc, AppError) else str(IMPORT_FAILED)
            session.execute(
                update(SamplingFrame).where(SamplingFrame.id == frame_id).values(status=FrameStatus.FAILED, rows_imported=0, error=str(message)[:2000], updated_at=utcnow())
            )
            audit.record(session, "frame.import_failed", actor_label="frame-import", object_type="sampling_frame", object_id=frame_id, details={"error": str(message)[:500]})
            session.commit()
        finally:
            frame_files.discard(staged)


def _record_progress(session: Session, frame_id: int, **values: Any) -> bool:
    """Record the import's progress while its frame is still importing; otherwise (it was failed as
    stalled meanwhile) drop this batch and return False."""
    recorded = session.execute(
        update(SamplingFrame).where(SamplingFrame.id == frame_id, SamplingFrame.status == FrameStatus.IMPORTING).values(**values, updated_at=utcnow())
    )
    if recorded.rowcount:  # type: ignore[attr-defined]
        return True
    session.rollback()
    log.warning("import of frame %s stopped: the frame is no longer importing", frame_id)
    return False


def fail_stalled_imports(session: Session, *, frame_id: int | None = None) -> int:
    """Fail the imports (of one frame, or all) that made no progress for :data:`STALLED_AFTER` and
    remove their units; return how many. The frame's row is updated first, so that an import still
    running cannot record progress after its units were removed."""
    condition = (SamplingFrame.status == FrameStatus.IMPORTING) & (SamplingFrame.updated_at < utcnow() - STALLED_AFTER)
    if frame_id is not None:
        condition &= SamplingFrame.id == frame_id
    stalled = list(session.scalars(select(SamplingFrame.id).where(condition)))
    failed = 0
    for stalled_id in stalled:
        done = session.execute(
            update(SamplingFrame).where(condition, SamplingFrame.id == stalled_id)
            .values(status=FrameStatus.FAILED, rows_imported=0, error=str(IMPORT_STALLED), updated_at=utcnow())
            .execution_options(synchronize_session=False)  # the session is expired below
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            continue  # it made progress meanwhile
        session.execute(delete(FrameUnit).where(FrameUnit.frame_id == stalled_id))
        audit.record(session, "frame.import_failed", actor_label="frame-import", object_type="sampling_frame", object_id=stalled_id,
                     details={"error": f"no progress for {STALLED_AFTER.total_seconds() // 60:.0f} minutes"})
        failed += 1
    if failed:
        session.expire_all()
    return failed


def launch_import(app: Flask, frame_id: int, staged: StagedFile) -> threading.Thread:
    """Run :func:`run_import` in a background thread (its own session) and return the thread."""
    from survey_app.core import db

    factory = db.session_factory(app)
    chunk_rows = int(app.config.get("FRAME_IMPORT_CHUNK_ROWS", frame_files.CHUNK_ROWS))
    limits = spreadsheets.Limits.from_config(app.config)
    thread = threading.Thread(target=run_import, args=(factory, frame_id, staged, chunk_rows, limits), name=f"frame-import-{frame_id}", daemon=True)
    thread.start()
    return thread


def get_frame(session: Session, frame_id: int) -> SamplingFrame:
    frame = session.get(SamplingFrame, frame_id)
    if frame is None:
        raise NotFound(f"Sampling frame {frame_id} does not exist.")
    return frame


def list_frames(session: Session, project: SurveyProject) -> list[SamplingFrame]:
    return list(session.scalars(select(SamplingFrame).where(SamplingFrame.project_id == project.id).order_by(SamplingFrame.id.desc())))


def progress(frame: SamplingFrame) -> dict[str, Any]:
    """Status and progress of a frame's import, as the progress page polls it."""
    percent = 100.0 if frame.status == FrameStatus.READY else (100.0 * frame.rows_imported / frame.row_count if frame.row_count else 0.0)
    return {
        "id": frame.id,
        "status": frame.status.value,
        "rows_imported": frame.rows_imported,
        "row_count": frame.row_count,
        "percent": round(percent, 1),
        "error": gettext(frame.error) if frame.error else "",  # stored in English: a message id when it is ours
    }


def stratum_counts(session: Session, frame: SamplingFrame) -> dict[str, int]:
    rows = session.execute(
        select(FrameUnit.stratum, func.count(FrameUnit.id)).where(FrameUnit.frame_id == frame.id).group_by(FrameUnit.stratum).order_by(FrameUnit.stratum)
    )
    return {("" if s is None else s): int(n) for s, n in rows}


def draw_count(session: Session, frame: SamplingFrame) -> int:
    return int(session.scalar(select(func.count(SampleDraw.id)).where(SampleDraw.frame_id == frame.id)) or 0)


def units_frame(session: Session, frame: SamplingFrame, attributes: list[str] | None = None) -> pd.DataFrame:
    """The frame's units as a DataFrame (``frame_unit_id``, ``unit_key``, ``stratum``, ``size`` and
    the requested attribute columns), in file order."""
    columns = [FrameUnit.id, FrameUnit.unit_key, FrameUnit.stratum, FrameUnit.size] + ([FrameUnit.attributes] if attributes else [])
    result = session.execute(select(*columns).where(FrameUnit.frame_id == frame.id).order_by(FrameUnit.row_number))
    table = pd.DataFrame(result.all(), columns=["frame_unit_id", "unit_key", "stratum", "size"] + (["attributes"] if attributes else []))
    if attributes:
        values = table.pop("attributes")
        for name in attributes:
            table[name] = [row.get(name) if isinstance(row, dict) else None for row in values]
    return table
