"""Uploaded Excel workbooks (.xlsx): the one place where every upload's workbook is read.

Sampling frames, XLSForms, population tables, inspection registers and the graduate register are
all read here, with openpyxl in read-only mode, one row at a time. A file that is not a readable
workbook (not a zip, a missing part, malformed XML in any part, found when opening the file or
only when reading row 100,000) raises :class:`ValidationFailed` (422) whose message says so; never
another exception. Callers read the whole upload before they store anything, so a bad workbook is
refused and nothing is half-written.

An .xlsx file is a zip of XML parts, and a few hundred kilobytes can unpack to millions of rows
or to one cell of hundreds of megabytes. Reading is therefore bounded by :class:`Limits` (settings
``STRATA_SHEET_MAX_*``, see :func:`configured`). Before anything is unpacked, the zip's own
directory is checked: the number of parts, their declared sizes in total, and how much each part
claims to grow (Python's zipfile never unpacks a part beyond its declared size, so the check
holds). Then rows are read one at a time and reading stops at the first limit reached: rows per
sheet, cells in the workbook, characters in a cell, seconds spent reading. Every message names the
limit. The cell length limit applies to CSV files too (:func:`long_cell`).

The time is checked each time the zip is read from (:class:`_TimedFile`), so it also stops the
parsing that openpyxl does on its own: e.g. when a sheet has no ``<dimension>`` record, opening
the workbook parses that whole sheet once to size it.
"""

from __future__ import annotations

import io
import math
import struct
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar

import pandas as pd
from flask import current_app, has_app_context
from flask_babel import gettext as _
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from survey_app.core.errors import ValidationFailed


@dataclass(frozen=True)
class Limits:
    """How much of an uploaded workbook is read before it is refused."""

    unpacked_bytes: int = 256 << 20  # the parts' declared sizes, added up
    rows: int = 1_048_576  # per sheet (Excel's own maximum)
    cells: int = 5_000_000  # in the whole workbook, blank cells of a row included
    cell_chars: int = 32_767  # in one cell (Excel's own maximum); CSV cells too
    seconds: float = 30.0  # spent reading one workbook
    parts: int = 1_000  # members of the zip (an ordinary workbook has a few dozen)
    ratio: int = 100  # how many times a part may be larger than its compressed size (as Apache POI)

    #: the settings (``app.config``, ``STRATA_<name>`` in the environment) of the fields that have one
    SETTINGS: ClassVar[dict[str, str]] = {
        "unpacked_bytes": "SHEET_MAX_UNPACKED_MB", "rows": "SHEET_MAX_ROWS", "cells": "SHEET_MAX_CELLS",
        "cell_chars": "SHEET_MAX_CELL_CHARS", "seconds": "SHEET_MAX_SECONDS",
    }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        values: dict[str, Any] = {}
        for name, setting in cls.SETTINGS.items():
            if config.get(setting) is not None:
                values[name] = int(config[setting] * (1 << 20)) if name == "unpacked_bytes" else config[setting]
        return cls(**values)

    def at_most(self, **caps: float) -> Limits:
        """These limits, lowered to ``caps`` where those are lower (e.g. for a questionnaire)."""
        return replace(self, **{name: min(getattr(self, name), cap) for name, cap in caps.items()})


def configured() -> Limits:
    """The limits set for this application (the defaults outside one)."""
    return Limits.from_config(current_app.config) if has_app_context() else Limits()


def _too_large(message: str, advice: str | None = None) -> ValidationFailed:
    return ValidationFailed(message, {"file": [advice or _("split the file, or save it as CSV")]})


class _OutOfTime(Exception):
    """Raised from inside openpyxl (through the file it reads) when the time to read is spent."""


class _TimedFile(io.RawIOBase):
    """The uploaded file, as openpyxl reads it: every read fails once ``seconds`` of reading are spent.

    The clock runs only while the workbook is being read (not while a caller handles a row).
    """

    def __init__(self, raw: IO[bytes], seconds: float) -> None:
        super().__init__()
        self._raw, self.left, self._since = raw, seconds, time.perf_counter()

    def pause(self) -> None:
        self.left -= time.perf_counter() - self._since

    def resume(self) -> None:
        self._since = time.perf_counter()

    @property
    def expired(self) -> bool:
        return time.perf_counter() - self._since > self.left

    def read(self, size: int = -1) -> bytes:
        if self.expired:
            raise _OutOfTime()
        return self._raw.read(size)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        self._raw.close()
        super().close()


def unreadable(exc: Exception) -> ValidationFailed:
    """The error for a workbook that openpyxl cannot read (it raises many types for damaged files)."""
    detail = str(exc).strip()[:200] or type(exc).__name__
    return ValidationFailed(
        _("The Excel workbook could not be read."),
        {"file": [_("it is not a valid .xlsx file or it is damaged (%(problem)s); open it in Excel and save it again, or save it as CSV",
                    problem=detail)]},
    )


