"""Demo data for the satisfaction evaluation: population table, quotas, county links, responses.

Synthetic respondents of the five demo counties answer the 16 indicators (and the overall
question) with county-level differences, person effects (so items correlate) and some "don't
know". The sample over-represents young urban people, as online opt-in samples do, so the
weighting has something to correct. Responses are bulk-inserted (one executemany), and an
estimation run is stored so that every report shows numbers.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from survey_app.core.errors import NotFound
from survey_app.core.models import utcnow
from survey_app.demo.services.demo_questionnaires import SATISFACTION
from survey_app.inspections.services import inspections
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import surveys
from survey_app.respond.models import QuotaCell, Response, ResponseStatus
from survey_app.respond.services import quotas
from survey_app.satisfaction.models import PopulationTable
from survey_app.satisfaction.services import satisfaction

ACTOR = "demo"


SEED = 20260901


COUNTIES = {"c01": 520_000, "c02": 310_000, "c03": 880_000, "c04": 260_000, "c05": 640_000}  # residents 15-65


LEVELS = {"c01": 0.35, "c02": 0.0, "c03": 0.25, "c04": -0.45, "c05": 0.1}  # county effect on the 1-5 scale


URBAN_SHARE = {"c01": 0.45, "c02": 0.35, "c03": 0.75, "c04": 0.3, "c05": 0.9}


AGE_SHARES = {"15_24": 0.18, "25_34": 0.22, "35_44": 0.22, "45_54": 0.21, "55_65": 0.17}


TARGETS = {c: (700 if total > 600_000 else 500) for c, total in COUNTIES.items()}  # completed responses


FILL = {"c01": 1.0, "c02": 0.93, "c03": 0.88, "c04": 0.97, "c05": 0.9}  # how far fieldwork got


ITEMS = [f"i{n:02d}" for n in range(1, 17)]


ITEM_LEVEL = np.linspace(0.3, -0.3, 16)  # some items are rated better than others everywhere


def population_table(rng: np.random.Generator) -> pd.DataFrame:
    """County x sex x age group x area counts."""
    rows = []
    for county, total in COUNTIES.items():
        for area, a_share in (("urban", URBAN_SHARE[county]), ("rural", 1 - URBAN_SHARE[county])):
            for age, g_share in AGE_SHARES.items():
                for sex, s_share in (("1", 0.51), ("2", 0.49)):
                    rows.append((county, sex, age, area, int(total * a_share * g_share * s_share * rng.uniform(0.9, 1.1))))
    return pd.DataFrame(rows, columns=[*satisfaction.DIMENSIONS, "count"])


def synthetic_answers(rng: np.random.Generator, per_cell: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
    """Respondents' answers per (county, area) (opt-in: younger and more often women than the population)."""
    county = np.repeat([c for c, _a in per_cell], list(per_cell.values()))
    area = np.repeat([a for _c, a in per_cell], list(per_cell.values()))
    n = county.size
    age = rng.choice(list(AGE_SHARES), n, p=[0.27, 0.28, 0.22, 0.15, 0.08])
    sex = rng.choice(["1", "2"], n, p=[0.42, 0.58])
    person = rng.normal(0, 0.7, n) + pd.Series(county).map(LEVELS).to_numpy() + np.where(area == "urban", 0.15, -0.1)
    latent = 3.6 + person[:, None] + ITEM_LEVEL[None, :] + rng.normal(0, 0.75, (n, 16))
    scores = np.clip(np.rint(latent), 1, 5).astype(int)
    dont_know = rng.random((n, 16)) < 0.06
    overall = np.clip(np.rint(3.6 + person + rng.normal(0, 0.5, n)), 1, 5).astype(int)
    relation = rng.choice(["parent", "student", "staff", "none"], n, p=[0.45, 0.15, 0.1, 0.3])
    out = []
    for r in range(n):
        answers: dict[str, Any] = {"county": county[r], "sex": sex[r], "age_group": age[r], "area": area[r],
                                   "relation": [relation[r]], "phone": None, "overall": str(overall[r])}
        for k, item in enumerate(ITEMS):
            answers[item] = None if dont_know[r, k] else str(scores[r, k])
        out.append(answers)
    return out


