"""The graduate destination register: import (CSV/XLSX), destination changes and snapshots.

An import is validated as a whole, vectorised over the rows: every invalid row is reported with
its row number in the file (the header is row 1) and nothing is stored unless every row passes.
Valid rows are bulk-inserted; identifying fields are encrypted before they reach the database.
A graduate already in the cohort gets a :class:`DestinationChange` when the destination differs,
effective on the import's ``effective_on`` date, so older snapshots stay reproducible.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, func, insert, select, update
from sqlalchemy.orm import Session, contains_eager

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core import spreadsheets, table_upload
from survey_app.core.errors import NotFound, ValidationFailed
from survey_app.core.pagination import page_within
from survey_app.core.personal_data import cipher, id_numbers_valid, uscc_valid, usccs_valid
from survey_app.graduates.models import DegreeLevel, DestinationChange, Graduate, Institution, Sex
from survey_app.graduates.services.graduates_codes import ALL_CODES

#: Column -> accepted header spellings (English and Chinese).
COLUMNS: dict[str, tuple[str, ...]] = {
    "graduate_id": ("graduate_id", "毕业生编号", "学号"),
    "institution_code": ("institution_code", "院校代码"),
    "institution_name": ("institution_name", "院校名称"),
    "institution_type": ("institution_type", "院校类型"),
    "institution_province": ("institution_province", "院校所在省份"),
    "college": ("college", "学院"),
    "major": ("major", "专业"),
    "discipline": ("discipline", "学科门类"),
    "degree": ("degree", "学历层次"),
    "sex": ("sex", "性别"),
    "province": ("province", "生源地"),
    "destination_code": ("destination_code", "毕业去向代码"),
    "employer_name": ("employer_name", "单位名称"),
    "employer_uscc": ("employer_uscc", "统一社会信用代码"),
    "registered_on": ("registered_on", "登记日期"),
    "confirmed_on": ("confirmed_on", "核实日期"),
    "name": ("name", "姓名"),
    "id_number": ("id_number", "身份证号"),
    "phone": ("phone", "手机号"),
}


REQUIRED = ("graduate_id", "institution_code", "institution_name", "degree", "sex", "destination_code", "registered_on")


DEGREES = {
    "专科": DegreeLevel.JUNIOR_COLLEGE, "junior_college": DegreeLevel.JUNIOR_COLLEGE,
    "本科": DegreeLevel.BACHELOR, "bachelor": DegreeLevel.BACHELOR,
    "硕士": DegreeLevel.MASTER, "master": DegreeLevel.MASTER,
    "博士": DegreeLevel.DOCTOR, "doctor": DegreeLevel.DOCTOR,
}


SEXES = {"男": Sex.MALE, "male": Sex.MALE, "m": Sex.MALE, "女": Sex.FEMALE, "female": Sex.FEMALE, "f": Sex.FEMALE}


#: Destinations that name an employer.
NEEDS_EMPLOYER = ("10", "11", "12")


MAX_REPORTED_ERRORS = 500


#: Keys per IN (...) list (SQLite allows 32766 parameters, PostgreSQL 65535).
IN_CHUNK = 5000


@dataclass(frozen=True)
class ImportResult:
    cohort: int
    rows: int
    created: int
    updated: int
    unchanged: int
    institutions_created: int
    file_sha256: str


def read_csv_or_xlsx(data: bytes, filename: str) -> pd.DataFrame:
    """An uploaded CSV (UTF-8 or GB18030) or XLSX file as text columns; row 2 of the file is index 0."""
    try:
        if filename.lower().endswith((".xlsx", ".xlsm")):
            frame = spreadsheets.read_table(data)
        else:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = data.decode("gb18030")
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, KeyError) as exc:
        raise ValidationFailed(_("The file could not be read as CSV or XLSX."), {"file": [str(exc)]}) from exc
    table_upload.check_cells(frame)
    return frame


def read_table(data: bytes, filename: str) -> pd.DataFrame:
    """Read a register file and map its (English or Chinese) headers to :data:`COLUMNS`."""
    frame = read_csv_or_xlsx(data, filename)
    rename: dict[str, str] = {}
    for column in frame.columns:
        key = str(column).strip()
        for name, spellings in COLUMNS.items():
            if key in spellings or key.lower() == name:
                rename[column] = name
    frame = frame.rename(columns=rename)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValidationFailed(_("Required columns are missing."), {"columns": missing})
    for name in COLUMNS:
        if name not in frame.columns:
            frame[name] = ""
    frame = frame[list(COLUMNS)].astype(str).apply(lambda s: s.str.strip())
    frame.index = pd.RangeIndex(2, 2 + len(frame))  # file row numbers; the header is row 1
    return frame


def _dates(values: pd.Series) -> pd.Series:
    text = values.str.slice(0, 10)
    return pd.to_datetime(text.where(text != ""), format="%Y-%m-%d", errors="coerce")


def validate(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Normalise the rows and return them with every row-level error (row, column, message)."""
    out = frame.copy()
    code = out["destination_code"].str.replace(r"\.0$", "", regex=True).str.zfill(2)
    out["destination_code"] = code
    out["degree"] = out["degree"].str.lower().map(DEGREES)
    out["sex"] = out["sex"].str.lower().map(SEXES)
    out["employer_uscc"] = out["employer_uscc"].str.upper()
    out["id_number"] = out["id_number"].str.upper()
    out["registered_on"] = _dates(frame["registered_on"])
    out["confirmed_on"] = _dates(frame["confirmed_on"])
    uscc_ok = pd.Series((out["employer_uscc"] == "").to_numpy() | usccs_valid(out["employer_uscc"].to_numpy()), index=out.index)
    id_ok = pd.Series((out["id_number"] == "").to_numpy() | id_numbers_valid(out["id_number"].to_numpy()), index=out.index)
    phone_ok = (out["phone"] == "") | out["phone"].str.fullmatch(r"\+?[\d\- ]{6,20}")
    checks: list[tuple[str, pd.Series, Any]] = [
        ("graduate_id", frame["graduate_id"] == "", _l("is required")),
        ("graduate_id", frame["graduate_id"].str.len() > 64, _l("is longer than 64 characters")),
        ("graduate_id", frame["graduate_id"].duplicated(keep="first") & (frame["graduate_id"] != ""), _l("appears twice in the file")),
        ("institution_code", frame["institution_code"] == "", _l("is required")),
        ("institution_name", frame["institution_name"] == "", _l("is required")),
        ("degree", out["degree"].isna(), _l("must be 专科, 本科, 硕士 or 博士")),
        ("sex", out["sex"].isna(), _l("must be 男 or 女 (male or female)")),
        ("destination_code", ~code.isin(ALL_CODES), _l("is not a destination code")),
        ("employer_name", code.isin(NEEDS_EMPLOYER) & (frame["employer_name"] == ""), _l("is required for destinations 10, 11 and 12")),
        ("employer_uscc", ~uscc_ok, _l("is not a valid unified social credit code (GB 32100-2015 check character)")),
        ("registered_on", out["registered_on"].isna(), _l("must be a date YYYY-MM-DD")),
        ("confirmed_on", out["confirmed_on"].isna() & (frame["confirmed_on"] != ""), _l("must be a date YYYY-MM-DD")),
        ("confirmed_on", out["confirmed_on"] < out["registered_on"], _l("is before the registration date")),
        ("id_number", ~id_ok, _l("is not a valid resident ID number (GB 11643 check digit)")),
        ("phone", ~phone_ok, _l("is not a valid phone number")),
    ]
    errors: list[dict[str, Any]] = []
    for column, bad, message in checks:
        for row in out.index[bad.to_numpy(dtype=bool)]:
            errors.append({"row": int(row), "column": column, "message": str(message)})
    errors.sort(key=lambda e: (e["row"], list(COLUMNS).index(e["column"])))
    return out, errors


