"""Questionnaire definitions: built from XLSForm-like rows, validated, stored as JSON.

A definition is a plain dict (what is stored in ``QuestionnaireVersion.definition``)::

    {"format": 1,
     "settings": {"form_id", "title": {lang: text}, "version", "default_language", "unique_question"},
     "languages": ["zh_CN", "en"],
     "choice_lists": {list: [{"name", "label": {lang: text}, "missing": bool, "columns": {col: value}}]},
     "pages": [{"name", "label", "relevant", "appearance", "generated": bool, "questions": [...]}],
     "logic": {name: {"relevant"|"constraint"|"calculation"|"choice_filter": AST}}}

Each question: ``name, type, list, label, hint, required, required_message, relevant, constraint,
constraint_message, calculation, choice_filter, appearance, min, max``. Expression sources are
kept as written; their compiled ASTs live in ``logic`` (shipped to the browser as JSON).

Conventions: one ``begin group`` / ``end group`` = one page (groups do not nest; questions outside
a group form pages of their own); ``appearance`` ``likert`` on a ``select_one`` shows a rating scale;
a group with appearance ``table-list`` or ``field-list`` whose questions are all ``select_one`` of one
list is shown as a matrix; a choice with ``missing`` = yes (e.g. "don't know") satisfies
``required`` but is stored as a missing value; ``parameters`` ``min=.. max=..`` bound integer and
decimal answers; ``settings.unique_question`` names a question (e.g. a phone number) whose answer
is kept only as a keyed hash and may be given once per survey.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _

from survey_app.questionnaires.engine.expressions import ExpressionError, compile_expression

FORMAT = 1


QUESTION_TYPES = ("select_one", "select_multiple", "integer", "decimal", "text", "date", "note", "calculate")


ANSWERED_TYPES = ("select_one", "select_multiple", "integer", "decimal", "text", "date")


NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


_TRUE = {"yes", "true", "true()", "1"}


_FALSE = {"", "no", "false", "false()", "0"}


_EXPRESSION_COLUMNS = ("relevant", "constraint", "calculation", "choice_filter")


MATRIX_APPEARANCES = ("table-list", "field-list")


@dataclass(frozen=True)
class Problem:
    """One problem in an uploaded form, located by sheet, row and column."""

    sheet: str
    row: int | None
    column: str | None
    message: str

    def where(self) -> str:
        parts = [self.sheet]
        if self.row is not None:
            parts.append(_("row %(number)d", number=self.row))
        if self.column:
            parts.append(_("column %(name)s", name=self.column))
        return ", ".join(parts)


class DefinitionError(ValueError):
    """The form is not valid; :attr:`problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.where()}: {p.message}" for p in problems[:5]))
        self.problems = problems


@dataclass
class Row:
    """A sheet row: normalised header -> text, and header -> column letter."""

    number: int
    values: dict[str, str]
    letters: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str:
        return self.values.get(key, "")


def _texts(row: Row, column: str, languages: list[str]) -> dict[str, str]:
    return {lang: row.get(f"{column}::{lang}") for lang in languages if row.get(f"{column}::{lang}")}


class _Builder:
    def __init__(self, languages: list[str], sheet_names: tuple[str, str]) -> None:
        self.languages = languages
        self.survey_sheet, self.choices_sheet = sheet_names
        self.problems: list[Problem] = []

    def problem(self, sheet: str, row: Row | None, column: str | None, message: str) -> None:
        letter = row.letters.get(column, "") if row is not None and column else ""
        label = f"{column} ({letter})" if letter else column
        self.problems.append(Problem(sheet, row.number if row else None, label, message))

    def choices(self, rows: list[Row], extra_columns: list[str]) -> dict[str, list[dict[str, Any]]]:
        lists: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            list_name, name = row.get("list_name"), row.get("name")
            if not list_name and not name:
                continue
            if not NAME.match(list_name):
                self.problem(self.choices_sheet, row, "list_name", _("%(value)s is not a valid list name", value=repr(list_name)))
                continue
            if not name or re.search(r"\s", name) or len(name) > 64:
                self.problem(self.choices_sheet, row, "name", _("%(value)s is not a valid choice name (no spaces, at most 64 characters)", value=repr(name)))
                continue
            label = _texts(row, "label", self.languages)
            if not label:
                self.problem(self.choices_sheet, row, "label", _("every choice needs a label"))
            missing = row.get("missing").lower()
            if missing not in _TRUE | _FALSE:
                self.problem(self.choices_sheet, row, "missing", _("%(value)s is not yes or no", value=repr(row.get("missing"))))
            entries = lists.setdefault(list_name, [])
            if any(entry["name"] == name for entry in entries):
                self.problem(self.choices_sheet, row, "name", _("choice %(choice)s appears twice in list %(list)s", choice=repr(name), list=repr(list_name)))
                continue
            entries.append({
                "name": name,
                "label": label,
                "missing": missing in _TRUE,
                "columns": {col: row.get(col) for col in extra_columns if row.get(col)},
            })
        return lists

    def flag(self, row: Row, column: str) -> bool:
        raw = row.get(column).strip().lower()
        if raw in _TRUE:
            return True
        if raw not in _FALSE:
            self.problem(self.survey_sheet, row, column, _("%(value)s is not yes or no", value=repr(row.get(column))))
        return False

    def bounds(self, row: Row, qtype: str) -> tuple[float | None, float | None]:
        raw = row.get("parameters").strip()
        if not raw:
            return None, None
        found: dict[str, float] = {}
        for part in raw.split():
            key, _sep, value = part.partition("=")
            try:
                found[key] = float(value)
            except ValueError:
                key = ""
            if key not in ("min", "max") or qtype not in ("integer", "decimal"):
                self.problem(self.survey_sheet, row, "parameters", _("%(value)s is not understood: integer and decimal questions take min=NUMBER max=NUMBER", value=repr(part)))
                return None, None
        low, high = found.get("min"), found.get("max")
        if low is not None and high is not None and low > high:
            self.problem(self.survey_sheet, row, "parameters", _("min is greater than max"))
        return low, high

    def question(self, row: Row, qtype: str, list_name: str, lists: Mapping[str, Any]) -> dict[str, Any]:
        name = row.get("name")
        if qtype in ("select_one", "select_multiple"):
            if not list_name:
                self.problem(self.survey_sheet, row, "type", _("%(type)s needs a choice list, e.g. '%(type)s yes_no'", type=qtype))
            elif list_name not in lists:
                self.problem(self.survey_sheet, row, "type", _("choice list %(list)s is not in the choices sheet", list=repr(list_name)))
        label = _texts(row, "label", self.languages)
        if not label and qtype != "calculate":
            self.problem(self.survey_sheet, row, "label", _("question %(name)s needs a label", name=repr(name)))
        required = self.flag(row, "required")
        if required and qtype in ("note", "calculate"):
            self.problem(self.survey_sheet, row, "required", _("a %(type)s cannot be required", type=qtype))
        if qtype == "calculate" and not row.get("calculation"):
            self.problem(self.survey_sheet, row, "calculation", _("a calculate row needs a calculation"))
        if row.get("calculation") and qtype != "calculate":
            self.problem(self.survey_sheet, row, "calculation", _("only calculate rows take a calculation"))
        if row.get("choice_filter") and qtype not in ("select_one", "select_multiple"):
            self.problem(self.survey_sheet, row, "choice_filter", _("only select_one and select_multiple take a choice filter"))
        if row.get("constraint") and qtype not in ANSWERED_TYPES:
            self.problem(self.survey_sheet, row, "constraint", _("a %(type)s takes no constraint", type=qtype))
        low, high = self.bounds(row, qtype)
        return {
            "name": name,
            "type": qtype,
            "list": list_name,
            "label": label,
            "hint": _texts(row, "hint", self.languages),
            "required": required,
            "required_message": _texts(row, "required_message", self.languages),
            "relevant": row.get("relevant"),
            "constraint": row.get("constraint"),
            "constraint_message": _texts(row, "constraint_message", self.languages),
            "calculation": row.get("calculation"),
            "choice_filter": row.get("choice_filter"),
            "appearance": row.get("appearance").strip().lower(),
            "min": low,
            "max": high,
        }

    def compile(self, row: Row, name: str, known: list[str], item: Mapping[str, Any], lists: Mapping[str, Any]) -> dict[str, Any]:
        logic: dict[str, Any] = {}
        for column in _EXPRESSION_COLUMNS:
            source = item.get(column) or ""
            if not source:
                continue
            columns = None
            if column == "choice_filter" and item.get("type") not in ("select_one", "select_multiple"):
                continue  # already reported: only choice questions take a filter
            if column == "choice_filter":
                entries = lists.get(item.get("list") or "", [])
                columns = {"name"} | {c for e in entries for c in e["columns"]}
            try:
                logic[column] = compile_expression(
                    source, names=known, allow_current=column == "constraint", columns=columns
                )
            except ExpressionError as exc:
                self.problem(self.survey_sheet, row, column, str(exc))
        return logic

    def survey(self, rows: list[Row], lists: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        logic: dict[str, Any] = {}
        known: list[str] = []
        names_seen: set[str] = set()
        group: dict[str, Any] | None = None
        loose: dict[str, Any] | None = None
        for row in rows:
            raw_type = " ".join(row.get("type").split())
            if not raw_type and not row.get("name"):
                continue
            kind, _sep, list_name = raw_type.partition(" ")
            kind = kind.lower()
            if raw_type.lower() in ("begin group", "begin_group"):
                if group is not None:
                    self.problem(self.survey_sheet, row, "type", _("groups cannot be nested: end the previous group first"))
                    continue
                name = row.get("name")
                if self._check_name(row, name, names_seen):
                    group = {"name": name, "label": _texts(row, "label", self.languages), "relevant": row.get("relevant"),
                             "appearance": row.get("appearance").strip().lower(), "generated": False, "questions": []}
                    page_logic = self.compile(row, name, known, {"relevant": row.get("relevant")}, lists)
                    if page_logic:
                        logic[name] = page_logic
                    pages.append(group)
                    loose = None
                continue
            if raw_type.lower() in ("end group", "end_group"):
                if group is None:
                    self.problem(self.survey_sheet, row, "type", _("'end group' without a matching 'begin group'"))
                group = None
                continue
            if kind not in QUESTION_TYPES:
                self.problem(self.survey_sheet, row, "type", _("type %(type)s is not supported; use one of: %(types)s, begin group, end group", type=repr(raw_type), types=", ".join(QUESTION_TYPES)))
                continue
            if kind not in ("select_one", "select_multiple") and list_name:
                self.problem(self.survey_sheet, row, "type", _("type %(type)s takes no choice list", type=repr(kind)))
            name = row.get("name")
            if not self._check_name(row, name, names_seen):
                continue
            item = self.question(row, kind, list_name.strip(), lists)
            target = group
            if target is None:
                if loose is None:
                    loose = {"name": f"page_{len(pages) + 1}", "label": {}, "relevant": "", "appearance": "", "generated": True, "questions": []}
                    pages.append(loose)
                target = loose
            question_logic = self.compile(row, name, known, item, lists)
            if question_logic:
                logic[name] = question_logic
            target["questions"].append(item)
            known.append(name)
        if group is not None:
            self.problems.append(Problem(self.survey_sheet, None, None, _("group %(name)s has no 'end group'", name=repr(group["name"]))))
        if not any(q["type"] not in ("calculate",) for page in pages for q in page["questions"]):
            self.problems.append(Problem(self.survey_sheet, None, None, _("the form has no questions")))
        for page in pages:
            if not page["generated"] and not page["questions"]:
                self.problems.append(Problem(self.survey_sheet, None, "name", _("group %(name)s is empty", name=repr(page["name"]))))
        return pages, logic

    def _check_name(self, row: Row, name: str, seen: set[str]) -> bool:
        if not NAME.match(name or ""):
            self.problem(self.survey_sheet, row, "name", _("%(name)s is not a valid name: start with a letter, then letters, digits or _ (at most 64)", name=repr(name)))
            return False
        if name in seen:
            self.problem(self.survey_sheet, row, "name", _("the name %(name)s is used twice", name=repr(name)))
            return False
        seen.add(name)
        return True


def build_definition(
    survey: list[Row],
    choices: list[Row],
    settings: Mapping[str, Any],
    *,
    languages: list[str],
    choice_columns: list[str],
    sheet_names: tuple[str, str] = ("survey", "choices"),
) -> dict[str, Any]:
    """Validate the rows and return the definition; raise :class:`DefinitionError` listing every problem."""
    builder = _Builder(languages, sheet_names)
    lists = builder.choices(choices, choice_columns)
    pages, logic = builder.survey(survey, lists)
    names = {q["name"]: q for page in pages for q in page["questions"]}
    unique = str(settings.get("unique_question") or "")
    if unique and (unique not in names or names[unique]["type"] not in ("text", "integer")):
        builder.problems.append(Problem("settings", 2, "unique_question", _("%(name)s is not a text or integer question of the form", name=repr(unique))))
    if builder.problems:
        raise DefinitionError(builder.problems)
    return {
        "format": FORMAT,
        "settings": {
            "form_id": str(settings.get("form_id") or ""),
            "title": dict(settings.get("title") or {}),
            "version": str(settings.get("version") or ""),
            "default_language": str(settings["default_language"]),
            "unique_question": unique,
        },
        "languages": list(languages),
        "choice_lists": lists,
        "pages": pages,
        "logic": logic,
    }
