"""Small uploaded tables (population counts, inspection registers): CSV or XLSX to a DataFrame.

Every cell is read as text (no type guessing: ``007`` stays ``007``); headers are stripped and
required columns checked; problems name the file row (header = row 1) so that the uploader can fix
them. Nothing is stored here.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence

import pandas as pd
from flask_babel import gettext as _

from survey_app.core import spreadsheets
from survey_app.core.errors import ValidationFailed
from survey_app.core.frame_files import detect_encoding

MAX_BYTES = 20 << 20


MAX_ERRORS = 20


def read_table(data: bytes, filename: str) -> pd.DataFrame:
    """The uploaded table as strings (empty cells are ``""``), rows in file order."""
    if not data:
        raise ValidationFailed("The file is empty.", {"file": ["choose a CSV or XLSX file"]})
    if len(data) > MAX_BYTES:
        raise ValidationFailed("The file is too large.", {"file": [f"at most {MAX_BYTES >> 20} MB"]})
    name = filename.lower()
    try:
        if name.endswith((".xlsx", ".xlsm")) or data[:2] == b"PK":
            frame = spreadsheets.read_table(data)
        else:
            text = data.decode(detect_encoding(data[: 1 << 20]))
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t") if text.strip() else csv.excel
            frame = pd.read_csv(io.StringIO(text), dtype=str, sep=dialect.delimiter, keep_default_na=False)
    except (ValueError, csv.Error, UnicodeDecodeError, KeyError) as exc:
        raise ValidationFailed("The file could not be read as CSV or XLSX.", {"file": [str(exc)[:200]]}) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.fillna("").apply(lambda column: column.str.strip())
    check_cells(frame)
    return frame


def check_cells(frame: pd.DataFrame) -> None:
    """Refuse a cell longer than the cell limit (of a CSV file: a workbook's are checked as it is
    read) and text cells holding NUL (0x00) bytes, which PostgreSQL cannot store. The index is the
    file row minus 2 (the header is row 1)."""
    found = spreadsheets.long_cell(frame)
    if found is not None:
        raise ValidationFailed(_("The cell at row %(row)d, column %(column)s holds more than %(limit)d characters (the limit).",
                                 row=int(found[0]) + 2, column=found[1], limit=spreadsheets.configured().cell_chars),
                               {"file": [_("shorten the text in that cell")]})
    cells: list[str] = []
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_string_dtype(values):
            continue
        hit = values.str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
        cells += [_("row %(row)d, column %(column)s", row=int(i) + 2, column=column) for i in frame.index[hit][:MAX_ERRORS]]
    if cells:
        raise ValidationFailed(_("The file contains NUL (0x00) bytes, which cannot be stored; nothing was stored."),
                               {"file": cells[:MAX_ERRORS]})


def require_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationFailed("The file lacks required columns.",
                               {"columns": [f"missing: {', '.join(missing)}; found: {', '.join(map(str, frame.columns))}"]})


def row_errors(frame: pd.DataFrame, bad: pd.Series, message: str) -> list[str]:
    """``row N: message`` for the first rows where ``bad`` is true (file rows: header is row 1)."""
    rows = (frame.index[bad.to_numpy()] + 2).tolist()[:MAX_ERRORS]
    return [f"row {r}: {message}" for r in rows]


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of the rows as canonical JSON (column order and values as uploaded)."""
    payload = json.dumps({"columns": list(map(str, frame.columns)), "rows": frame.to_numpy().tolist()},
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()