def load(session: Session, summary: Any) -> None:
    """Add the demo satisfaction data that is missing (the caller commits)."""
    try:
        project = surveys.get_project_by_code(session, SATISFACTION)
    except NotFound:
        return
    inspections.load_demo(session, summary)
    version = satisfaction.published_version(session, project) if satisfaction.questionnaires.current_published(session, project.id) else None
    if version is None:
        return
    rng = np.random.default_rng(SEED)
    if not session.scalars(select(PopulationTable.id).where(PopulationTable.project_id == project.id)).first():
        table = population_table(rng).to_csv(index=False).encode()
        satisfaction.upload_population(session, project, table, "demo-population.csv", name="演示人口表 Demo population 2025",
                                       actor_label=ACTOR)
        summary.created.append(f"population table {SATISFACTION}")
    if not session.scalars(select(QuotaCell.id).where(QuotaCell.project_id == project.id)).first():
        quotas.set_county_quotas(session, project, TARGETS, area_shares=_area_shares(), actor_label=ACTOR)
        summary.created.append(f"quotas {SATISFACTION}")
    if not satisfaction.county_links(session, project):
        satisfaction.create_county_links(session, project, actor_label=ACTOR)
        summary.created.append(f"county links {SATISFACTION}")
    existing = session.scalar(select(func.count()).select_from(Response).where(Response.project_id == project.id))
    if not existing:
        _bulk_responses(session, project, version.id, rng)
        summary.created.append(f"synthetic responses {SATISFACTION}")
    if not satisfaction.runs(session, project):
        config = satisfaction.default_index_config(session, project, actor_label=ACTOR)
        satisfaction.save_index_config(session, project, "专家权重 Expert weights", "\n".join(
            f"{item}={w}" for item, w in zip(ITEMS, [2, 2, 1.5, 1.5, 1, 1, 1, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5], strict=True)),
            note="Demo expert weights (Delphi round 2)", actor_label=ACTOR)
        population = satisfaction.population_tables(session, project)[0]
        satisfaction.run(session, project, population, config, actor_label=ACTOR)
        summary.created.append(f"estimation run {SATISFACTION}")


def _area_shares() -> dict[str, dict[str, float]]:
    return {c: {"urban": URBAN_SHARE[c], "rural": round(1 - URBAN_SHARE[c], 6)} for c in COUNTIES}


def _bulk_responses(session: Session, project: SurveyProject, version_id: int, rng: np.random.Generator) -> None:
    """About 2,700 completed responses in one INSERT ... executemany, counted against the quotas."""
    per_cell = {(c, area): int(TARGETS[c] * FILL[c] * (URBAN_SHARE[c] if area == "urban" else 1 - URBAN_SHARE[c]))
                for c in COUNTIES for area in ("urban", "rural")}
    answers = synthetic_answers(rng, per_cell)
    now = utcnow()
    rows = [{"project_id": project.id, "version_id": version_id, "status": ResponseStatus.COMPLETE, "answers": a,
             "missing": {i: "dk" for i in ITEMS if a[i] is None}, "page": 3, "furthest_page": 3, "language": "zh_CN",
             "device_class": "phone", "paradata": {"pages": {}, "visits": 4}, "ip_hash": "",
             "started_at": now - timedelta(minutes=6), "updated_at": now, "submitted_at": now} for a in answers]
    session.execute(insert(Response), rows)
    for cell in session.scalars(select(QuotaCell).where(QuotaCell.project_id == project.id)):
        got = sum(n for (county, area), n in per_cell.items() if county == cell.county and cell.area in ("", area))
        cell.filled = min(got, cell.target)
    session.flush()