def _institutions(session: Session, rows: pd.DataFrame) -> tuple[dict[str, int], int]:
    firsts = rows.drop_duplicates("institution_code")
    existing = {
        i.code: i for i in session.scalars(select(Institution).where(Institution.code.in_(firsts["institution_code"].tolist())))
    }
    created = 0
    for rec in firsts.itertuples(index=False):  # one row per institution, not per graduate
        inst = existing.get(rec.institution_code)
        if inst is None:
            inst = Institution(code=rec.institution_code, name=rec.institution_name, kind=rec.institution_type, province=rec.institution_province)
            session.add(inst)
            existing[rec.institution_code] = inst
            created += 1
        else:
            if rec.institution_type and not inst.kind:
                inst.kind = rec.institution_type
            if rec.institution_province and not inst.province:
                inst.province = rec.institution_province
    session.flush()
    return {code: inst.id for code, inst in existing.items()}, created


def frame_of(session: Session, stmt: Any, columns: list[str]) -> pd.DataFrame:
    """Run a Core select in the session's transaction and return its rows as a DataFrame (fast path)."""
    rows = session.connection().execute(stmt).fetchall()
    return pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)


def _none_if_nat(values: pd.Series) -> list[date | None]:
    return [None if pd.isna(v) else v.date() for v in values]


