"""Workbooks for the upload tests: ordinary ones, and damaged or oversized ones as a probe crafts them."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook

SHEET = "xl/worksheets/sheet1.xml"


def xlsx(rows: Iterable[Sequence[Any]]) -> bytes:
    """A workbook written by openpyxl whose first sheet holds ``rows``."""
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_part(data: bytes, part: str, content: bytes) -> bytes:
    """``data`` with the zip member ``part`` replaced by ``content`` (or added)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != part:
                target.writestr(info.filename, source.read(info))
        target.writestr(part, content)
    return out.getvalue()


def with_parts(data: bytes, count: int) -> bytes:
    """``data`` with ``count`` more (empty) zip members."""
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a") as target:
        for i in range(count):
            target.writestr(f"customXml/item{i}.xml", b"")
    return out.getvalue()


def noise(length: int, seed: int = 1) -> str:
    """Text that does not compress much (letters in a random order)."""
    import random

    rng = random.Random(seed)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(length))


def part(data: bytes, name: str) -> bytes:
    return zipfile.ZipFile(io.BytesIO(data)).read(name)


def broken_at_row(data: bytes, row: int, sheet: str = SHEET) -> bytes:
    """``data`` whose sheet XML is malformed from row ``row`` on (the rows before it read fine)."""
    xml = part(data, sheet).decode()
    start = re.search(rf'<row r="{row}"', xml)
    assert start is not None, f"no row {row} in {sheet}"
    return with_part(data, sheet, (xml[: start.start()] + '<row r="x"><c><<v>1</v></row></sheetData></worksheet>').encode())


_TYPES = ('<?xml version="1.0" encoding="UTF-8"?>'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '{sheets}</Types>')
_RELATIONSHIPS = ('<?xml version="1.0" encoding="UTF-8"?>'
                  '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{}</Relationships>')
_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def streamed_xlsx(sheets: dict[str, Iterable[Sequence[str]]]) -> bytes:
    """A minimal workbook written part by part (inline strings), as a script would craft a large one.

    Rows are streamed into the zip, so a few hundred kilobytes can hold millions of rows.
    """
    names = list(sheets)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as book:
        book.writestr("[Content_Types].xml", _TYPES.format(sheets="".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(names) + 1))))
        book.writestr("_rels/.rels", _RELATIONSHIPS.format(
            f'<Relationship Id="rId1" Type="{_OFFICE}/officeDocument" Target="xl/workbook.xml"/>'))
        book.writestr("xl/workbook.xml", (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{_OFFICE}"><sheets>'
            + "".join(f'<sheet name="{escape(n)}" sheetId="{i}" r:id="rId{i}"/>' for i, n in enumerate(names, start=1))
            + "</sheets></workbook>"))
        book.writestr("xl/_rels/workbook.xml.rels", _RELATIONSHIPS.format("".join(
            f'<Relationship Id="rId{i}" Type="{_OFFICE}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(names) + 1))))
        for i, name in enumerate(names, start=1):
            with book.open(f"xl/worksheets/sheet{i}.xml", "w", force_zip64=True) as sheet:
                sheet.write(b'<?xml version="1.0" encoding="UTF-8"?>'
                            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
                block: list[str] = []
                for row in sheets[name]:
                    block.append("<row>" + "".join(f'<c t="inlineStr"><is><t>{escape(str(v))}</t></is></c>' for v in row) + "</row>")
                    if len(block) >= 10_000:
                        sheet.write("".join(block).encode())
                        block = []
                sheet.write("".join(block).encode() + b"</sheetData></worksheet>")
    return out.getvalue()
