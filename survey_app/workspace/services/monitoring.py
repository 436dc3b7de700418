"""Fieldwork monitoring: outcomes by stratum, progress over time, completion times, quality flags.

Outcome of a sampled unit (the most advanced evidence wins): ``completed`` (a complete response or
a submitted invitation), ``partial`` (a partial response or a started invitation), ``refused``,
``not_reached``, else ``not_started``. The response rate is completed / sampled (AAPOR RR1 with
every sampled unit eligible). Charts are SVG drawn by matplotlib.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.core import charts
from survey_app.fieldwork.models import Invitation, InvitationStatus, SampleDraw, SampleUnit
from survey_app.projects.models import SurveyProject
from survey_app.questionnaires.models import QuestionnaireVersion
from survey_app.respond.models import Response, ResponseStatus

OUTCOMES = ("completed", "partial", "refused", "not_reached", "not_started")


SPEEDER_RATIO = 0.4  # faster than 40% of the median completion time


MIN_FOR_SPEEDERS = 5


MIN_MATRIX_ITEMS = 3


MIN_DUPLICATE_ANSWERS = 3


def _outcome(invitation: InvitationStatus | None, response: ResponseStatus | None) -> str:
    if response == ResponseStatus.COMPLETE or invitation == InvitationStatus.SUBMITTED:
        return "completed"
    if response == ResponseStatus.PARTIAL or invitation == InvitationStatus.STARTED:
        return "partial"
    if invitation == InvitationStatus.REFUSED:
        return "refused"
    if invitation == InvitationStatus.NOT_REACHED:
        return "not_reached"
    return "not_started"


def outcomes_by_stratum(session: Session, project: SurveyProject) -> pd.DataFrame:
    """One row per stratum: sampled, each outcome, and the response rate."""
    query = (
        select(SampleUnit.stratum, Invitation.status, Response.status, func.count(SampleUnit.id))
        .join(SampleDraw, SampleDraw.id == SampleUnit.draw_id)
        .outerjoin(Invitation, Invitation.sample_unit_id == SampleUnit.id)
        .outerjoin(Response, Response.sample_unit_id == SampleUnit.id)
        .where(SampleDraw.project_id == project.id)
        .group_by(SampleUnit.stratum, Invitation.status, Response.status)
    )
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for stratum, invitation, response, n in session.execute(query):
        counts[stratum or ""][_outcome(invitation, response)] += int(n)
    table = pd.DataFrame([{"stratum": s, **{o: c.get(o, 0) for o in OUTCOMES}} for s, c in sorted(counts.items())], columns=["stratum", *OUTCOMES])
    return _rates(table)


def _rates(table: pd.DataFrame) -> pd.DataFrame:
    table["sampled"] = table[list(OUTCOMES)].sum(axis=1)
    table["response_rate"] = table["completed"] / table["sampled"].where(table["sampled"] > 0)
    return table


def daily_completes(session: Session, project: SurveyProject) -> pd.DataFrame:
    """Completed responses per day and cumulatively (``day``, ``completed``, ``cumulative``)."""
    moments = session.scalars(select(Response.submitted_at).where(Response.project_id == project.id, Response.status == ResponseStatus.COMPLETE, Response.submitted_at.is_not(None)))
    days = Counter(moment.date() for moment in moments if moment is not None)
    table = pd.DataFrame(sorted(days.items()), columns=["day", "completed"])
    table["cumulative"] = table["completed"].cumsum()
    return table


def duration_seconds(response: Response) -> float | None:
    """Time spent answering: the page timings of the paradata, else submission minus start."""
    pages = (response.paradata or {}).get("pages") or {}
    timed = sum(float(v) for v in pages.values() if isinstance(v, int | float))
    if timed > 0:
        return timed
    if response.submitted_at is None or response.started_at is None:
        return None
    return max((response.submitted_at - response.started_at).total_seconds(), 0.0)


def _matrices(definition: dict[str, Any]) -> list[list[str]]:
    """Question names of matrix pages: table-list/field-list groups of select_one items on one list."""
    found = []
    for page in definition.get("pages", []):
        questions = [q for q in page.get("questions", []) if q.get("type") not in ("note", "calculate")]
        lists = {q.get("list") for q in questions}
        if (
            (page.get("appearance") or "").strip().lower() in ("table-list", "field-list")
            and len(questions) >= MIN_MATRIX_ITEMS
            and all(q.get("type") == "select_one" for q in questions)
            and len(lists) == 1
        ):
            found.append([q["name"] for q in questions])
    return found


@dataclass
class Quality:
    completed: int = 0
    median_seconds: float | None = None
    flags: dict[int, list[str]] = field(default_factory=dict)

    def add(self, response_id: int, reason: str) -> None:
        self.flags.setdefault(response_id, []).append(reason)

    def count(self, reason: str) -> int:
        return sum(1 for reasons in self.flags.values() if reason in reasons)


def quality(session: Session, project: SurveyProject) -> Quality:
    """Median completion time and flags: ``speeder``, ``straightlining``, ``duplicate``."""
    responses = list(session.scalars(select(Response).where(Response.project_id == project.id, Response.status == ResponseStatus.COMPLETE).order_by(Response.id)))
    result = Quality(completed=len(responses))
    durations = {r.id: d for r in responses if (d := duration_seconds(r)) is not None}
    if durations:
        result.median_seconds = float(statistics.median(durations.values()))
    if len(durations) >= MIN_FOR_SPEEDERS and result.median_seconds:
        for response_id, seconds in durations.items():
            if seconds < SPEEDER_RATIO * result.median_seconds:
                result.add(response_id, "speeder")
    versions = {v.id: v for v in session.scalars(select(QuestionnaireVersion).where(QuestionnaireVersion.id.in_({r.version_id for r in responses})))}
    matrices = {vid: _matrices(v.definition or {}) for vid, v in versions.items()}
    seen: dict[str, int] = {}
    for response in responses:
        answers = response.answers or {}
        for names in matrices.get(response.version_id, []):
            values = [answers.get(n) for n in names]
            if all(v is not None for v in values) and len(set(map(str, values))) == 1:
                result.add(response.id, "straightlining")
                break
        given = {k: v for k, v in answers.items() if v not in (None, "", [])}
        if len(given) >= MIN_DUPLICATE_ANSWERS:
            key = hashlib.sha256(json.dumps(given, sort_keys=True, default=str).encode()).hexdigest()
            if key in seen:
                result.add(response.id, "duplicate")
                if "duplicate" not in result.flags.get(seen[key], []):
                    result.add(seen[key], "duplicate")
            else:
                seen[key] = response.id
    return result


OUTCOME_COLOURS = {"completed": "#1e6b30", "partial": "#8fbf5a", "refused": "#b00020", "not_reached": "#e0a100", "not_started": "#c8ced6"}


def outcomes_chart(table: pd.DataFrame, labels: dict[str, str], title: str) -> bytes:
    """Stacked horizontal bars of the outcome shares per stratum (SVG)."""
    with charts.chart_style():
        return _outcomes_chart(table, labels, title)


def _outcomes_chart(table: pd.DataFrame, labels: dict[str, str], title: str) -> bytes:
    rows = table
    figure = charts.figure(8, 0.45 * max(len(rows), 1) + 1.6)
    axes = figure.subplots()
    left = pd.Series(0.0, index=rows.index)
    sampled = rows["sampled"].where(rows["sampled"] > 0, 1)
    for outcome in OUTCOMES:
        share = rows[outcome] / sampled * 100
        axes.barh(rows["stratum"].replace("", "—"), share, left=left, color=OUTCOME_COLOURS[outcome], label=labels.get(outcome, outcome))
        left = left + share
    axes.set_xlim(0, 100)
    axes.set_xlabel("%")
    axes.invert_yaxis()
    axes.set_title(title, pad=26)
    axes.legend(ncols=len(OUTCOMES), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize="small")
    return charts.svg(figure)


def progress_chart(table: pd.DataFrame, sampled: int, title: str, ylabel: str) -> bytes:
    """Cumulative completed responses by day, with the sample size as a reference line (SVG)."""
    with charts.chart_style():
        return _progress_chart(table, sampled, title, ylabel)


def _progress_chart(table: pd.DataFrame, sampled: int, title: str, ylabel: str) -> bytes:
    figure = charts.figure(8, 3.2)
    axes = figure.subplots()
    if len(table):
        days = pd.to_datetime(table["day"])
        axes.step(days, table["cumulative"], where="post", color="#0b5cad")
        axes.plot(days, table["cumulative"], "o", color="#0b5cad", markersize=3)
        axes.set_xlim(days.min() - pd.Timedelta(days=1), days.max() + pd.Timedelta(days=1))
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator = AutoDateLocator(maxticks=8)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if sampled:
        axes.axhline(sampled, color="#4a5561", linestyle="--", linewidth=1)
    axes.set_ylim(bottom=0)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    return charts.svg(figure)


def summary(session: Session, project: SurveyProject, today: date | None = None) -> dict[str, Any]:
    """Everything the monitoring page shows."""
    table = outcomes_by_stratum(session, project)
    total: dict[str, Any] = {o: int(table[o].sum()) for o in OUTCOMES}
    sampled = sum(total.values())
    total.update(sampled=sampled, response_rate=total["completed"] / sampled if sampled else None)
    return {
        "table": table,
        "total": total,
        "daily": daily_completes(session, project),
        "quality": quality(session, project),
        "sampled": sampled,
        "completed": total["completed"],
        "response_rate": total["response_rate"],
    }
