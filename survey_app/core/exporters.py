"""File formats for tables leaving Strata: CSV (UTF-8 with BOM, so Excel shows Chinese), XLSX,
Parquet, SPSS ``.sav`` and Stata ``.dta`` (variable and value labels via pyreadstat).

Spreadsheet formulas: every data export in CSV or XLSX (audit log, invitations, satisfaction
workbook, estimates, microdata) passes each header and each cell through :func:`spreadsheet_safe`
(:func:`csv_text`, :func:`csv_bytes`, :func:`csv_lines` and :func:`xlsx_bytes` do it, openpyxl
writers call :func:`xlsx_row`), so that a value somebody typed (an e-mail address at the
log-in form, a text answer, a frame value, a label) never runs as a formula in Excel, WPS,
LibreOffice or Google Sheets. Apply it exactly once: the escape is not idempotent. The rule:

* a text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (the
  characters that make a spreadsheet read a formula) or with ``'`` gets one ``'`` in front:
  ``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)``, ``+1`` ``'+1``, ``'a`` ``''a``;
* numbers are left alone: numeric columns and values, and text that is a plain negative number
  such as ``-2`` or ``-0.5e3`` (a spreadsheet reads that as the number, not as a formula), so
  ``read.csv``, ``readr`` and ``pandas.read_csv`` get the same numbers back.

To get the original text back from a file, remove one leading ``'`` from text cells (R:
``sub("^'", "", x)``; pandas: ``column.str.removeprefix("'")``); the rule is exact because a
``'`` at the start is escaped too. Because no text cell starts with ``=`` any more, openpyxl
stores every text cell of an XLSX as text, never as a formula. XLSX cells also have the control
characters that XML cannot hold replaced by U+FFFD (:func:`xlsx_cell`; CSV keeps them).
Parquet, ``.sav`` and ``.dta`` are typed files for statistical software, which has no cell
formulas: their values are written as they are.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

BOM = "\ufeff"


CHUNK = 64 * 1024


MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "sav": "application/x-spss-sav",
    "dta": "application/x-stata-dta",
}


STATA_STRING_BYTES = 2045


@dataclass
class Export:
    """A file to send: name, media type and the body as an iterator of bytes."""

    filename: str
    mimetype: str
    body: Iterator[bytes]


@dataclass
class Labels:
    """Variable labels ``{column: label}`` and value labels ``{column: {value: label}}``."""

    variables: dict[str, str]
    values: dict[str, dict[Any, str]]


#: Leading characters that make a spreadsheet read a text cell as a formula, and the escape
#: character itself (so that removing one leading ``'`` always gives the original back).
ESCAPED_STARTS = frozenset("=+-@\t\r'")


ESCAPE = "'"


_NEGATIVE_NUMBER = re.compile(r"-(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` as a CSV or XLSX cell that no spreadsheet runs as a formula (rule in the module doc).

    >>> [spreadsheet_safe(v) for v in ["=1+1", "+1", "-2+3", "@SUM(A1)", "'a", "-2", "-0.5e3", -2, "a=b"]]
    ["'=1+1", "'+1", "'-2+3", "'@SUM(A1)", "''a", '-2', '-0.5e3', -2, 'a=b']
    """
    if isinstance(value, str) and value[:1] in ESCAPED_STARTS and not _NEGATIVE_NUMBER.fullmatch(value):
        return ESCAPE + value
    return value


def xlsx_cell(value: Any) -> Any:
    """:func:`spreadsheet_safe`, then the control characters that XML cannot hold (all but tab, line
    feed and carriage return; openpyxl refuses them) replaced by U+FFFD. CSV keeps them."""
    value = spreadsheet_safe(value)
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value


def xlsx_row(values: Iterable[Any]) -> list[Any]:
    """One row of cells through :func:`xlsx_cell`, for openpyxl's ``append``."""
    return [xlsx_cell(v) for v in values]


def spreadsheet_frame(frame: pd.DataFrame, cell: Callable[[Any], Any] = spreadsheet_safe) -> pd.DataFrame:
    """A copy of ``frame`` with its headers and text cells through ``cell`` (numeric columns as they are)."""
    out = frame.rename(columns=cell)
    for position, dtype in enumerate(out.dtypes):
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)):
            out.isetitem(position, out.iloc[:, position].map(cell, na_action="ignore"))
    return out


