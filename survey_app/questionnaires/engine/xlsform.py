"""XLSForm import and export with openpyxl.

Sheets ``survey``, ``choices`` and (optional) ``settings``. Translated columns are written
``label::English (en)`` / ``label::中文 (zh)``; the language in brackets (or the whole suffix) is
mapped to the application's locales ``en`` and ``zh_CN``. A column without a language belongs to
the default language (``settings.default_language``, else Chinese when present).
See :mod:`survey_app.questionnaires.engine.definition` for the conventions on pages, Likert scales,
matrices, "don't know" choices and bounds.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from survey_app.core import spreadsheets
from survey_app.core.errors import ValidationFailed
from survey_app.questionnaires.engine.definition import (
    DefinitionError,
    Problem,
    Row,
    build_definition,
)

LANGUAGE_HEADERS = {"en": "English (en)", "zh_CN": "中文 (zh)"}


TRANSLATED = ("label", "hint", "constraint_message", "required_message")


SURVEY_COLUMNS = ("type", "name", "label", "hint", "required", "required_message", "relevant", "constraint",
                  "constraint_message", "calculation", "choice_filter", "appearance", "parameters")


CHOICE_COLUMNS = ("list_name", "name", "label", "missing")


SETTINGS_COLUMNS = ("form_title", "form_id", "version", "default_language", "unique_question")


MAX_ROWS = 5000


#: A questionnaire reads far less than the upload limits allow (its definition is stored and previewed).
MAX_UNPACKED_BYTES, MAX_CELL_CHARS = 32 << 20, 8000


_ALIASES = {"list name": "list_name", "constraint message": "constraint_message",
            "required message": "required_message", "choice filter": "choice_filter"}


def language_code(text: str) -> str | None:
    """``English (en)`` -> ``en``; ``中文 (zh)``, ``zh-CN``, ``Chinese`` -> ``zh_CN``; else None."""
    match = re.search(r"\(([^)]+)\)\s*$", text)
    code = (match.group(1) if match else text).strip().lower().replace("-", "_")
    if code in {"en", "en_us", "en_gb", "english"}:
        return "en"
    if code in {"zh", "zh_cn", "zh_hans", "zh_hans_cn", "chinese", "中文", "简体中文"}:
        return "zh_CN"
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _sheet_rows(rows: Iterator[tuple[Any, ...]], sheet: str, problems: list[Problem]) -> tuple[list[tuple[str, str, str | None]], list[tuple[int, list[str]]]]:
    """Header cells as (letter, base, language) and data rows as (number, texts)."""
    header = next(rows, None) or ()
    headers: list[tuple[str, str, str | None]] = []
    for index, cell in enumerate(header, start=1):
        title = _text(cell)
        letter = get_column_letter(index)
        base, sep, lang_text = title.partition("::")
        base = _ALIASES.get(base.strip().lower(), base.strip().lower())
        lang: str | None = None
        if sep:
            lang = language_code(lang_text)
            if lang is None:
                problems.append(Problem(sheet, 1, f"{title} ({letter})", _("language %(lang)s is not supported: use English (en) or 中文 (zh)", lang=repr(lang_text.strip()))))
        headers.append((letter, base, lang))
    data: list[tuple[int, list[str]]] = []
    for number, values in enumerate(rows, start=2):
        if number > MAX_ROWS:
            problems.append(Problem(sheet, number, None, _("the sheet has more than %(limit)d rows", limit=MAX_ROWS)))
            break
        texts = [_text(v) for v in values]
        if any(texts):
            data.append((number, texts))
    return headers, data


def _to_rows(headers: list[tuple[str, str, str | None]], data: list[tuple[int, list[str]]], default: str) -> list[Row]:
    result = []
    for number, texts in data:
        row = Row(number, {})
        for (letter, base, lang), text in zip(headers, texts, strict=False):
            if not base:
                continue
            key = f"{base}::{lang or default}" if base in TRANSLATED or base == "form_title" else base
            row.letters.setdefault(key, letter)
            row.letters.setdefault(base, letter)
            if text:
                row.values[key] = text
        result.append(row)
    return result


def parse_xlsform(data: bytes) -> dict[str, Any]:
    """Read an XLSForm workbook and return the validated definition.

    Raises :class:`DefinitionError` with every problem (sheet, row, column, message).
    """
    limits = spreadsheets.configured().at_most(unpacked_bytes=MAX_UNPACKED_BYTES, cell_chars=MAX_CELL_CHARS, rows=MAX_ROWS + 1)
    try:
        with spreadsheets.Workbook(data, limits) as workbook:
            sheets = {name.strip().lower(): name for name in workbook.sheet_names}
            problems: list[Problem] = [Problem(name, None, None, _("the workbook has no %(sheet)s sheet", sheet=repr(name)))
                                       for name in ("survey", "choices") if name not in sheets]
            if problems:
                raise DefinitionError(problems)
            survey_h, survey_d = _sheet_rows(workbook.rows(sheets["survey"]), "survey", problems)
            choice_h, choice_d = _sheet_rows(workbook.rows(sheets["choices"]), "choices", problems)
            settings_h, settings_d = _sheet_rows(workbook.rows(sheets["settings"]), "settings", problems) if "settings" in sheets else ([], [])
    except ValidationFailed as exc:
        details = [str(m) for messages in (exc.errors or {}).values() for m in messages]
        raise DefinitionError([Problem("file", None, None, "; ".join([exc.message.rstrip("."), *details]))]) from exc
    for sheet, headers, required in (("survey", survey_h, ("type", "name")), ("choices", choice_h, ("list_name", "name"))):
        present = {base for _l, base, _g in headers}
        problems += [Problem(sheet, 1, col, _("the %(sheet)s sheet needs a %(column)s column", sheet=sheet, column=repr(col))) for col in required if col not in present]
    languages = sorted({lang for _l, base, lang in survey_h + choice_h + settings_h if lang and base in TRANSLATED + ("form_title",)},
                       key=lambda code: code != "zh_CN")
    settings_raw = dict(zip((base for _l, base, _g in settings_h), settings_d[0][1], strict=False)) if settings_d else {}
    default = "zh_CN"
    wanted = settings_raw.get("default_language", "")
    if wanted:
        code = language_code(wanted)
        if code is None:
            problems.append(Problem("settings", 2, "default_language", _("language %(lang)s is not supported: use en or zh", lang=repr(wanted))))
        else:
            default = code
    elif languages:
        default = languages[0]
    if default not in languages:
        languages.append(default)
    if problems:
        raise DefinitionError(problems)
    settings_row = _to_rows(settings_h, settings_d[:1], default)
    title = {k.split("::", 1)[1]: v for k, v in (settings_row[0].values.items() if settings_row else []) if k.startswith("form_title::")}
    extra = [base for _l, base, lang in choice_h if base and lang is None and base not in CHOICE_COLUMNS]
    settings = {**settings_raw, "title": title, "default_language": default}
    return build_definition(_to_rows(survey_h, survey_d, default), _to_rows(choice_h, choice_d, default), settings,
                            languages=languages, choice_columns=extra)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def build_xlsform(definition: dict[str, Any]) -> bytes:
    """Write a definition back as an XLSForm workbook (``parse_xlsform`` reads it back unchanged)."""
    languages: list[str] = definition["languages"]

    def header(base: str) -> list[str]:
        if base in TRANSLATED or base == "form_title":
            return [f"{base}::{LANGUAGE_HEADERS[lang]}" for lang in languages]
        return [base]

    def texts(values: dict[str, str]) -> list[str]:
        return [values.get(lang, "") for lang in languages]

    workbook = Workbook()
    survey = workbook.active
    survey.title = "survey"
    survey.append([h for base in SURVEY_COLUMNS for h in header(base)])

    def question_row(item: dict[str, Any]) -> list[str]:
        qtype = f"{item['type']} {item['list']}" if item.get("list") else item["type"]
        bounds = " ".join(f"{k}={_number(item.get(k))}" for k in ("min", "max") if item.get(k) is not None)
        cells: dict[str, Any] = {"type": qtype, "name": item["name"], "required": "yes" if item.get("required") else "",
                                 "relevant": item.get("relevant", ""), "constraint": item.get("constraint", ""),
                                 "calculation": item.get("calculation", ""), "choice_filter": item.get("choice_filter", ""),
                                 "appearance": item.get("appearance", ""), "parameters": bounds}
        row: list[str] = []
        for base in SURVEY_COLUMNS:
            row += texts(item.get(base) or {}) if base in TRANSLATED else [cells.get(base, "")]
        return row

    for page in definition["pages"]:
        if not page["generated"]:
            survey.append(question_row({"type": "begin group", "name": page["name"], "label": page["label"],
                                        "relevant": page["relevant"], "appearance": page["appearance"]}))
        for item in page["questions"]:
            survey.append(question_row(item))
        if not page["generated"]:
            survey.append(question_row({"type": "end group", "name": ""}))

    extra = sorted({col for entries in definition["choice_lists"].values() for e in entries for col in e["columns"]})
    choices = workbook.create_sheet("choices")
    choices.append(["list_name", "name", *header("label"), "missing", *extra])
    for list_name, entries in definition["choice_lists"].items():
        for entry in entries:
            choices.append([list_name, entry["name"], *texts(entry["label"]), "yes" if entry["missing"] else "",
                            *[entry["columns"].get(col, "") for col in extra]])

    settings = definition["settings"]
    sheet = workbook.create_sheet("settings")
    sheet.append([*header("form_title"), "form_id", "version", "default_language", "unique_question"])
    sheet.append([*texts(settings["title"]), settings["form_id"], settings["version"], settings["default_language"],
                  settings["unique_question"]])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
