"""Who a triage is about: the signed-in patient, or a relative the story names ("my son is 6").

Pure: the relationship and age are read from normalised text (`dialogs.triage.normalise`),
the questions are phrased for the person concerned from `subject_questions.yaml`. The engine
decides whether a story is about someone else (`Context.about_someone_else`); this module
says who that is, so the dialog can ask "How old is your son?" once and address the parent
about the child.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import cast

import yaml

from dialogs.base import JSON, Language
from dialogs.triage.models import Sex


@dataclass(frozen=True)
class Relation:
    """A relationship the story can name, as HL7 v3 RoleCode and in words."""

    code: str  # http://terminology.hl7.org/CodeSystem/v3-RoleCode
    display: str
    en: str  # "your son"
    fr: str  # "votre fils"
    sex: Sex | None


def _rel(code: str, display: str, en: str, fr: str, sex: Sex | None) -> Relation:
    return Relation(code, display, en, fr, sex)


_F, _M = Sex.FEMALE, Sex.MALE
_SON = _rel("SON", "natural son", "your son", "votre fils", _M)
_DAUGHTER = _rel("DAU", "natural daughter", "your daughter", "votre fille", _F)
_CHILD = _rel("CHILD", "child", "your child", "votre enfant", None)
_HUSBAND = _rel("HUSB", "husband", "your husband", "votre mari", _M)
_WIFE = _rel("WIFE", "wife", "your wife", "votre femme", _F)
_PARTNER = _rel("SIGOTHR", "significant other", "your partner", "votre conjoint(e)", None)
_MOTHER = _rel("MTH", "mother", "your mother", "votre mère", _F)
_FATHER = _rel("FTH", "father", "your father", "votre père", _M)
_GRANDMOTHER = _rel("GRMTH", "grandmother", "your grandmother", "votre grand-mère", _F)
_GRANDFATHER = _rel("GRFTH", "grandfather", "your grandfather", "votre grand-père", _M)
_BROTHER = _rel("BRO", "brother", "your brother", "votre frère", _M)
_SISTER = _rel("SIS", "sister", "your sister", "votre sœur", _F)
_FRIEND = _rel("FRND", "unrelated friend", "your friend", "votre ami(e)", None)
_NEIGHBOUR = _rel("NBOR", "neighbor", "your neighbour", "votre voisin(e)", None)
SOMEONE = Relation(
    "FAMMEMB", "family member", "the person who is unwell", "la personne malade", None
)

# Nouns after "my / mon / ma / notre", normalised (no accents, lower case).
_NOUNS: dict[str, Relation] = {
    "son": _SON, "boy": _SON, "fils": _SON, "garcon": _SON,
    "daughter": _DAUGHTER, "girl": _DAUGHTER, "fille": _DAUGHTER,
    "child": _CHILD, "kid": _CHILD, "baby": _CHILD, "toddler": _CHILD, "infant": _CHILD,
    "newborn": _CHILD, "enfant": _CHILD, "bebe": _CHILD,
    "husband": _HUSBAND, "mari": _HUSBAND, "wife": _WIFE, "femme": _WIFE,
    "partner": _PARTNER, "boyfriend": _PARTNER, "girlfriend": _PARTNER, "conjoint": _PARTNER,
    "conjointe": _PARTNER, "compagnon": _PARTNER, "compagne": _PARTNER,
    "mother": _MOTHER, "mum": _MOTHER, "mom": _MOTHER, "mere": _MOTHER, "maman": _MOTHER,
    "father": _FATHER, "dad": _FATHER, "pere": _FATHER, "papa": _FATHER,
    "grandmother": _GRANDMOTHER, "gran": _GRANDMOTHER, "granny": _GRANDMOTHER,
    "grandma": _GRANDMOTHER, "grand mere": _GRANDMOTHER,
    "grandfather": _GRANDFATHER, "grandpa": _GRANDFATHER, "grandad": _GRANDFATHER,
    "grand pere": _GRANDFATHER,
    "brother": _BROTHER, "frere": _BROTHER, "sister": _SISTER, "soeur": _SISTER,
    "friend": _FRIEND, "ami": _FRIEND, "amie": _FRIEND,
    "neighbour": _NEIGHBOUR, "neighbor": _NEIGHBOUR, "voisin": _NEIGHBOUR, "voisine": _NEIGHBOUR,
}  # fmt: skip
_NOUN = "|".join(sorted(_NOUNS, key=len, reverse=True))
_AGE_WORD = r"(\d{1,3}(?:[.,]\d)?)"
_UNIT = r"(years?|yrs?|y|months?|mo|weeks?|ans?|mois|semaines?)"
_NAMED = re.compile(
    rf"\b(?:my|our|mon|ma|notre)\s+(?:(?:{_AGE_WORD}\s*{_UNIT}?[\s-]*old|little|baby|"
    rf"teenage|elderly|old|petit|petite|jeune|vieux|vieille)\s+)?({_NOUN})\b"
)
# "my son is 6", "my son, 6,", "my son (6 years)", "mon fils de 6 ans", "ma fille a 6 ans"
_AGE_AFTER = re.compile(
    rf"\s*(?:who is|is|s|aged|age|,|\(|de|qui a|a)?\s*(\d{{1,3}})(?![.,]?\d)\s*{_UNIT}?\b"
    r"(?!\s*(?:kg|lb|cm|%|°|c\b|deg|de fievre|de temperature|days?|jours?|hours?|heures?|h\b|"
    r"times|fois))"
)


@dataclass(frozen=True)
class Relative:
    """The person a story is about when it is not the writer: relationship, age, sex."""

    relation: Relation
    age_years: float | None = None

    @property
    def sex(self) -> Sex | None:
        """The sex the relationship implies, if any."""
        return self.relation.sex

    def words(self, language: Language) -> str:
        """How to name them to the writer: "your son", "votre fils"."""
        return self.relation.en if language == "en" else self.relation.fr

    def to_json(self) -> dict[str, JSON]:
        """For the dialog's persisted state."""
        return {"code": self.relation.code, "age": self.age_years}

    @classmethod
    def from_json(cls, raw: JSON) -> Relative | None:
        """Read back `to_json`; None for anything else."""
        if not isinstance(raw, dict) or not isinstance(raw.get("code"), str):
            return None
        relation = _BY_CODE.get(str(raw["code"]), SOMEONE)
        age = raw.get("age")
        return cls(relation, float(age) if isinstance(age, int | float) else None)


