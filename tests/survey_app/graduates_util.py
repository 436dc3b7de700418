"""Helpers for graduate register tests: valid check digits and small register files."""

from __future__ import annotations

import csv
import io

from survey_app.core.personal_data import uscc_check_character

HEADER = [
    "graduate_id", "institution_code", "institution_name", "institution_type", "institution_province", "college", "major",
    "discipline", "degree", "sex", "province", "destination_code", "employer_name", "employer_uscc", "registered_on",
    "confirmed_on", "name", "id_number", "phone",
]
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(serial: int) -> str:
    body = f"110105199{serial % 10}0101{serial % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def uscc(serial: int) -> str:
    body = f"91110000{serial:09d}"
    check = uscc_check_character(body)
    assert check is not None
    return body + check


def row(key: str, code: str, **fields: str) -> dict[str, str]:
    base = {
        "graduate_id": key, "institution_code": "10001", "institution_name": "示范大学", "institution_type": "本科院校",
        "institution_province": "示范省", "college": "数学学院", "major": "统计学", "discipline": "理学", "degree": "本科",
        "sex": "女", "province": "示范省", "destination_code": code, "employer_name": "", "employer_uscc": "",
        "registered_on": "2026-06-20", "confirmed_on": "", "name": "张三", "id_number": id_number(int(key[-3:]) if key[-3:].isdigit() else 7),
        "phone": "13800138000",
    }
    if code in ("10", "11", "12"):
        base["employer_name"] = "示范科技有限公司"
        base["employer_uscc"] = uscc(1)
    base.update(fields)
    return base


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
