"""Graduate destination codes (毕业去向代码) and configurable roll-ups of codes into rate groups.

The fine code is what the register stores; every report rolls codes up with a :class:`RollUp`.
The default, :data:`STANDARD`, follows the national definition: placement rate (毕业去向落实率)
``= 1 - (70 + 71 + 72) / total``; sub-rates use the same denominator (all graduates).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from survey_app.core.errors import ValidationFailed

EMPLOYED = ("10", "11", "12", "27", "46", "50", "51", "75", "76")


FURTHER_STUDY = ("80", "85")


NOT_PLACED = ("70", "71", "72")


LEGACY = ("77", "99")


CURRENT_CODES = EMPLOYED + FURTHER_STUDY + NOT_PLACED


ALL_CODES = CURRENT_CODES + LEGACY


CODE_LABELS = {
    "10": _l("Signed employment agreement"),
    "11": _l("Labour contract"),
    "12": _l("Other hiring forms"),
    "27": _l("Research assistant"),
    "46": _l("Conscripted soldier"),
    "50": _l("National grassroots programme"),
    "51": _l("Local grassroots programme"),
    "75": _l("Self-employed / entrepreneur"),
    "76": _l("Freelance"),
    "77": _l("Other flexible employment (legacy)"),
    "80": _l("Domestic further study"),
    "85": _l("Study abroad"),
    "70": _l("Seeking work"),
    "71": _l("Preparing for further study"),
    "72": _l("Other not working"),
    "99": _l("Other (legacy)"),
}


#: Codes that callers (employers, graduates) confirm as employment with an employer.
EMPLOYER_CODES = ("10", "11", "12", "27")


#: Categories prone to inflation, oversampled in verification samples.
INFLATION_PRONE = ("12", "75", "76", "77")


@dataclass(frozen=True)
class RollUp:
    """Named groups of destination codes; ``not_placed`` defines the placement rate.

    A group may overlap others (e.g. ``employed`` and ``flexible``); each gives one rate with
    the register total as denominator. Graduates without any destination effective on the
    snapshot date count as not placed (they have no destination yet).
    """

    groups: Mapping[str, tuple[str, ...]]
    not_placed: tuple[str, ...] = NOT_PLACED
    name: str = "standard"
    extra: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "groups": {k: list(v) for k, v in self.groups.items()}, "not_placed": list(self.not_placed)}


STANDARD = RollUp(
    name="standard",
    groups={
        "agreement_contract": ("10", "11"),
        "other_hiring": ("12",),
        "employed": EMPLOYED + ("77",),
        "flexible": ("75", "76", "77"),
        "grassroots": ("46", "50", "51"),
        "further_study": FURTHER_STUDY,
        "seeking_work": ("70",),
        "not_placed": NOT_PLACED,
        "other_legacy": ("99",),
    },
)


GROUP_LABELS = {
    "agreement_contract": _l("Agreement and contract rate"),
    "other_hiring": _l("Other hiring forms rate"),
    "employed": _l("Employment rate"),
    "flexible": _l("Flexible employment rate"),
    "grassroots": _l("Grassroots and military rate"),
    "further_study": _l("Further-study rate"),
    "seeking_work": _l("Seeking-work rate"),
    "not_placed": _l("Not placed rate"),
    "other_legacy": _l("Other (legacy 99) rate"),
}


#: Verification strata: destination groups (institution x group), inflation-prone ones apart.
VERIFICATION_GROUPS: dict[str, tuple[str, ...]] = {
    "agreement_contract": ("10", "11"),
    "other_hiring": ("12",),
    "self_freelance": ("75", "76"),
    "flexible_legacy": ("77",),
    "other_employed": ("27", "46", "50", "51"),
    "further_study": FURTHER_STUDY,
    "not_placed": NOT_PLACED,
    "other_legacy": ("99",),
}


VERIFICATION_PRONE_GROUPS = ("other_hiring", "self_freelance", "flexible_legacy")


def code_to_group(groups: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Map each code to its (first) group, for partitions such as :data:`VERIFICATION_GROUPS`."""
    out: dict[str, str] = {}
    for name, codes in groups.items():
        for code in codes:
            out.setdefault(code, name)
    return out


def parse_rollup(spec: str | None) -> RollUp:
    """A roll-up from ``"name:10,11;name2:80,85"`` (and optional ``not_placed:70,71,72``).

    Empty or ``"standard"`` gives :data:`STANDARD`. Unknown codes are rejected.
    """
    if spec is None or not spec.strip() or spec.strip() == "standard":
        return STANDARD
    groups: dict[str, tuple[str, ...]] = {}
    not_placed = NOT_PLACED
    errors: dict[str, list[str]] = {}
    for part in spec.split(";"):
        if not part.strip():
            continue
        name, sep, codes_text = part.partition(":")
        name = name.strip()
        codes = tuple(c.strip() for c in codes_text.split(",") if c.strip())
        if not sep or not name or not codes:
            errors.setdefault("groups", []).append(f"'{part.strip()}' is not name:code,code")
            continue
        unknown = [c for c in codes if c not in ALL_CODES]
        if unknown:
            errors.setdefault("groups", []).append(f"unknown destination codes {unknown} in group '{name}'")
            continue
        if name == "not_placed":
            not_placed = codes
        groups[name] = codes
    if errors:
        raise ValidationFailed("The code roll-up is not valid.", errors)
    if "not_placed" not in groups:
        groups["not_placed"] = not_placed
    return RollUp(groups=groups, not_placed=not_placed, name="custom")