def _check_directory(handle: IO[bytes], limits: Limits) -> None:
    """Refuse a zip whose directory announces too many parts or too much unpacked data."""
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - 22 - 0xFFFF))  # the zip's end record (22 bytes) and at most a 64 kB comment
    tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise unreadable(zipfile.BadZipFile("File is not a zip file"))
    (entries,) = struct.unpack("<H", tail[at + 10 : at + 12])  # 0xFFFF: a zip64 file, more parts than any workbook
    if entries > limits.parts:
        raise _too_large(_("The workbook has more than %(limit)d parts (the limit).", limit=limits.parts))
    handle.seek(0)
    try:
        with zipfile.ZipFile(handle) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError) as exc:
        raise unreadable(exc) from exc
    unpacked = sum(part.file_size for part in parts)
    if unpacked > limits.unpacked_bytes:
        raise _too_large(_("The workbook unpacks to %(size)d MB, more than the limit of %(limit)d MB.",
                           size=math.ceil(unpacked / (1 << 20)), limit=limits.unpacked_bytes >> 20))
    for part in parts:
        if part.file_size > (1 << 20) and part.file_size > limits.ratio * max(part.compress_size, 1):
            raise _too_large(_("The part %(part)s of the workbook is compressed more than %(limit)d times: it is not an ordinary workbook.",
                               part=part.filename, limit=limits.ratio), _("open it in Excel and save it again, or save it as CSV"))
    handle.seek(0)


class Workbook:
    """An uploaded .xlsx workbook (bytes, or the path of a staged file) opened for reading within ``limits``.

    Use it as a context manager; :meth:`rows` yields each row's cell values. The cell and time
    limits count for the whole workbook, the row limit for each sheet.
    """

    def __init__(self, source: bytes | Path, limits: Limits | None = None) -> None:
        self.limits = limits or configured()
        self._cells = 0
        self._handle = _TimedFile(source.open("rb") if isinstance(source, Path) else io.BytesIO(source), self.limits.seconds)
        try:
            _check_directory(self._handle, self.limits)
            self._book = load_workbook(self._handle, read_only=True, data_only=True, keep_links=False)  # type: ignore[arg-type]
        except Exception as exc:  # damaged zip, missing part, malformed XML, a limit, ...
            self._handle.close()
            raise self._failure(exc) from exc
        self._handle.pause()

    def _failure(self, exc: Exception) -> ValidationFailed:
        if isinstance(exc, ValidationFailed):
            return exc
        if isinstance(exc, _OutOfTime) or self._handle.expired:
            return _too_large(_("Reading the workbook took longer than %(limit)s seconds (the limit).", limit=f"{self.limits.seconds:g}"),
                              _("split the file, or save it as CSV, which reads much faster"))
        return unreadable(exc)

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._book.close()
        self._handle.close()

    @property
    def sheet_names(self) -> list[str]:
        return list(self._book.sheetnames)

    def rows(self, sheet: str | int = 0) -> Iterator[tuple[Any, ...]]:
        """The cell values of each row of ``sheet`` (a name, or a position: 0 is the first sheet)."""
        try:
            worksheet = self._book.worksheets[sheet] if isinstance(sheet, int) else self._book[sheet]
        except (IndexError, KeyError) as exc:
            raise ValidationFailed(_("The Excel workbook has no sheet to read."), {"file": [_("add the data to the first sheet")]}) from exc
        values = worksheet.iter_rows(values_only=True)
        number = 0
        while True:
            self._handle.resume()
            try:
                row = next(values)
                number += 1
                self._check(row, number, worksheet.title)
            except StopIteration:
                return
            except Exception as exc:  # malformed XML further down the sheet, a limit, ...
                raise self._failure(exc) from exc
            finally:
                self._handle.pause()
            yield row

    def _check(self, row: tuple[Any, ...], number: int, sheet: str) -> None:
        limits = self.limits
        if number > limits.rows:
            raise _too_large(_("The sheet %(sheet)s has more than %(limit)d rows (the limit).", sheet=sheet, limit=limits.rows))
        self._cells += len(row)
        if self._cells > limits.cells:
            raise _too_large(_("The workbook has more than %(limit)d cells (the limit).", limit=limits.cells))
        for index, value in enumerate(row):
            if isinstance(value, str) and len(value) > limits.cell_chars:
                raise _too_large(_("The cell at row %(row)d, column %(column)s holds more than %(limit)d characters (the limit).",
                                   row=number, column=get_column_letter(index + 1), limit=limits.cell_chars),
                                 _("shorten the text in that cell"))
        if self._handle.expired:
            raise _OutOfTime()


def text(value: Any) -> str:
    """A cell as text: empty for a blank cell, ``7`` for a whole number stored as ``7.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def long_cell(frame: pd.DataFrame, limits: Limits | None = None) -> tuple[Any, str] | None:
    """The index and column of the first text cell longer than the cell limit (CSV files), or None."""
    limit = (limits or configured()).cell_chars
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_string_dtype(values):
            continue
        too_long = (values.str.len() > limit).fillna(False).to_numpy(dtype=bool)
        if too_long.any():
            return frame.index[too_long.argmax()], str(column)
    return None


def read_table(source: bytes | Path, limits: Limits | None = None) -> pd.DataFrame:
    """The first sheet as a DataFrame of text (blank cells are ``""``), the first row naming the columns.

    Like :func:`pandas.read_excel`: blank rows after the data and columns without a name or a value
    are dropped, an unnamed column is ``Unnamed: N`` and a repeated name gets ``.1``, ``.2``;
    a blank row between data rows is kept, so that the index is the file row minus 2.
    """
    with Workbook(source, limits) as book:
        rows = [[text(value) for value in row] for row in book.rows(0)]
    while rows and not any(rows[-1]):
        rows.pop()
    if not rows:
        return pd.DataFrame()
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    while width and not any(row[width - 1] for row in rows):
        width -= 1
    header: list[str] = []
    seen: dict[str, int] = {}
    for index, name in enumerate(rows[0][:width]):
        name = name or f"Unnamed: {index}"
        count = seen.get(name, 0)
        seen[name] = count + 1
        header.append(f"{name}.{count}" if count else name)
    return pd.DataFrame([row[:width] for row in rows[1:]], columns=header, dtype=str)
