"""Uploaded Excel workbooks (.xlsx): the one place where every upload's workbook is read.

Sampling frames, XLSForms, population tables, inspection registers and the graduate register are
all read here, with openpyxl in read-only mode, one row at a time. A file that is not a readable
workbook (not a zip, a missing part, malformed XML in any part, found when opening the file or
only when reading row 100,000) raises :class:`ValidationFailed` (422) whose message says so; never
another exception. Callers read the whole upload before they store anything, so a bad workbook is
refused and nothing is half-written.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pandas as pd
from flask_babel import gettext as _
from openpyxl import load_workbook

from survey_app.core.errors import ValidationFailed


def unreadable(exc: Exception) -> ValidationFailed:
    """The error for a workbook that openpyxl cannot read (it raises many types for damaged files)."""
    detail = str(exc).strip()[:200] or type(exc).__name__
    return ValidationFailed(
        _("The Excel workbook could not be read."),
        {"file": [_("it is not a valid .xlsx file or it is damaged (%(problem)s); open it in Excel and save it again, or save it as CSV",
                    problem=detail)]},
    )


class Workbook:
    """An uploaded .xlsx workbook (bytes, or the path of a staged file) opened for reading.

    Use it as a context manager; :meth:`rows` yields each row's cell values.
    """

    def __init__(self, source: bytes | Path) -> None:
        self._handle: IO[bytes] = source.open("rb") if isinstance(source, Path) else io.BytesIO(source)
        try:
            self._book = load_workbook(self._handle, read_only=True, data_only=True, keep_links=False)
        except Exception as exc:  # damaged zip, missing part, malformed XML, ...
            self._handle.close()
            raise unreadable(exc) from exc

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
        while True:
            try:
                row = next(values)
            except StopIteration:
                return
            except Exception as exc:  # malformed XML further down the sheet
                raise unreadable(exc) from exc
            yield row


def text(value: Any) -> str:
    """A cell as text: empty for a blank cell, ``7`` for a whole number stored as ``7.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_table(source: bytes | Path) -> pd.DataFrame:
    """The first sheet as a DataFrame of text (blank cells are ``""``), the first row naming the columns.

    Like :func:`pandas.read_excel`: blank rows after the data and columns without a name or a value
    are dropped, an unnamed column is ``Unnamed: N`` and a repeated name gets ``.1``, ``.2``;
    a blank row between data rows is kept, so that the index is the file row minus 2.
    """
    with Workbook(source) as book:
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
