"""Quotas of completed responses per county and per cell, with race-free counters.

A quota cell names a county and optionally a sex, an age group and an urban/rural area
(``""`` matches any). A completed response counts against every cell it matches (e.g. the
county's 300 and the county's 180 urban). The count is taken when a response becomes complete,
inside the submitting transaction, by one conditional statement per cell::

    UPDATE quota_cells SET filled = filled + 1 WHERE id = :id AND filled < target

A row count of 0 means the cell is full: :class:`QuotaFull` is raised and the caller rolls
back, which also undoes the increments of the other cells. No lock is held across requests
(PostgreSQL re-checks the condition after a concurrent update commits; SQLite serialises
writers), so concurrent submissions never overfill a cell. Partial responses reserve nothing,
so an abandoned questionnaire needs no release. Cells are updated in id order so that two
transactions never wait on each other in opposite orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Select, delete, func, or_, select, update
from sqlalchemy.orm import Session

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.errors import AppError, ValidationFailed
from survey_app.projects.models import SurveyProject
from survey_app.respond.models import ANY, QuotaCell, Response, ResponseStatus

# Quota dimensions and the questionnaire answers they read (the template's question names).
DIMENSIONS = ("county", "sex", "age_group", "area")


class QuotaFull(AppError):
    status, code = 403, "quota_full"


def _value(answers: Mapping[str, Any], name: str) -> str:
    value = answers.get(name)
    return "" if value is None else str(value)


def matching_cells(session: Session, project_id: int, answers: Mapping[str, Any]) -> list[QuotaCell]:
    """The quota cells a response with these answers counts against (id order)."""
    county = _value(answers, "county")
    if not county:
        return []
    return list(session.scalars(_matching(project_id, answers)))


def _matching(project_id: int, answers: Mapping[str, Any]) -> Select[Any]:
    query = select(QuotaCell).where(QuotaCell.project_id == project_id, QuotaCell.county == _value(answers, "county"))
    for name in DIMENSIONS[1:]:
        column = getattr(QuotaCell, name)
        query = query.where(or_(column == ANY, column == _value(answers, name)))
    return query.order_by(QuotaCell.id)


def reserve(connection: Connection, project_id: int, answers: Mapping[str, Any]) -> list[int]:
    """Count a response becoming complete against its quota cells, or raise :class:`QuotaFull`.

    Returns the ids of the cells counted. Must run in the transaction that completes the
    response; on :class:`QuotaFull` the caller rolls back (undoing the other cells' counts).
    """
    cell_ids = (list(connection.execute(_matching(project_id, answers).with_only_columns(QuotaCell.id)).scalars())
                if _value(answers, "county") else [])
    if not reserve_ids(connection, cell_ids):
        raise QuotaFull("Thank you! We already have enough answers from people like you, so this survey is closed for you.")
    return cell_ids


def reserve_ids(connection: Connection | Session, cell_ids: Iterable[int]) -> bool:
    """One conditional increment per cell (id order); False when any is full (caller rolls back)."""
    for cell_id in sorted(cell_ids):
        result = connection.execute(
            update(QuotaCell).where(QuotaCell.id == cell_id, QuotaCell.filled < QuotaCell.target)
            .values(filled=QuotaCell.filled + 1).execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
    return True


def is_open(session: Session, project_id: int, answers: Mapping[str, Any]) -> bool:
    """Whether every quota cell these answers fall into still has room (a check, not a reservation)."""
    return all(cell.filled < cell.target for cell in matching_cells(session, project_id, answers))


def set_county_quotas(session: Session, project: SurveyProject, targets: Mapping[str, int], *,
                      area_shares: Mapping[str, Any] | None = None, actor: User | None = None,
                      actor_label: str | None = None) -> list[QuotaCell]:
    """Replace the project's quotas: ``targets`` per county and, optionally, per urban/rural area.

    ``area_shares`` is ``{area: share}`` for every county or ``{county: {area: share}}``. An
    area's target is its share of the county target, rounded half up, so that e.g. 300 with
    shares 0.6/0.4 gives 180 urban and 120 rural. Counters of cells that keep their definition
    are kept.
    """
    errors: dict[str, list[str]] = {}
    for county, target in targets.items():
        if not county or not isinstance(target, int) or target < 0:
            errors.setdefault("targets", []).append(f"{county!r}: a whole number of at least 0")
    given = dict(area_shares or {})
    per_county = given if given and all(isinstance(v, Mapping) for v in given.values()) else dict.fromkeys(targets, given)
    shares = {county: dict(per_county.get(county) or {}) for county in targets}
    for county, county_shares in shares.items():
        values = list(county_shares.values())
        if values and (any(not isinstance(v, int | float) or v < 0 for v in values) or abs(sum(values) - 1.0) > 1e-6):
            errors.setdefault("area_shares", []).append(f"{county}: shares must be non-negative and add up to 1")
    if errors:
        raise ValidationFailed("The quotas are not valid.", errors)
    wanted: dict[tuple[str, str], int] = {}
    for county, target in targets.items():
        wanted[(county, ANY)] = target
        for area, share in shares[county].items():
            wanted[(county, area)] = int(target * share + 0.5)
    existing = {(c.county, c.area): c for c in session.scalars(
        select(QuotaCell).where(QuotaCell.project_id == project.id, QuotaCell.sex == ANY, QuotaCell.age_group == ANY))}
    stale = [c.id for key, c in existing.items() if key not in wanted]
    if stale:
        session.execute(delete(QuotaCell).where(QuotaCell.id.in_(stale)))
    cells = []
    for (county, area), target in wanted.items():
        cell = existing.get((county, area))
        if cell is None:
            cell = QuotaCell(project_id=project.id, county=county, area=area, sex=ANY, age_group=ANY, target=target, filled=0)
            session.add(cell)
        else:
            cell.target = max(target, cell.filled)
        cells.append(cell)
    session.flush()
    audit.record(session, "quota.set", actor=actor, actor_label=actor_label, object_type="survey_project",
                 object_id=project.id, details={"targets": dict(targets), "area_shares": shares})
    return cells


@dataclass(frozen=True)
class QuotaRow:
    county: str
    area: str
    target: int
    filled: int
    completes: int | None  # stored complete responses of the county (county totals only)

    @property
    def share(self) -> float:
        return self.filled / self.target if self.target else 1.0

    @property
    def full(self) -> bool:
        return self.filled >= self.target


def fill_table(session: Session, project: SurveyProject) -> list[QuotaRow]:
    """Quota fill per cell with the completed responses actually stored (a consistency check)."""
    cells = session.scalars(select(QuotaCell).where(QuotaCell.project_id == project.id)
                            .order_by(QuotaCell.county, QuotaCell.area, QuotaCell.sex, QuotaCell.age_group)).all()
    completes: dict[str, int] = {}
    if cells:
        county = Response.answers["county"].as_string()
        rows = session.execute(select(county, func.count()).where(
            Response.project_id == project.id, Response.status == ResponseStatus.COMPLETE).group_by(county)).all()
        completes = {str(c): int(n) for c, n in rows}
    return [QuotaRow(c.county, c.area, c.target, c.filled, completes.get(c.county, 0) if c.area == ANY else None)
            for c in cells]


def parse_form(targets_text: str, urban_share_text: str) -> tuple[dict[str, int], dict[str, dict[str, float]]]:
    """Targets from lines ``county=target`` or ``county=target:urban_share``; ``urban_share_text`` is the default share."""
    errors: list[str] = []
    default: float | None = None
    if urban_share_text.strip():
        try:
            default = float(urban_share_text)
        except ValueError:
            errors.append(f"urban share {urban_share_text!r} is not a number")
    targets: dict[str, int] = {}
    shares: dict[str, dict[str, float]] = {}
    for number, line in enumerate(targets_text.splitlines(), start=1):
        if not line.strip():
            continue
        county, _, rest = line.partition("=")
        target_text, _, share_text = rest.partition(":")
        try:
            target = int(target_text.strip())
            share = float(share_text) if share_text.strip() else default
        except ValueError:
            errors.append(f"line {number}: write county=target or county=target:urban_share")
            continue
        if share is not None and not 0 <= share <= 1:
            errors.append(f"line {number}: the urban share must be between 0 and 1")
            continue
        targets[county.strip()] = target
        shares[county.strip()] = {"urban": share, "rural": round(1 - share, 10)} if share is not None else {}
    if not targets and not errors:
        errors.append("give at least one county=target line")
    if errors:
        raise ValidationFailed("The quotas are not valid.", {"targets": errors})
    return targets, shares


def targets_from_population(population: pd.DataFrame, *, base: int = 300, large: int = 400,
                            threshold: int = 500_000) -> tuple[dict[str, int], dict[str, dict[str, float]]]:
    """Quota targets from a population table: ``base`` per county, ``large`` where the county has at
    least ``threshold`` people; urban/rural shares as in the county's population.

    ``population`` has columns county, area and count (e.g. :func:`satisfaction.population_frame`).
    """
    if base < 0 or large < 0 or threshold < 0:
        raise ValidationFailed("The quota settings are not valid.", {"targets": ["numbers of at least 0"]})
    by_area = population.groupby(["county", "area"])["count"].sum().unstack(fill_value=0)
    totals = by_area.sum(axis=1)
    targets = {str(c): int(large if totals[c] >= threshold else base) for c in by_area.index}
    shares = {str(c): {str(a): round(float(by_area.loc[c, a] / totals[c]), 6) if totals[c] else 0.0 for a in by_area.columns}
              for c in by_area.index}
    for county_shares in shares.values():  # make the rounded shares add up to 1 exactly
        if county_shares:
            last = sorted(county_shares)[-1]
            county_shares[last] = round(1.0 - sum(v for a, v in county_shares.items() if a != last), 6)
    return targets, shares
