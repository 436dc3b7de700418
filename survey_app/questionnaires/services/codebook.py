"""Codebooks: the analysis variables of a questionnaire version, and answers as a DataFrame.

Variable kinds:

- ``numeric``: integer and decimal questions, and ``select_one`` questions whose (non-missing)
  choice names are all numbers (rating scales such as 1-5): the value is the number, the choice
  labels become value labels;
- ``categorical``: other ``select_one`` questions (value: the choice name), and frame attributes;
- ``binary``: one 0/1 variable ``<question>__<choice>`` per choice of a ``select_multiple``;
- ``text`` and ``date``: kept as text; no statistics. Text or number questions marked
  identifying (``identifying: true``, appearance ``identifying``, the survey's
  ``unique_question``, or a personal-data name such as ``phone``/``email``/``id_number``) are
  flagged ``identifying`` and never leave the system through the API.

Choices marked ``missing`` (e.g. "don't know") are missing codes: the answer is stored as missing
and the reason is kept in ``<question>__missing``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

IDENTIFYING_NAME = re.compile(
    r"(^|_)(name|full_?name|phone|mobile|tel|telephone|email|e_?mail|id_?number|id_?card|idno|"
    r"identity|passport|address|wechat|qq|sfz|shenfenzheng|xingming|dianhua)(_|$)",
    re.IGNORECASE,
)


NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


STATISTIC_KINDS = {
    "mean": ("numeric", "binary"),
    "total": ("numeric", "binary"),
    "ratio": ("numeric", "binary"),
    "quantile": ("numeric",),
    "proportion": ("categorical", "numeric", "binary"),
}


@dataclass
class ValueLabel:
    code: str
    labels: dict[str, str]
    missing: bool = False


@dataclass
class Variable:
    name: str
    kind: str
    question: str
    question_type: str
    labels: dict[str, str]
    value_labels: list[ValueLabel] = field(default_factory=list)
    missing_codes: list[str] = field(default_factory=list)
    relevant: str = ""
    page: str = ""
    page_relevant: str = ""
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    identifying: bool = False
    source: str = "questionnaire"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_identifying(question: Mapping[str, Any], unique: str) -> bool:
    if question["type"] not in ("text", "integer", "decimal", "date"):
        return False
    if question.get("identifying") or "identifying" in str(question.get("appearance", "")).split():
        return True
    if question["name"] == unique:
        return True
    if question["type"] == "text" and IDENTIFYING_NAME.search(question["name"]):
        return True
    return bool(IDENTIFYING_NAME.search(question["name"])) and question["type"] in ("integer", "text")


def variables(definition: Mapping[str, Any]) -> list[Variable]:
    """The analysis variables of a questionnaire definition, in questionnaire order."""
    lists: Mapping[str, list[dict[str, Any]]] = definition.get("choice_lists", {})
    unique = str(definition.get("settings", {}).get("unique_question") or "")
    out: list[Variable] = []
    for page in definition.get("pages", []):
        for q in page.get("questions", []):
            qtype = q["type"]
            if qtype in ("note", "calculate"):
                continue
            choices = lists.get(q.get("list") or "", [])
            labels = [ValueLabel(str(c["name"]), dict(c.get("label", {})), bool(c.get("missing"))) for c in choices]
            missing_codes = [v.code for v in labels if v.missing]
            common = {
                "question": q["name"], "question_type": qtype, "labels": dict(q.get("label", {})),
                "relevant": q.get("relevant") or "", "page": page.get("name", ""),
                "page_relevant": page.get("relevant") or "", "required": bool(q.get("required")),
                "missing_codes": missing_codes,
            }
            if qtype == "select_one":
                valid = [v for v in labels if not v.missing]
                numeric = bool(valid) and all(NUMBER.match(v.code) for v in valid)
                out.append(Variable(name=q["name"], kind="numeric" if numeric else "categorical", value_labels=labels, **common))
            elif qtype == "select_multiple":
                for v in labels:
                    if v.missing:
                        continue
                    dummy_labels = {lang: f"{text}: {v.labels.get(lang, v.code)}" for lang, text in common["labels"].items()}
                    out.append(Variable(
                        name=f"{q['name']}__{v.code}", kind="binary",
                        value_labels=[ValueLabel("0", {"en": "not selected", "zh_CN": "未选"}), ValueLabel("1", {"en": "selected", "zh_CN": "选中"})],
                        **{**common, "labels": dummy_labels},
                    ))
            elif qtype in ("integer", "decimal"):
                out.append(Variable(name=q["name"], kind="text" if _is_identifying(q, unique) else "numeric",
                                    minimum=q.get("min"), maximum=q.get("max"),
                                    identifying=_is_identifying(q, unique), **common))
            else:  # text, date
                out.append(Variable(name=q["name"], kind="date" if qtype == "date" else "text",
                                    identifying=_is_identifying(q, unique), **common))
    return out


def merge_variables(definitions: Iterable[Mapping[str, Any]]) -> dict[str, Variable]:
    """Variables of several versions of one questionnaire (later versions win)."""
    merged: dict[str, Variable] = {}
    for definition in definitions:
        for v in variables(definition):
            merged.pop(v.name, None)
            merged[v.name] = v
    return merged


def attribute_variables(names: Iterable[str]) -> list[Variable]:
    """Frame attributes (analysis attributes, never contact fields) as categorical variables."""
    return [Variable(name=n, kind="categorical", question="", question_type="frame_attribute", labels={}, source="frame") for n in names]


def answer_frame(
    catalogue: Mapping[str, Variable],
    answers: list[Mapping[str, Any]],
    missing: list[Mapping[str, Any]],
    *,
    include_identifying: bool = False,
) -> pd.DataFrame:
    """One row per response, one column per variable (and ``<question>__missing`` reasons)."""
    raw = pd.DataFrame.from_records(answers) if answers else pd.DataFrame(index=range(0))
    raw = raw.reindex(range(len(answers)))
    columns: dict[str, pd.Series] = {}
    missing_questions: list[str] = []
    for v in catalogue.values():
        if v.identifying and not include_identifying:
            continue
        source = raw[v.question] if v.question in raw.columns else pd.Series([None] * len(answers), dtype=object)
        if v.kind == "binary":
            code = v.name[len(v.question) + 2:]
            columns[v.name] = source.map(
                lambda x, c=code: float(c in x) if isinstance(x, list) else float("nan"), na_action="ignore"
            ).astype(float)
        elif v.kind == "numeric":
            columns[v.name] = pd.to_numeric(source, errors="coerce").astype(float)
        else:
            columns[v.name] = source.map(lambda x: None if x is None else str(x), na_action="ignore").astype(object)
        if v.missing_codes and v.question not in missing_questions:
            missing_questions.append(v.question)
    frame = pd.DataFrame(columns, index=raw.index)
    if missing_questions:
        reasons = pd.DataFrame.from_records(missing).reindex(range(len(missing))) if missing else pd.DataFrame(index=range(0))
        for q in missing_questions:
            frame[f"{q}__missing"] = reasons[q].astype(object) if q in reasons.columns else pd.Series([None] * len(frame), dtype=object)
    return frame


SCORE_SUFFIX = "__score100"


SATISFIED_SUFFIX = "__satisfied"


SATISFIED, NOT_SATISFIED = "satisfied", "not satisfied"


def rating_scale(variable: Variable) -> tuple[float, float] | None:
    """(lowest, highest) code of a rating-scale item: a numeric ``select_one`` whose non-missing
    codes are the consecutive whole numbers lowest..highest (at least 3 points), else None."""
    if variable.kind != "numeric" or variable.question_type != "select_one":
        return None
    codes = sorted(float(v.code) for v in variable.value_labels if not v.missing)
    if len(codes) < 3 or any(not c.is_integer() for c in codes):
        return None
    if codes != [codes[0] + i for i in range(len(codes))]:
        return None
    return codes[0], codes[-1]


def with_rating_scales(frame: pd.DataFrame, catalogue: Mapping[str, Variable]) -> pd.DataFrame:
    """Add the 0-100 score and the satisfied/not satisfied category of every rating item.

    Score: ``(x - lowest) / (highest - lowest) * 100`` (``(x - 1) / 4 * 100`` on 1-5); satisfied:
    the top two points (4 or 5 on 1-5). Missing codes ("don't know") stay missing, never a midpoint.
    """
    extra: dict[str, pd.Series] = {}
    for v in catalogue.values():
        scale = rating_scale(v)
        if scale is None or v.name not in frame.columns:
            continue
        low, high = scale
        x = frame[v.name].astype(float)
        extra[v.name + SCORE_SUFFIX] = (x - low) / (high - low) * 100.0
        satisfied = pd.Series(pd.NA, index=frame.index, dtype=object)
        satisfied[x.notna()] = NOT_SATISFIED
        satisfied[x >= high - 1] = SATISFIED
        extra[v.name + SATISFIED_SUFFIX] = satisfied
    return pd.concat([frame, pd.DataFrame(extra, index=frame.index)], axis=1) if extra else frame


def version_codebook(definition: Mapping[str, Any]) -> dict[str, Any]:
    """The codebook of one questionnaire version: languages, variables, skip logic."""
    settings = definition.get("settings", {})
    pages = [
        {"name": p.get("name", ""), "label": dict(p.get("label", {})), "relevant": p.get("relevant") or "",
         "questions": [q["name"] for q in p.get("questions", [])]}
        for p in definition.get("pages", [])
    ]
    return {
        "languages": list(definition.get("languages", [])),
        "title": dict(settings.get("title", {})),
        "default_language": settings.get("default_language", ""),
        "pages": pages,
        "variables": [v.as_dict() for v in variables(definition)],
    }
