"""XLSForm import/export: conventions, round trip, and row/column-level error reporting."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from survey_app.demo.services import demo_questionnaires
from survey_app.questionnaires.engine.definition import DefinitionError
from survey_app.questionnaires.engine.xlsform import build_xlsform, language_code, parse_xlsform

SURVEY = ["type", "name", "label::English (en)", "label::中文 (zh)", "required", "relevant", "constraint",
          "constraint_message::English (en)", "calculation", "choice_filter", "appearance", "parameters"]


def make_xlsform(survey: list[list[Any]], choices: list[list[Any]] | None = None, *, header: list[str] | None = None,
                 choice_header: list[str] | None = None, settings: dict[str, Any] | None = None,
                 sheets: tuple[str, ...] = ("survey", "choices")) -> bytes:
    book = Workbook()
    book.remove(book.active)
    if "survey" in sheets:
        sheet = book.create_sheet("survey")
        sheet.append(header or SURVEY)
        for row in survey:
            sheet.append(row)
    if "choices" in sheets:
        sheet = book.create_sheet("choices")
        sheet.append(choice_header or ["list_name", "name", "label::English (en)", "label::中文 (zh)", "missing"])
        for row in choices or []:
            sheet.append(row)
    if settings:
        sheet = book.create_sheet("settings")
        sheet.append(list(settings))
        sheet.append(list(settings.values()))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


YES_NO = [["yn", "yes", "Yes", "是", ""], ["yn", "no", "No", "否", ""], ["yn", "dk", "Don't know", "不知道", "yes"]]


def problems_of(data: bytes) -> list[tuple[str, int | None, str | None, str]]:
    with pytest.raises(DefinitionError) as info:
        parse_xlsform(data)
    return [(p.sheet, p.row, p.column, p.message) for p in info.value.problems]


def test_a_small_form_becomes_a_definition() -> None:
    data = make_xlsform([
        ["begin group", "p1", "About you", "关于你"],
        ["integer", "age", "Age", "年龄", "yes", "", ". >= 15", "At least 15", "", "", "", "min=0 max=120"],
        ["select_one yn", "works", "Do you work?", "您工作吗？", "TRUE", "${age} >= 18", "", "", "", "", "likert"],
        ["calculate", "adult", "", "", "", "", "", "", "if(${age} >= 18, 1, 0)"],
        ["end group"],
        ["note", "thanks", "Thanks", "谢谢"],
    ], YES_NO, settings={"form_title::English (en)": "Test", "form_id": "t1", "version": 7})
    definition = parse_xlsform(data)
    assert definition["languages"] == ["zh_CN", "en"] and definition["settings"]["default_language"] == "zh_CN"
    assert definition["settings"]["version"] == "7" and definition["settings"]["title"] == {"en": "Test"}
    first, second = definition["pages"]
    assert first["name"] == "p1" and not first["generated"] and second["generated"]
    age, works, adult = first["questions"]
    assert (age["type"], age["required"], age["min"], age["max"]) == ("integer", True, 0.0, 120.0)
    assert age["constraint_message"] == {"en": "At least 15"}
    assert works["list"] == "yn" and works["appearance"] == "likert" and works["label"] == {"en": "Do you work?", "zh_CN": "您工作吗？"}
    assert definition["choice_lists"]["yn"][2] == {"name": "dk", "label": {"en": "Don't know", "zh_CN": "不知道"}, "missing": True, "columns": {}}
    assert definition["logic"]["works"]["relevant"] == ["bin", ">=", ["ref", "age"], ["num", 18.0]]
    assert definition["logic"]["adult"]["calculation"][0] == "call"
    assert second["questions"][0]["type"] == "note"


@pytest.mark.parametrize(("header", "code"), [("English (en)", "en"), ("中文 (zh)", "zh_CN"), ("zh-CN", "zh_CN"),
                                             ("Chinese", "zh_CN"), ("en", "en"), ("Français (fr)", None)])
def test_language_headers(header: str, code: str | None) -> None:
    assert language_code(header) == code


def test_a_plain_label_column_is_the_default_language() -> None:
    data = make_xlsform([["text", "name", "Name", "Your name"]], header=["type", "name", "label", "label::English (en)"],
                        settings={"default_language": "zh"})
    question = parse_xlsform(data)["pages"][0]["questions"][0]
    assert question["label"] == {"zh_CN": "Name", "en": "Your name"}


@pytest.mark.parametrize("build", [demo_questionnaires.graduate_xlsform, demo_questionnaires.satisfaction_xlsform])
def test_round_trip_export_then_import_gives_the_same_definition(build: Any) -> None:
    definition = parse_xlsform(build())
    exported = build_xlsform(definition)
    assert parse_xlsform(exported) == definition
    sheets = load_workbook(io.BytesIO(exported)).sheetnames
    assert sheets == ["survey", "choices", "settings"]


def test_demo_conventions_matrix_likert_dont_know_and_unique_question() -> None:
    definition = parse_xlsform(demo_questionnaires.satisfaction_xlsform())
    pages = {page["name"]: page for page in definition["pages"]}
    assert pages["indicators_a"]["appearance"] == "table-list" and len(pages["indicators_a"]["questions"]) == 8
    assert sum(len(pages[p]["questions"]) for p in ("indicators_a", "indicators_b")) == 16
    assert [c["name"] for c in definition["choice_lists"]["sat5"] if c["missing"]] == ["dk"]
    assert definition["settings"]["unique_question"] == "phone"


def test_every_problem_is_reported_with_its_row_and_column() -> None:
    data = make_xlsform([
        ["begin group", "p1", "Page", "页"],
        ["select_one nolist", "q1", "Q1", "题1"],                       # row 3: unknown list
        ["integer", "q1", "Again", "再次"],                             # row 4: duplicate name
        ["text", "bad name", "Bad", "坏"],                              # row 5: invalid name
        ["geopoint", "where", "Where", "哪里"],                          # row 6: unsupported type
        ["integer", "n", "N", "数", "perhaps"],                          # row 7: required not yes/no
        ["integer", "m", "M", "数", "", "frobnicate(${n})"],             # row 8: unknown function
        ["integer", "k", "K", "数", "", "${later} > 1"],                 # row 9: forward reference
        ["integer", "later", "L", "数", "", "", "", "", "", "", "", "size=3"],  # row 10: parameters
        ["begin group", "inner", "Inner", "内"],                         # row 11: nested group
        ["note", "", "", ""],                                           # row 12: name missing
    ], YES_NO)
    found = problems_of(data)
    by_row = {row: (column, message) for _sheet, row, column, message in found}
    assert by_row[3][0] == "type (A)" and "'nolist' is not in the choices sheet" in by_row[3][1]
    assert by_row[4][0] == "name (B)" and "used twice" in by_row[4][1]
    assert by_row[5][0] == "name (B)" and "not a valid name" in by_row[5][1]
    assert "geopoint" in by_row[6][1] and "not supported" in by_row[6][1]
    assert by_row[7][0] == "required (E)" and "'perhaps' is not yes or no" in by_row[7][1]
    assert by_row[8][0] == "relevant (F)" and "unknown function frobnicate()" in by_row[8][1]
    assert by_row[9][0] == "relevant (F)" and "${later} does not name an earlier question" in by_row[9][1]
    assert by_row[10][0] == "parameters (L)"
    assert "cannot be nested" in by_row[11][1]
    assert by_row[12][0] == "name (B)"
    assert any("has no 'end group'" in message for *_rest, message in found)


def test_a_regex_the_engine_cannot_run_is_refused_at_its_row() -> None:
    """Designers' patterns run on RE2 (linear time): what it cannot run is refused at import, naming the row."""
    found = problems_of(make_xlsform([
        ["text", "code", "Code", "编码", "", "", "regex(., '([A-Z])\\1')"],
        ["text", "word", "Word", "词", "", "", "regex(., '^([A-Za-z]+ ?)*$')"],
        ["text", "tag", "Tag", "标签", "", "", "regex(., '(?=x)x')"],
    ]))
    assert [(sheet, row, column) for sheet, row, column, _m in found] == [("survey", 2, "constraint (G)"), ("survey", 4, "constraint (G)")]
    assert "\\1 is not supported" in found[0][3] and "groups may only be (...) and (?:...)" in found[1][3]


