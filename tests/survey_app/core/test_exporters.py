"""The one rule for spreadsheet cells (survey_app.core.exporters.spreadsheet_safe)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from survey_app.core import exporters


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("'quoted", "''quoted"),
        ("-2", "-2"),
        ("-0.5e3", "-0.5e3"),
        ("a=b", "a=b"),
        ("", ""),
        (-2, -2),
        (-2.5, -2.5),
        (None, None),
    ],
)
def test_formula_starts_are_escaped_and_numbers_kept(value: object, written: object) -> None:
    assert exporters.spreadsheet_safe(value) == written
    if isinstance(value, str):  # the documented way back: remove one leading '
        assert str(written).removeprefix("'") == value


def test_frames_keep_numeric_columns_and_read_back_as_numbers() -> None:
    frame = pd.DataFrame({"=label": ["=1+1", "-3", "x"], "value": [-1.5, 2.0, np.nan], "count": [-1, 0, 1]})
    text = exporters.csv_text(frame)
    back = pd.read_csv(io.StringIO(text))
    assert list(back.columns) == ["'=label", "value", "count"]
    assert back["'=label"].tolist() == ["'=1+1", "-3", "x"]
    assert back["value"].dtype == float and back["count"].tolist() == [-1, 0, 1]
    sheet = load_workbook(io.BytesIO(exporters.xlsx_bytes({"t": frame}))).active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == ["'=label", "value", "count"]
    assert [c.value for c in sheet[2]] == ["'=1+1", -1.5, -1] and all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert frame.columns[0] == "=label" and frame.iloc[0, 0] == "=1+1"  # the caller's frame is not changed


def test_spooled_body_is_complete_or_fails_before_its_first_byte() -> None:
    def body(fail_after: int | None) -> Iterator[bytes]:
        for i in range(5):
            if i == fail_after:
                raise OSError("the database went away")
            yield f"row {i}\r\n".encode() * 20_000

    assert b"".join(exporters.spooled(body(None))) == b"".join(body(None))
    with pytest.raises(OSError, match="went away"):
        exporters.spooled(body(3))  # raised here, before anything could be sent


def test_xlsx_cells_replace_the_control_characters_xml_cannot_hold() -> None:
    assert exporters.xlsx_cell("a\x01b\x1fc\td\ne\rf") == "a\ufffdb\ufffdc\td\ne\rf"
    assert exporters.xlsx_cell("=x\x00") == "'=x\ufffd" and exporters.xlsx_cell(-1.5) == -1.5
    frame = pd.DataFrame({"label\x02": ["x\x0by"], "n": [1]})
    sheet = load_workbook(io.BytesIO(exporters.xlsx_bytes({"t": frame}))).active
    assert sheet is not None and [[c.value for c in row] for row in sheet.iter_rows()] == [["label\ufffd", "n"], ["x\ufffdy", 1]]
    assert exporters.csv_text(frame) == "label\x02,n\r\nx\x0by,1\r\n"