def import_graduates(
    session: Session,
    data: bytes,
    filename: str,
    *,
    cohort: int,
    effective_on: date | None = None,
    actor: User | None = None,
) -> ImportResult:
    """Validate and store a register file for ``cohort``; raise with every row error otherwise."""
    frame = read_table(data, filename)
    if frame.empty:
        raise ValidationFailed(_("The file has no rows."), {"file": [_("no rows")]})
    rows, errors = validate(frame)
    if errors:
        raise ValidationFailed(
            _("%(count)d errors in %(rows)d rows; nothing was stored.", count=len(errors), rows=len({e["row"] for e in errors})),
            {"rows": errors[:MAX_REPORTED_ERRORS]},
        )
    inst_ids, inst_created = _institutions(session, rows)
    rows["institution_id"] = rows["institution_code"].map(inst_ids)
    keys = rows["graduate_id"].tolist()
    existing = pd.concat([frame_of(session, select(Graduate.id, Graduate.graduate_key, Graduate.destination_code, Graduate.employer_name,
                                                   Graduate.employer_uscc).where(Graduate.cohort == cohort, Graduate.graduate_key.in_(keys[i:i + IN_CHUNK])),
                                   ["id", "graduate_id", "old_code", "old_employer", "old_uscc"]) for i in range(0, len(keys), IN_CHUNK)])
    rows = rows.merge(existing, on="graduate_id", how="left").set_axis(rows.index)
    new = rows[rows["id"].isna()]
    old = rows[rows["id"].notna()]
    box = cipher()
    created = _insert_new(session, new, cohort, box)
    changed = old[(old["destination_code"] != old["old_code"]) | (old["employer_name"] != old["old_employer"]) | (old["employer_uscc"] != old["old_uscc"])]
    when = effective_on or date.today()
    if len(changed):
        session.execute(
            update(Graduate),
            [
                {"id": int(r.id), "destination_code": r.destination_code, "employer_name": r.employer_name, "employer_uscc": r.employer_uscc,
                 "confirmed_on": None if pd.isna(r.confirmed_on) else r.confirmed_on.date()}
                for r in changed.itertuples()
            ],
        )
        session.execute(
            insert(DestinationChange),
            [
                {"graduate_id": int(r.id), "effective_on": when, "destination_code": r.destination_code, "employer_name": r.employer_name,
                 "employer_uscc": r.employer_uscc, "source": "import"}
                for r in changed.itertuples()
            ],
        )
    sha = hashlib.sha256(data).hexdigest()
    result = ImportResult(cohort=cohort, rows=len(rows), created=created, updated=len(changed), unchanged=len(old) - len(changed),
                          institutions_created=inst_created, file_sha256=sha)
    audit.record(session, "graduates.import", actor=actor, object_type="graduate_cohort", object_id=cohort,
                 details={"filename": filename, "sha256": sha, "rows": len(rows), "created": created, "updated": len(changed),
                          "effective_on": when})
    return result


def _insert_new(session: Session, new: pd.DataFrame, cohort: int, box: Any) -> int:
    if new.empty:
        return 0
    registered = _none_if_nat(new["registered_on"])
    new = new.astype(object)  # plain Python values: iterating Arrow-backed strings row by row is slow
    records = [
        {
            "cohort": cohort, "graduate_key": r.graduate_id, "institution_id": int(r.institution_id), "college": r.college,
            "major": r.major, "discipline": r.discipline, "degree": r.degree, "sex": r.sex, "province": r.province,
            "destination_code": r.destination_code, "employer_name": r.employer_name, "employer_uscc": r.employer_uscc,
            "registered_on": reg, "confirmed_on": conf, "name_enc": box.encrypt(r.name),
            "id_number_enc": box.encrypt(r.id_number), "phone_enc": box.encrypt(r.phone),
        }
        for r, reg, conf in zip(new.itertuples(), registered, _none_if_nat(new["confirmed_on"]), strict=True)
    ]
    connection = session.connection()  # Core executemany: no ORM bookkeeping for tens of thousands of rows
    before = session.scalar(select(func.max(Graduate.id))) or 0
    connection.execute(insert(Graduate.__table__), records)
    keys = frame_of(session, select(Graduate.graduate_key, Graduate.id).where(Graduate.cohort == cohort, Graduate.id > before), ["key", "id"])
    ids = new["graduate_id"].map(pd.Series(keys["id"].to_numpy(), index=keys["key"].to_numpy())).astype(int).tolist()
    connection.execute(
        insert(DestinationChange.__table__),
        [
            {"graduate_id": gid, "effective_on": rec["registered_on"], "destination_code": rec["destination_code"],
             "employer_name": rec["employer_name"], "employer_uscc": rec["employer_uscc"], "source": "import"}
            for gid, rec in zip(ids, records, strict=True)
        ],
    )
    return len(records)


