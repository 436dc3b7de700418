"""Page logic on the server: relevance, calculations, parsing and checking submitted answers.

The server is the source of truth. On every page submission it parses the inputs by question
type, re-evaluates every ``relevant`` (answers to questions that are not relevant are dropped),
checks ``required``, bounds, choice filters and constraints, and recomputes calculations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

from flask_babel import lazy_gettext as _l

from survey_app.questionnaires.engine.expressions import evaluate, references, truthy

INPUT_PREFIX = "q-"


SHORT_TEXT, LONG_TEXT = 500, 5000


MESSAGES = {
    "required": _l("Please answer this question."),
    "integer": _l("Please enter a whole number."),
    "decimal": _l("Please enter a number."),
    "date": _l("Please enter a date as YYYY-MM-DD."),
    "choice": _l("Please choose one of the options shown."),
    "too_long": _l("The answer is too long (at most %(limit)d characters)."),
    "min": _l("The answer must be at least %(limit)s."),
    "max": _l("The answer must be at most %(limit)s."),
    "constraint": _l("This answer is not accepted."),
    "filtered": _l("This option does not fit your earlier answer."),
    "unique_used": _l("This answer has already been used to respond to this survey."),
}


def text_in(labels: Mapping[str, str] | None, language: str, default: str) -> str:
    """The text in ``language``, else the default language, else any."""
    if not labels:
        return ""
    return labels.get(language) or labels.get(default) or next(iter(labels.values()), "")


def _limit(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass
class PageResult:
    """What a page submission gives: the new answers and the problems, per question."""

    answers: dict[str, Any]
    missing: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    relevant: dict[str, bool] = field(default_factory=dict)  # each question's relevance with these answers

    @property
    def ok(self) -> bool:
        return not self.errors


class Form:
    """A questionnaire version's definition, ready to evaluate."""

    def __init__(self, definition: Mapping[str, Any]) -> None:
        self.definition = definition
        self.pages: list[dict[str, Any]] = definition["pages"]
        self.logic: dict[str, dict[str, Any]] = definition.get("logic", {})
        self.default_language: str = definition["settings"]["default_language"]
        self.questions = [q for page in self.pages for q in page["questions"]]
        self.by_name = {q["name"]: q for q in self.questions}
        self.page_of = {q["name"]: i for i, page in enumerate(self.pages) for q in page["questions"]}
        self.page_names = [frozenset(q["name"] for q in page["questions"]) for page in self.pages]
        # Derived views of the immutable definition (e.g. a page's texts in one language), built once.
        self.memo: dict[tuple[Any, ...], Any] = {}

    @cached_property
    def relevance_references(self) -> dict[str, frozenset[str]]:
        """The questions each question's ``relevant`` refers to."""
        return {q["name"]: frozenset(references(self.logic.get(q["name"], {}).get("relevant", ["str", ""])))
                for q in self.questions}

    @cached_property
    def choice_index(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {name: {c["name"]: c for c in entries} for name, entries in self.definition["choice_lists"].items()}

    def choices(self, question: Mapping[str, Any]) -> list[dict[str, Any]]:
        return list(self.definition["choice_lists"].get(question.get("list") or "", []))

    def text(self, labels: Mapping[str, str] | None, language: str) -> str:
        return text_in(labels, language, self.default_language)

    # --- evaluation ---------------------------------------------------------------------------

    def evaluate(self, answers: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, bool]]:
        """Values after relevance and calculations, and each question's relevance.

        One pass in form order is exact: expressions only refer to earlier questions.
        """
        values: dict[str, Any] = {}
        relevant: dict[str, bool] = {}
        for page in self.pages:
            page_logic = self.logic.get(page["name"], {})
            page_on = "relevant" not in page_logic or truthy(evaluate(page_logic["relevant"], values))
            for question in page["questions"]:
                name = question["name"]
                logic = self.logic.get(name, {})
                on = page_on and ("relevant" not in logic or truthy(evaluate(logic["relevant"], values)))
                relevant[name] = on
                if question["type"] == "calculate":
                    values[name] = evaluate(logic["calculation"], values) if on else None
                elif question["type"] == "note":
                    values[name] = None
                else:
                    values[name] = answers.get(name) if on else None
        return values, relevant

    def page_visible(self, index: int, relevant: Mapping[str, bool]) -> bool:
        """A page is shown when it has a question that is relevant or may become so on the page."""
        page_names = self.page_names[index]
        for question in self.pages[index]["questions"]:
            if question["type"] == "calculate":
                continue
            if relevant.get(question["name"]) or self.depends_on_page(question, page_names):
                return True
        return False

    def depends_on_page(self, question: Mapping[str, Any], page_names: frozenset[str] | set[str]) -> bool:
        return not self.relevance_references[question["name"]].isdisjoint(page_names)

    @cached_property
    def first_page(self) -> int:
        """The page a new respondent starts on."""
        return self.next_page(-1, {}) or 0

    def next_page(self, index: int, answers: Mapping[str, Any], relevant: Mapping[str, bool] | None = None) -> int | None:
        """The next page to show after ``index`` (-1 for the first), or None at the end
        (``relevant``: the questions' relevance with ``answers``, if known)."""
        if relevant is None:
            _values, relevant = self.evaluate(answers)
        for candidate in range(index + 1, len(self.pages)):
            if self.page_visible(candidate, relevant):
                return candidate
        return None

    def previous_page(self, index: int, answers: Mapping[str, Any]) -> int | None:
        _values, relevant = self.evaluate(answers)
        for candidate in range(index - 1, -1, -1):
            if self.page_visible(candidate, relevant):
                return candidate
        return None

    # --- parsing and checking -----------------------------------------------------------------

    def _parse(self, question: Mapping[str, Any], raw: list[str]) -> tuple[Any, str | None, str | None]:
        """(value, missing reason, error) for one question's submitted strings."""
        qtype = question["type"]
        texts = [r.strip() for r in raw if r is not None]
        text = texts[0] if texts else ""
        options = self.choice_index.get(question.get("list") or "", {})
        if qtype == "select_multiple":
            chosen = [t for t in dict.fromkeys(texts) if t]
            if any(t not in options for t in chosen):
                return None, None, str(MESSAGES["choice"])
            ordered = [name for name in options if name in chosen]
            return (ordered or None), None, None
        if text == "":
            return None, None, None
        if qtype == "select_one":
            if text not in options:
                return None, None, str(MESSAGES["choice"])
            if options[text]["missing"]:
                return None, text, None
            return text, None, None
        if qtype == "integer":
            if not re.fullmatch(r"[+-]?\d{1,15}", text):
                return None, None, str(MESSAGES["integer"])
            return int(text), None, None
        if qtype == "decimal":
            if not re.fullmatch(r"[+-]?(\d{1,15}(\.\d{0,10})?|\.\d{1,10})", text):
                return None, None, str(MESSAGES["decimal"])
            return float(text), None, None
        if qtype == "date":
            try:
                return date.fromisoformat(text).isoformat(), None, None
            except ValueError:
                return None, None, str(MESSAGES["date"])
        limit = LONG_TEXT if "multiline" in question.get("appearance", "") else SHORT_TEXT
        if len(text) > limit:
            return None, None, str(MESSAGES["too_long"]) % {"limit": limit}
        return text, None, None

    def _check(self, question: Mapping[str, Any], value: Any, missing: str | None, values: Mapping[str, Any], language: str) -> str | None:
        name = question["name"]
        logic = self.logic.get(name, {})
        if value is None:
            if question.get("required") and missing is None:
                return self.text(question.get("required_message"), language) or str(MESSAGES["required"])
            return None
        low, high = question.get("min"), question.get("max")
        if low is not None and value < low:
            return str(MESSAGES["min"]) % {"limit": _limit(low)}
        if high is not None and value > high:
            return str(MESSAGES["max"]) % {"limit": _limit(high)}
        if "choice_filter" in logic:
            options = self.choice_index[question["list"]]
            for chosen in value if isinstance(value, list) else [value]:
                columns = {"name": chosen, **options[chosen]["columns"]}
                if not truthy(evaluate(logic["choice_filter"], values, None, columns)):
                    return str(MESSAGES["filtered"])
        if "constraint" in logic and not truthy(evaluate(logic["constraint"], values, value)):
            return self.text(question.get("constraint_message"), language) or str(MESSAGES["constraint"])
        return None

    def apply_page(self, index: int, form: Mapping[str, list[str]], answers: Mapping[str, Any],
                   missing: Mapping[str, str], language: str) -> PageResult:
        """Merge page ``index``'s submitted inputs into the answers and check them."""
        page = self.pages[index]
        new_answers = dict(answers)
        new_missing = dict(missing)
        errors: dict[str, str] = {}
        for question in page["questions"]:
            name = question["name"]
            if question["type"] in ("note", "calculate"):
                continue
            value, reason, error = self._parse(question, form.get(INPUT_PREFIX + name, []))
            new_answers[name] = value
            new_missing.pop(name, None)
            if reason is not None:
                new_missing[name] = reason
            if error is not None:
                errors[name] = error
        result = self._settle(new_answers, new_missing)
        values = result.answers
        for question in page["questions"]:
            name = question["name"]
            if name in errors or question["type"] in ("note", "calculate") or name not in values:
                continue
            problem = self._check(question, values[name], result.missing.get(name), values, language)
            if problem is not None:
                errors[name] = problem
        result.errors = errors
        return result

    def _settle(self, answers: Mapping[str, Any], missing: Mapping[str, str]) -> PageResult:
        """Drop answers to questions that are not relevant; recompute calculations."""
        values, relevant = self.evaluate(answers)
        kept = {name: value for name, value in values.items() if relevant.get(name)}
        kept_missing = {name: reason for name, reason in missing.items() if relevant.get(name)}
        return PageResult(kept, kept_missing, relevant=relevant)

    def check_all(self, answers: Mapping[str, Any], missing: Mapping[str, str], language: str, *,
                  settled: PageResult | None = None) -> tuple[PageResult, int | None]:
        """Re-check every page (before completing); return the result and the first page with a problem
        (``settled``: the result of :meth:`apply_page` for these answers, whose relevance is reused)."""
        result = (PageResult(dict(settled.answers), dict(settled.missing), relevant=settled.relevant)
                  if settled is not None and settled.relevant else self._settle(answers, missing))
        for index, page in enumerate(self.pages):
            for question in page["questions"]:
                name = question["name"]
                if question["type"] in ("note", "calculate") or name not in result.answers:
                    continue
                problem = self._check(question, result.answers[name], result.missing.get(name), result.answers, language)
                if problem is not None:
                    result.errors[name] = problem
            if result.errors:
                return result, index
        return result, None