_BY_CODE = {r.code: r for r in (*_NOUNS.values(), SOMEONE)}


def _years(value: str, unit: str | None) -> float | None:
    number = float(value.replace(",", "."))
    unit = unit or "y"
    if unit.startswith(("mo", "mois")):
        number /= 12
    elif unit.startswith(("w", "sem")):
        number /= 52
    return round(number, 3) if 0 <= number <= 120 else None


def read_relative(text: str) -> Relative:
    """The relative normalised TEXT is about, with the age it states ("my 6 year old son",
    "my son is 6", "mon fils de 6 ans"); someone unnamed when no relationship is given."""
    m = _NAMED.search(text)
    if m is None:
        return Relative(SOMEONE)
    relation = _NOUNS[m.group(3)]
    if m.group(1):
        return Relative(relation, _years(m.group(1), m.group(2)))
    after = _AGE_AFTER.match(text, m.end())
    if after is not None:
        return Relative(relation, _years(after.group(1), after.group(2)))
    return Relative(relation)


@cache
def _questions() -> dict[str, dict[str, str]]:
    raw = yaml.safe_load(
        resources.files("dialogs").joinpath("subject_questions.yaml").read_text("utf-8")
    )
    return cast(dict[str, dict[str, str]], raw["questions"])


def question_symptoms() -> frozenset[str]:
    """Ids of the symptoms with a question phrased for someone else."""
    return frozenset(_questions())


def _fill(template: str, relative: Relative, language: Language) -> str:
    who = relative.words(language)
    sex = relative.sex
    if language == "en":
        their = {Sex.MALE: "his", Sex.FEMALE: "her"}.get(sex, "their") if sex else "their"
        them = {Sex.MALE: "him", Sex.FEMALE: "her"}.get(sex, "them") if sex else "them"
        words = {"who": who, "Who": who[0].upper() + who[1:], "their": their, "them": them}
    else:
        il = "il" if sex is not Sex.FEMALE else "elle"
        if sex is None and relative.relation is SOMEONE:
            il = "elle"  # « la personne » is feminine
        words = {"qui": who, "Qui": who[0].upper() + who[1:], "il": il}
    return template.format(**words)


def question_for(symptom: str, asked: str, relative: Relative | None, language: Language) -> str:
    """The question about SYMPTOM as put to the writer: ASKED (second person) for themselves,
    the phrasing for RELATIVE otherwise ("Does your son have a fever?")."""
    if relative is None:
        return asked
    template = _questions().get(symptom, {}).get(language)
    if template is None:
        lead = "About {who}: " if language == "en" else "Au sujet de {qui} : "
        return _fill(lead, relative, language) + asked
    return _fill(template, relative, language)


_TEXTS: dict[str, dict[Language, str]] = {
    "age_self": {"en": "How old are you?", "fr": "Quel âge avez-vous ?"},
    "age_other": {"en": "How old is {who}?", "fr": "Quel âge a {qui} ?"},
    "advice_for": {
        "en": "This advice is for {who}.",
        "fr": "Ce conseil concerne {qui}.",
    },
}


def subject_text(key: str, relative: Relative | None, language: Language) -> str:
    """One of the subject's sentences ("How old is your son?"), for RELATIVE or the writer."""
    if relative is None:
        return _TEXTS[key][language]
    return _fill(_TEXTS[key][language], relative, language)
