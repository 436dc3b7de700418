"""What a page shows: texts in the respondent's language, inputs with their values and errors,
and the compiled logic the browser mirrors (``static/respond.js``).

Designer texts stay plain strings here; templates escape them (nothing is marked safe).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _

from survey_app.questionnaires.engine.expressions import to_string
from survey_app.questionnaires.engine.runtime import (
    INPUT_PREFIX,
    LONG_TEXT,
    MESSAGES,
    SHORT_TEXT,
    Form,
)


def _kind(question: Mapping[str, Any]) -> str:
    qtype, appearance = question["type"], question.get("appearance", "")
    if qtype == "select_one":
        return "likert" if "likert" in appearance else "radio"
    if qtype == "select_multiple":
        return "checkbox"
    if qtype == "text":
        return "textarea" if "multiline" in appearance else "text"
    return qtype


def is_matrix(form: Form, page: Mapping[str, Any]) -> bool:
    shown = [q for q in page["questions"] if q["type"] != "calculate"]
    lists = {q.get("list") for q in shown}
    return (page.get("appearance") in ("table-list", "field-list") and len(shown) >= 2
            and all(q["type"] == "select_one" for q in shown) and len(lists) == 1)


def page_view(form: Form, index: int, answers: Mapping[str, Any], missing: Mapping[str, str], language: str,
              errors: Mapping[str, str] | None = None, raw: Mapping[str, list[str]] | None = None) -> dict[str, Any]:
    """The template context of page ``index`` (``raw``: the inputs to show again after errors)."""
    errors = errors or {}
    static = _static_page(form, index, language)
    values, relevant = form.evaluate(answers)
    questions = []
    for fixed, choices, dynamic in static["questions"]:
        name = fixed["name"]
        if not relevant.get(name) and not dynamic:
            continue  # not relevant and cannot become relevant on this page
        if raw is not None:
            chosen = [v for v in raw.get(INPUT_PREFIX + name, []) if v]
        else:
            stored = answers.get(name)
            chosen = [missing[name]] if name in missing else stored if isinstance(stored, list) else [to_string(stored)] if stored is not None else []
        error = errors.get(name, "")
        input_id = fixed["id"]
        questions.append({
            **fixed,
            "describedby": " ".join(([f"{input_id}-hint"] if fixed["hint"] else []) + ([f"{input_id}-error"] if error else [])),
            "choices": [{**choice, "checked": choice["name"] in chosen} for choice in choices],
            "value": chosen[0] if chosen else "",
            "error": error,
        })
    return {
        "index": index,
        "name": static["name"],
        "title": static["title"],
        "questions": questions,
        "matrix": questions[0]["choices"] if static["matrix"] and questions else None,
        "errors": [q for q in questions if q["error"]],
        "logic": logic_for_page(form, index, values, language),
    }


def _static_page(form: Form, index: int, language: str) -> dict[str, Any]:
    """What page ``index`` shows whatever the answers: texts in ``language`` and the request's locale.

    Built once per form, page, language and locale (a form is an immutable published definition);
    callers copy what they change.
    """
    key = ("page_view", index, language, str(get_locale()))
    cached = form.memo.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    required_label = _("(required)")
    page = form.pages[index]
    page_names = form.page_names[index]
    questions = []
    for question in page["questions"]:
        if question["type"] == "calculate":
            continue
        input_id = INPUT_PREFIX + question["name"]
        fixed = {
            "name": question["name"],
            "id": input_id,
            "required_label": required_label,
            "kind": _kind(question),
            "label": form.text(question.get("label"), language),
            "hint": form.text(question.get("hint"), language),
            "required": bool(question.get("required")),
            "min": question.get("min"),
            "max": question.get("max"),
            "maxlength": LONG_TEXT if "multiline" in question.get("appearance", "") else SHORT_TEXT,
        }
        choices = [{"name": c["name"], "label": form.text(c["label"], language), "missing": c["missing"]} for c in form.choices(question)]
        questions.append((fixed, choices, form.depends_on_page(question, page_names)))
    static = {"name": page["name"], "title": form.text(page.get("label"), language), "questions": questions,
              "matrix": is_matrix(form, page)}
    form.memo[key] = static
    return static


def logic_for_page(form: Form, index: int, values: Mapping[str, Any], language: str) -> dict[str, Any]:
    """JSON for the browser: earlier answers and this page's compiled rules and messages."""
    page_names = form.page_names[index]
    static = _static_logic(form, index, language)
    earlier = {name: value for name, value in values.items() if name not in page_names and value is not None}
    return {"values": earlier, **static}


def _static_logic(form: Form, index: int, language: str) -> dict[str, Any]:
    """The answer-independent part of :func:`logic_for_page` (built once per form, page, language, locale)."""
    key = ("logic", index, language, str(get_locale()))
    cached = form.memo.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    questions = []
    for question in form.pages[index]["questions"]:
        logic = form.logic.get(question["name"], {})
        questions.append({
            "name": question["name"],
            "type": question["type"],
            "required": bool(question.get("required")),
            "relevant": logic.get("relevant"),
            "constraint": logic.get("constraint"),
            "calculation": logic.get("calculation"),
            "choice_filter": logic.get("choice_filter"),
            "min": question.get("min"),
            "max": question.get("max"),
            "required_message": form.text(question.get("required_message"), language),
            "constraint_message": form.text(question.get("constraint_message"), language),
            "choices": {c["name"]: {"missing": c["missing"], "columns": c["columns"]} for c in form.choices(question)},
        })
    static = {
        "questions": questions,
        "messages": {key: str(MESSAGES[key]) for key in ("required", "integer", "decimal", "date", "constraint", "filtered")}
        | {"min": str(MESSAGES["min"]), "max": str(MESSAGES["max"])},
    }
    form.memo[key] = static
    return static


def progress(form: Form, index: int, answers: Mapping[str, Any]) -> tuple[int, int]:
    """(position, total) of the page among the pages shown with the current answers."""
    _values, relevant = form.evaluate(answers)
    shown = [i for i in range(len(form.pages)) if form.page_visible(i, relevant)]
    position = sum(1 for i in shown if i <= index)
    return max(position, 1), max(len(shown), 1)


def preview_pages(form: Form, language: str) -> list[dict[str, Any]]:
    """Every page with every question (whatever its relevance) and its rules, for designers."""
    everything = _AllRelevant(form.definition)
    pages = []
    for index, page in enumerate(form.pages):
        view = page_view(everything, index, {}, {}, language)
        view["rules"] = {q["name"]: {k: q[k] for k in ("relevant", "constraint", "calculation", "choice_filter") if q.get(k)}
                         for q in page["questions"]}
        view["page_relevant"] = page.get("relevant", "")
        view["calculations"] = [q for q in page["questions"] if q["type"] == "calculate"]
        pages.append(view)
    return pages


class _AllRelevant(Form):
    """The form with every question counted as relevant (designer preview only)."""

    def evaluate(self, answers: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, bool]]:
        values, relevant = super().evaluate(answers)
        return values, dict.fromkeys(relevant, True)
