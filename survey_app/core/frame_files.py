"""Uploaded frame files: staging on disk, encoding detection and chunked reading.

An upload is streamed to a staging folder (``FRAME_UPLOAD_DIR``, default ``<instance>/frame_uploads``) under a random token,
with a small JSON sidecar (original name, kind, encoding, SHA-256). Nothing reaches the database
until the file has been mapped and validated (:mod:`survey_app.fieldwork.services.frames`). Files are read
in chunks of rows, so a frame of millions of rows is validated and imported in bounded memory.
Any app process on the host can read a staged file: the staging folder is the only shared state.
A staged file that has not been used for ``keep_for`` (``STRATA_STAGED_UPLOAD_HOURS``, a day) is
removed: when it is next asked for, at every new upload, and by ``strata frames cleanup``.

A CSV's encoding is certain when the file has a byte-order mark, is valid UTF-8, or reads as Chinese
in GB18030. Otherwise it is a guess among single-byte code pages that decode the same bytes to
different letters (``Genève`` in Latin-1 reads ``Genčve`` as cp1250): the staged file says so
(``encoding_certain``), :func:`encoding_choices` shows how the file's first lines with other than
ASCII characters read in each plausible encoding, and :func:`choose_encoding` records the
designer's pick.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import IO

import pandas as pd
from charset_normalizer import from_bytes
from flask_babel import gettext as _

from survey_app.core import spreadsheets
from survey_app.core.errors import NotFound, ValidationFailed

SAMPLE_BYTES = 1 << 20  # bytes read to detect the encoding and the delimiter


CHUNK_ROWS = 20_000


KEEP_STAGED = timedelta(hours=24)


_TOKEN = re.compile(r"^[0-9a-f]{32}$")


_GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936"}


_XLSX_MAGIC = b"PK\x03\x04"


#: Encodings offered (when they decode the file) before the other guesses of charset-normalizer.
COMMON_ENCODINGS = ("utf-8", "gb18030", "big5", "cp1252", "latin-1", "cp1250", "cp1251", "shift_jis", "euc_kr")


MAX_ENCODING_CHOICES = 8


@dataclass(frozen=True)
class StagedFile:
    token: str
    filename: str
    kind: str  # "csv" or "xlsx"
    encoding: str  # "" for xlsx
    delimiter: str
    sha256: str
    size_bytes: int
    project_id: int
    user_id: int
    path: Path
    encoding_certain: bool = True  # False: a guess the designer should check (see encoding_choices)


def staging_dir(directory: str) -> Path:
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _decoded(sample: bytes, encoding: str) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError:
        return None


def _cjk_share(text: str) -> float:
    """Share of CJK characters (ideographs, CJK punctuation, full-width forms) among non-ASCII ones."""
    wide = [c for c in text if ord(c) > 127]
    if not wide:
        return 0.0
    cjk = sum(1 for c in wide if 0x3000 <= ord(c) <= 0x9FFF or 0xF900 <= ord(c) <= 0xFFEF or 0x20000 <= ord(c) <= 0x3FFFF)
    return cjk / len(wide)


def detect_encoding(sample: bytes) -> str:
    """The text encoding of ``sample`` (UTF-8 with or without BOM, GB18030/GBK, ...).

    GB2312 and GBK are read as GB18030, their superset, so rare characters in names decode too.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf8 = _decoded(sample, "utf-8")
    if utf8 is not None:
        # Short GBK texts can be valid UTF-8 by accident (学院 -> U+0467 U+053A): prefer GB18030
        # when it reads as Chinese and UTF-8 reads as other scripts.
        gb = _decoded(sample, "gb18030")
        if gb is not None and _cjk_share(utf8) < 0.5 and _cjk_share(gb) > 0.8:
            return "gb18030"
        return "utf-8"
    best = from_bytes(sample).best()
    if best is None:
        raise ValidationFailed(
            "The file's text encoding could not be recognised.",
            {"file": ["save it as UTF-8 or GB18030 CSV, or as an Excel .xlsx workbook"]},
        )
    name = best.encoding.lower().replace("-", "").replace("_", "")
    if name in {n.replace("-", "") for n in _GB_FAMILY}:
        return "gb18030"
    return best.encoding


def encoding_is_certain(sample: bytes, encoding: str) -> bool:
    """Whether :func:`detect_encoding`'s answer for ``sample`` is more than a guess."""
    name = codecs.lookup(encoding).name
    if name in {"utf-8", "utf-8-sig", "utf-16"}:  # a byte-order mark, or bytes that are valid UTF-8
        return True
    if name == "gb18030":
        text = _decoded(sample, "gb18030")
        return text is not None and _cjk_share(text) > 0.8
    return False