def test_missing_sheets_columns_and_bad_files() -> None:
    assert problems_of(make_xlsform([], sheets=("survey",)))[0][:1] == ("choices",)
    found = problems_of(make_xlsform([["text", "a", "A", "甲"]], header=["kind", "name", "label::English (en)", "label::中文 (zh)"]))
    assert ("survey", 1, "type", "the survey sheet needs a 'type' column") in found
    assert problems_of(b"not a workbook")[0][3].startswith("The Excel workbook could not be read; it is not a valid .xlsx file")
    found = problems_of(make_xlsform([["text", "a", "A"]], header=["type", "name", "label::Français (fr)"]))
    assert found[0][:3] == ("survey", 1, "label::Français (fr) (C)") and "not supported" in found[0][3]


def test_choice_problems_and_filters() -> None:
    choices = [["city", "gz", "Guangzhou", "广州", "", "gd"], ["city", "gz", "Again", "又", "", "gd"],
               ["province", "gd", "Guangdong", "广东", "", ""], ["province", "x y", "Bad", "坏", "", ""],
               ["province", "zj", "Zhejiang", "浙江", "maybe", ""]]
    header = ["list_name", "name", "label::English (en)", "label::中文 (zh)", "missing", "province"]
    survey = [["select_one province", "prov", "Province", "省"],
              ["select_one city", "city", "City", "市", "", "", "", "", "", "province = ${prov}"],
              ["select_one city", "city2", "City", "市", "", "", "", "", "", "country = ${prov}"],
              ["integer", "n", "N", "数", "", "", "", "", "", "province = 1"]]
    found = problems_of(make_xlsform(survey, choices, choice_header=header))
    messages = {(sheet, row): message for sheet, row, _column, message in found}
    assert "appears twice" in messages[("choices", 3)]
    assert "not a valid choice name" in messages[("choices", 5)]
    assert "'maybe' is not yes or no" in messages[("choices", 6)]
    assert "'country' is not a column of the choice list" in messages[("survey", 4)]
    assert "only select_one and select_multiple take a choice filter" in messages[("survey", 5)]
    ok = parse_xlsform(make_xlsform(survey[:2], choices[:1] + choices[2:3], choice_header=header))
    assert ok["choice_lists"]["city"][0]["columns"] == {"province": "gd"}
    assert ok["logic"]["city"]["choice_filter"] == ["bin", "=", ["col", "province"], ["ref", "prov"]]