def change_destination(
    session: Session,
    graduate: Graduate,
    *,
    code: str,
    effective_on: date,
    employer_name: str = "",
    employer_uscc: str = "",
    source: str = "manual",
    actor: User | None = None,
) -> DestinationChange:
    """Record a new destination effective on ``effective_on`` (the current one if it is the latest)."""
    errors: dict[str, list[str]] = {}
    if code not in ALL_CODES:
        errors["destination_code"] = [_("is not a destination code")]
    if employer_uscc and not uscc_valid(employer_uscc):
        errors["employer_uscc"] = [_("is not a valid unified social credit code (GB 32100-2015 check character)")]
    if errors:
        raise ValidationFailed(_("The destination change is not valid."), errors)
    before = {"destination_code": graduate.destination_code, "employer_name": graduate.employer_name}
    change = DestinationChange(graduate_id=graduate.id, effective_on=effective_on, destination_code=code,
                               employer_name=employer_name, employer_uscc=employer_uscc, source=source)
    session.add(change)
    latest = session.scalar(select(DestinationChange.effective_on).where(DestinationChange.graduate_id == graduate.id)
                            .order_by(DestinationChange.effective_on.desc()).limit(1))
    if latest is None or effective_on >= latest:
        graduate.destination_code, graduate.employer_name, graduate.employer_uscc = code, employer_name, employer_uscc
    session.flush()
    audit.record(session, "graduates.destination_change", actor=actor, object_type="graduate", object_id=graduate.id,
                 before=before, after={"destination_code": code, "employer_name": employer_name, "effective_on": effective_on, "source": source})
    return change


def get_graduate(session: Session, graduate_id: int) -> Graduate:
    graduate = session.get(Graduate, graduate_id)
    if graduate is None:
        raise NotFound(_("No such graduate."))
    return graduate


def cohorts(session: Session) -> list[int]:
    return [int(c) for c in session.scalars(select(Graduate.cohort).distinct().order_by(Graduate.cohort.desc()))]


def snapshot(session: Session, cohort: int, on: date | None = None) -> pd.DataFrame:
    """The register of ``cohort`` as it stood on ``on`` (default: now), one row per graduate.

    Columns: ``graduate_id, graduate_key, institution, institution_name, institution_type,
    institution_province, college, major, discipline, degree, sex, province, destination_code``
    (``""`` when no destination was effective yet). Built with two queries and a vectorised
    "last change on or before the date" per graduate.
    """
    stmt = (
        select(Graduate.id, Graduate.graduate_key, Institution.code, Institution.name, Institution.kind, Institution.province,
               Graduate.college, Graduate.major, Graduate.discipline, cast(Graduate.degree, String), cast(Graduate.sex, String),
               Graduate.province,
               Graduate.destination_code)
        .join(Institution, Institution.id == Graduate.institution_id)
        .where(Graduate.cohort == cohort)
        .order_by(Graduate.id)
    )
    columns = ["graduate_id", "graduate_key", "institution", "institution_name", "institution_type", "institution_province",
               "college", "major", "discipline", "degree", "sex", "province", "destination_code"]
    frame = frame_of(session, stmt, columns)
    if on is None or frame.empty:
        return frame
    changes = frame_of(
        session,
        select(DestinationChange.graduate_id, DestinationChange.effective_on, DestinationChange.id, DestinationChange.destination_code)
        .join(Graduate, Graduate.id == DestinationChange.graduate_id)
        .where(Graduate.cohort == cohort, DestinationChange.effective_on <= on),
        ["graduate_id", "effective_on", "change_id", "code"],
    )
    last = changes.sort_values(["graduate_id", "effective_on", "change_id"]).drop_duplicates("graduate_id", keep="last")
    code = pd.Series(last["code"].to_numpy(), index=last["graduate_id"].to_numpy())
    mapped = frame["graduate_id"].map(code).astype(object)
    frame["destination_code"] = np.where(mapped.isna(), "", mapped)
    return frame


def institutions(session: Session, cohort: int | None = None) -> list[Institution]:
    stmt = select(Institution).order_by(Institution.code)
    if cohort is not None:
        stmt = stmt.where(Institution.id.in_(select(Graduate.institution_id).where(Graduate.cohort == cohort)))
    return list(session.scalars(stmt))


def graduate_page(session: Session, cohort: int, *, institution: str | None = None, page: int = 1,
                  per_page: int = 50) -> tuple[list[Graduate], int, int]:
    """One page of the register: its rows, the number of graduates and the page shown (clamped)."""
    stmt = select(Graduate).join(Institution).where(Graduate.cohort == cohort)
    if institution:
        stmt = stmt.where(Institution.code == institution)
    total = int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    page = page_within(page, total, per_page)
    rows = list(session.scalars(stmt.options(contains_eager(Graduate.institution)).order_by(Graduate.id)
                                .offset((page - 1) * per_page).limit(per_page)))
    return rows, total, page


def history(session: Session, graduate: Graduate) -> list[DestinationChange]:
    """The destination changes of a graduate, oldest first."""
    return list(session.scalars(select(DestinationChange).where(DestinationChange.graduate_id == graduate.id)
                                .order_by(DestinationChange.effective_on, DestinationChange.id)))