def encoding_choices(staged: StagedFile, lines: int = 3) -> list[tuple[str, list[str]]]:
    """Plausible encodings of a staged CSV, each with how its first ``lines`` lines holding other
    than ASCII characters read in it (the current encoding first)."""
    with staged.path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    wide = [line.rstrip(b"\r") for line in sample.split(b"\n") if not line.isascii()][:lines]
    guesses = [match.encoding for match in from_bytes(sample[:SAMPLE_BYTES >> 4])] if wide else []
    choices: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for encoding in (staged.encoding, *COMMON_ENCODINGS, *guesses):
        name = codecs.lookup(encoding).name
        if name in seen or len(choices) >= MAX_ENCODING_CHOICES or _decoded(sample, encoding) is None:
            continue
        seen.add(name)
        choices.append((encoding, [line.decode(encoding, errors="replace")[:120] for line in wide]))
    return choices


def choose_encoding(staged: StagedFile, encoding: str) -> StagedFile:
    """Read the staged CSV as ``encoding`` from now on (one of :func:`encoding_choices`)."""
    if staged.kind != "csv":
        raise ValidationFailed(_("Only CSV files have an encoding to choose."), {"encoding": [_("this upload is an Excel workbook")]})
    offered = {name for name, _lines in encoding_choices(staged)}
    if encoding not in offered:
        raise ValidationFailed(_("Choose one of the encodings offered."),
                               {"encoding": [_("%(encoding)s cannot read this file", encoding=repr(encoding))]})
    with staged.path.open("rb") as handle:
        text = handle.read(SAMPLE_BYTES).decode(encoding, errors="ignore")
    chosen = replace(staged, encoding=encoding, delimiter=_delimiter(text), encoding_certain=True)
    _write_meta(chosen)
    return chosen


def _write_meta(staged: StagedFile) -> None:
    meta = {k: v for k, v in asdict(staged).items() if k != "path"}
    staged.path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False))


def _delimiter(text_sample: str) -> str:
    first_line = text_sample.splitlines()[0] if text_sample else ""
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _last_used(path: Path) -> float:
    """When a staged upload was last used: the newest of the file and its sidecar (0 when gone)."""
    times = [p.stat().st_mtime for p in (path, path.with_suffix(".json")) if p.exists()]
    return max(times, default=0.0)


def remove_stale(directory: str, keep_for: timedelta = KEEP_STAGED) -> int:
    """Remove the staged uploads not used for ``keep_for`` (left by the designer, or by an import
    whose process was killed); return how many."""
    cutoff = time.time() - keep_for.total_seconds()
    removed = 0
    for token in {path.stem for path in staging_dir(directory).iterdir() if _TOKEN.match(path.stem)}:
        path = Path(directory) / f"{token}.upload"
        try:
            stale = _last_used(path) < cutoff
        except FileNotFoundError:  # removed meanwhile by another process
            continue
        if stale:
            path.unlink(missing_ok=True)
            path.with_suffix(".json").unlink(missing_ok=True)
            removed += 1
    return removed