def csv_text(frame: pd.DataFrame, *, header: bool = True) -> str:
    return spreadsheet_frame(frame).to_csv(index=False, header=header, lineterminator="\r\n", float_format="%.10g")


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return (BOM + csv_text(frame)).encode("utf-8")


def csv_lines(rows: Iterable[Iterable[Any]]) -> str:
    """Rows as CSV text (CRLF line ends, as :func:`csv_text`), every cell through :func:`spreadsheet_safe`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([spreadsheet_safe(v) for v in row] for row in rows)
    return buffer.getvalue()


def xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            spreadsheet_frame(frame, xlsx_cell).to_excel(writer, sheet_name=name[:31], index=False)
    return buffer.getvalue()


def spooled(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The whole body, written to an unnamed temporary file now and read back while it is sent.

    A download is then complete, or fails before its first byte: whatever goes wrong while the
    body is made is raised here, in the request, instead of cutting a streamed file short.
    """
    # unnamed (gone from the disk as soon as it is closed); the returned iterator closes it
    handle = tempfile.TemporaryFile(prefix="strata-export-")  # noqa: SIM115
    try:
        for chunk in chunks:
            handle.write(chunk)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return _handle_chunks(handle)


def _handle_chunks(handle: IO[bytes]) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _file_chunks(path: str) -> Iterator[bytes]:
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def _temp_path(suffix: str) -> str:
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="strata-export-")
    os.close(handle)
    return path


def parquet_file(frame: pd.DataFrame, labels: Labels, metadata: Mapping[str, Any]) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    extra = {
        b"strata.variable_labels": json.dumps(labels.variables, ensure_ascii=False).encode(),
        b"strata.value_labels": json.dumps({k: {str(c): t for c, t in v.items()} for k, v in labels.values.items()}, ensure_ascii=False).encode(),
        b"strata.metadata": json.dumps(dict(metadata), ensure_ascii=False, default=str).encode(),
    }
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **extra})
    path = _temp_path(".parquet")
    pq.write_table(table, path)
    return _file_chunks(path)


def _numeric_value_labels(frame: pd.DataFrame, labels: Labels, *, integers_only: bool) -> dict[str, dict[Any, str]]:
    out: dict[str, dict[Any, str]] = {}
    for column, mapping in labels.values.items():
        if column not in frame.columns or not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        converted: dict[Any, str] = {}
        for code, text in mapping.items():
            try:
                number = float(code)
            except (TypeError, ValueError):
                continue
            if integers_only:
                if not number.is_integer():
                    continue
                converted[int(number)] = text
            else:
                converted[number] = text
        if converted:
            out[column] = converted
    return out


def sav_file(frame: pd.DataFrame, labels: Labels) -> Iterator[bytes]:
    import pyreadstat

    path = _temp_path(".sav")
    string_labels = {
        c: {str(k): v for k, v in m.items()} for c, m in labels.values.items()
        if c in frame.columns and not pd.api.types.is_numeric_dtype(frame[c])
    }
    pyreadstat.write_sav(
        frame, path,
        column_labels={c: labels.variables.get(c, "") for c in frame.columns},
        variable_value_labels={**_numeric_value_labels(frame, labels, integers_only=False), **string_labels},
    )
    return _file_chunks(path)


def dta_file(frame: pd.DataFrame, labels: Labels) -> Iterator[bytes]:
    import pyreadstat

    out = frame.copy()
    for column in out.columns:
        if not pd.api.types.is_numeric_dtype(out[column]):
            out[column] = out[column].map(
                lambda x: x.encode("utf-8")[:STATA_STRING_BYTES].decode("utf-8", "ignore"), na_action="ignore"
            )
    value_labels = _numeric_value_labels(out, labels, integers_only=True)
    for column in list(value_labels):  # Stata labels whole numbers only
        if not out[column].dropna().map(float.is_integer).all():
            value_labels.pop(column)
    path = _temp_path(".dta")
    pyreadstat.write_dta(
        out, path, version=15,
        column_labels={c: labels.variables.get(c, "")[:80] for c in out.columns},
        variable_value_labels=value_labels,
    )
    return _file_chunks(path)
