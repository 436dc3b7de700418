"""Frame upload at scale: validate and import an N-row CSV in bounded memory.

    .venv/bin/python benchmarks/frame_import.py [rows] [database-url]

Writes a synthetic GB18030 CSV (unit id, stratum, size, phone), then runs the same code as the
admin pages (:func:`frames.validate`, :func:`frames.start_import`, :func:`frames.run_import`) and
prints the time of each step, the peak resident memory of the process and the file size, so the
memory stays flat while the row count grows (chunks of ``CHUNK_ROWS`` rows, batched inserts).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from survey_app import create_app, schema
from survey_app.accounts.models import Role
from survey_app.accounts.services import users
from survey_app.core import db, frame_files
from survey_app.fieldwork.services import frames
from survey_app.projects.services import project_admin


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    folder = Path(tempfile.mkdtemp(prefix="strata-frame-bench-"))
    url = sys.argv[2] if len(sys.argv) > 2 else f"sqlite:///{folder / 'bench.sqlite3'}"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "FRAME_UPLOAD_DIR": str(folder / "uploads")})
    schema.metadata.drop_all(db.engine(app))
    schema.metadata.create_all(db.engine(app))
    source = folder / "frame.csv"
    with source.open("w", encoding="gb18030") as out:
        out.write("学号,学院,规模,手机\n")
        for i in range(rows):
            out.write(f"S{i:08d},学院{i % 40:02d},{i % 9 + 1},139{i:08d}\n")
    print(f"rows {rows:,}  file {source.stat().st_size / 1e6:.1f} MB  peak RSS after writing {peak_mb():.0f} MB")
    with db.session_factory(app)() as session:
        owner = users.create_user(session, email="bench@example.org", password="benchmark-password", role=Role.DESIGNER, actor_label="bench")
        project = project_admin.create(session, {"code": "bench", "title": "bench", "form_number": "1", "issuing_authority": "a", "approval_number": "1", "valid_until": "2099-01-01"}, actor=owner)
        session.commit()
        with source.open("rb") as handle:
            staged = frame_files.stage_upload(str(folder / "uploads"), "frame.csv", handle, project_id=project.id, user_id=owner.id)
        mapping = frames.parse_mapping(frame_files.header(staged), {"unit_id": "学号", "stratum": "学院", "size": "规模", "contact": ["手机"]})
        started = time.perf_counter()
        frame, report = frames.start_import(session, project, staged, mapping, name="bench", actor=owner)
        session.commit()
        print(f"validate {time.perf_counter() - started:6.1f} s  ok={report.ok}  strata={len(report.strata)}  peak RSS {peak_mb():.0f} MB")
        started = time.perf_counter()
        frames.run_import(db.session_factory(app), frame.id, staged)
        session.refresh(frame)
        print(f"import   {time.perf_counter() - started:6.1f} s  status={frame.status.value}  rows={frame.rows_imported:,}  peak RSS {peak_mb():.0f} MB")
    db.engine(app).dispose()


if __name__ == "__main__":
    main()