def stage_upload(directory: str, filename: str, stream: IO[bytes], *, project_id: int, user_id: int,
                 keep_for: timedelta = KEEP_STAGED) -> StagedFile:
    """Stream an uploaded CSV or XLSX file to the staging folder and describe it (first removing
    the staged uploads not used for ``keep_for``)."""
    remove_stale(directory, keep_for)
    name = Path(filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in {".csv", ".txt", ".xlsx"}:
        raise ValidationFailed(
            "Only CSV (.csv, .txt) and Excel (.xlsx) files can be uploaded.",
            {"file": [f"{name or 'the upload'} is not a .csv, .txt or .xlsx file"]},
        )
    token = secrets.token_hex(16)
    path = staging_dir(directory) / f"{token}.upload"
    digest = hashlib.sha256()
    size = 0
    head = b""
    with path.open("wb") as out:
        while block := stream.read(1 << 16):
            if len(head) < SAMPLE_BYTES:
                head += block[: SAMPLE_BYTES - len(head)]
            digest.update(block)
            size += len(block)
            out.write(block)
    try:
        if size == 0:
            raise ValidationFailed("The file is empty.", {"file": [f"{name} has no content"]})
        if suffix == ".xlsx" or head.startswith(_XLSX_MAGIC):
            if not head.startswith(_XLSX_MAGIC):
                raise ValidationFailed("The file is not an Excel workbook.", {"file": [f"{name} is not a valid .xlsx file"]})
            kind, encoding, delimiter, certain = "xlsx", "", "", True
            next(_xlsx_rows(path), None)  # a workbook that cannot be opened is refused now
        else:
            kind = "csv"
            encoding = detect_encoding(head)
            certain = encoding_is_certain(head, encoding)
            text = head.decode(encoding, errors="ignore")
            delimiter = _delimiter(text)
    except ValidationFailed:
        path.unlink(missing_ok=True)
        raise
    staged = StagedFile(token, name, kind, encoding, delimiter, digest.hexdigest(), size, project_id, user_id, path, certain)
    _write_meta(staged)
    return staged


def load_staged(directory: str, token: str, keep_for: timedelta = KEEP_STAGED) -> StagedFile:
    """A staged upload, which is kept for another ``keep_for`` from now (it has just been used)."""
    if not _TOKEN.match(token or ""):
        raise NotFound("This upload does not exist.")
    path = staging_dir(directory) / f"{token}.upload"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists() and _last_used(path) < time.time() - keep_for.total_seconds():
        path.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
    if not path.exists() or not meta_path.exists():
        hours = round(keep_for.total_seconds() / 3600)
        raise NotFound(_("This upload does not exist: it has been imported or discarded, or it was left unused for more than %(hours)d hours. Upload the file again.",
                         hours=hours))
    meta = json.loads(meta_path.read_text())
    os.utime(meta_path)
    return StagedFile(path=path, **meta)


def discard(staged: StagedFile) -> None:
    staged.path.unlink(missing_ok=True)
    staged.path.with_suffix(".json").unlink(missing_ok=True)


def _xlsx_rows(path: Path, limits: spreadsheets.Limits | None = None) -> Iterator[list[str]]:
    with spreadsheets.Workbook(path, limits) as workbook:
        for row in workbook.rows(0):
            yield [spreadsheets.text(v).strip() for v in row]


def iter_chunks(staged: StagedFile, chunk_rows: int = CHUNK_ROWS, limits: spreadsheets.Limits | None = None) -> Iterator[pd.DataFrame]:
    """The data rows as string DataFrames of at most ``chunk_rows`` rows, read within ``limits``.

    Each chunk's index is the line number in the file (the header is line 1).
    """
    if staged.kind == "xlsx":
        rows = _xlsx_rows(staged.path, limits)
        header = next(rows, None)
        if header is None:
            return
        while header and header[-1] == "":
            header.pop()
        width = len(header)
        buffer: list[list[str]] = []
        lines: list[int] = []
        for line, row in enumerate(rows, start=2):
            row = (row + [""] * width)[:width]
            if not any(row):
                continue
            buffer.append(row)
            lines.append(line)
            if len(buffer) >= chunk_rows:
                yield pd.DataFrame(buffer, columns=header, index=lines)
                buffer, lines = [], []
        if buffer:
            yield pd.DataFrame(buffer, columns=header, index=lines)
        return
    try:
        reader = pd.read_csv(
            staged.path,
            encoding=staged.encoding,
            sep=staged.delimiter or ",",
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            chunksize=chunk_rows,
        )
        line = 2
        for chunk in reader:
            chunk.columns = [str(c).strip() for c in chunk.columns]  # as header() names them
            chunk.index = pd.RangeIndex(line, line + len(chunk))
            line += len(chunk)
            _check_cell_length(chunk, limits)
            yield chunk.apply(lambda col: col.str.strip())
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"The file is not valid {staged.encoding} text.",
            {"file": [f"undecodable bytes near byte {exc.start}; save it as UTF-8 or GB18030"]},
        ) from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValidationFailed("The CSV file could not be read.", {"file": [str(exc).strip()]}) from exc


def _check_cell_length(chunk: pd.DataFrame, limits: spreadsheets.Limits | None) -> None:
    found = spreadsheets.long_cell(chunk, limits)
    if found is not None:
        limit = (limits or spreadsheets.configured()).cell_chars
        raise ValidationFailed(_("The cell at line %(line)d, column %(column)s holds more than %(limit)d characters (the limit).",
                                 line=int(found[0]), column=found[1], limit=limit), {"file": [_("shorten the text in that cell")]})


def header(staged: StagedFile) -> list[str]:
    """Column names of the file."""
    if staged.kind == "xlsx":
        first = next(_xlsx_rows(staged.path), None)
        names = list(first or [])
        while names and names[-1] == "":
            names.pop()
        return names
    try:
        with open(staged.path, encoding=staged.encoding, newline="") as handle:
            row = next(csv.reader(handle, delimiter=staged.delimiter or ","), [])
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"The file is not valid {staged.encoding} text.", {"file": [str(exc)]}) from exc
    return [c.strip() for c in row]


def preview(staged: StagedFile, rows: int = 5) -> pd.DataFrame:
    for chunk in iter_chunks(staged, chunk_rows=rows):
        return chunk
    return pd.DataFrame(columns=header(staged))
