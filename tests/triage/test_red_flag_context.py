"""Every red-flag rule fires on its own words and stays quiet when the words are negated,
past, hypothetical or about someone else, in English and in French (issue 12)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import pytest
import yaml

from dialogs.base import Language
from dialogs.triage import Patient, Sex, assess
from dialogs.triage.knowledge_base import Knowledge, Rule, load_knowledge

KB = load_knowledge()
_AGES = {"age.neonate": 0.05, "age.infant": 0.5, "age.child": 6.0, "age.older": 75.0}


def _surface(phrase: str) -> str:
    """A text a lexicon phrase matches: its words without the gap marks and stem stars."""
    return " ".join(w.rstrip("*") for w in phrase.split() if w not in ("~", "~~"))


def _words_for(sid: str, language: Language, kb: Knowledge) -> str | None:
    """The first phrase of SID (in LANGUAGE) that, alone, is read as SID present."""
    for phrase in _RAW[sid].get(language, ()):
        text = _surface(str(phrase))
        if text and sid in assess(text, language=language, knowledge=kb).present_ids:
            return text
    return None


@dataclass(frozen=True)
class Case:
    rule: Rule
    language: Language
    findings: tuple[str, ...]  # surface words, one per finding the rule needs
    patient: Patient

    def __str__(self) -> str:
        return f"{self.rule.id}-{self.language}"


def _patient(rule: Rule) -> Patient:
    ids = rule.all
    age = next((a for i, a in _AGES.items() if i in ids), None)
    if age is None:
        age = rule.age_min if rule.age_min is not None else 40.0
        if rule.age_max is not None and age > rule.age_max:
            age = rule.age_max
    sex = Sex.FEMALE if "sex.female" in ids or "pregnant" in ids else None
    sex = Sex.MALE if "sex.male" in ids else sex
    return Patient(age_years=age, sex=sex)


def _cases() -> list[Case]:
    cases: list[Case] = []
    for rule in KB.rules:
        if not rule.red_flag:
            continue
        needed = sorted(i for i in rule.all if i in KB.symptoms)
        if any(
            i not in KB.symptoms and i not in _AGES and not i.startswith("sex.") for i in rule.all
        ):
            continue  # a vital sign or NEWS2 band: not words
        if rule.any and not any(i in KB.symptoms for i in rule.any):
            continue
        for language in ("en", "fr"):
            chosen = list(needed)
            if rule.any:
                option = next(
                    (
                        i
                        for i in sorted(rule.any)
                        if i in KB.symptoms and _words_for(i, language, KB)
                    ),
                    None,
                )
                if option is None:
                    continue
                chosen.append(option)
            words = [_words_for(sid, language, KB) for sid in chosen]
            if any(w is None for w in words) or not chosen:
                continue
            cases.append(Case(rule, language, tuple(w for w in words if w), _patient(rule)))
    return cases


# Phrases as written in symptoms.yaml, by finding, to render one as words.
_RAW: dict[str, dict[str, list[str]]] = yaml.safe_load(
    resources.files("dialogs.triage.knowledge").joinpath("symptoms.yaml").read_text("utf-8")
)["symptoms"]
CASES = _cases()

WRAPPERS: dict[str, dict[Language, str]] = {
    "negated": {"en": "No {x}.", "fr": "Pas de {x}."},
    "past": {"en": "History of {x}.", "fr": "Antécédents de {x}."},
    "hypothetical": {"en": "Return if {x}.", "fr": "Reconsulter en cas de {x}."},
    "someone_else": {"en": "Family history of {x}.", "fr": "Antécédents familiaux de {x}."},
}


def _fired(text: str, case: Case) -> set[str]:
    result = assess(text, language=case.language, patient=case.patient, knowledge=KB)
    return {r.rule for r in result.reasons}


def test_most_red_flag_rules_are_covered() -> None:
    red = {r.id for r in KB.rules if r.red_flag}
    covered = {c.rule.id for c in CASES}
    assert len(covered) >= 0.7 * len(red), sorted(red - covered)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_rule_fires_on_its_own_words(case: Case) -> None:
    text = " ".join(f"{w}." for w in case.findings) + _duration(case)
    assert case.rule.id in _fired(text, case), text


@pytest.mark.parametrize("kind", sorted(WRAPPERS))
@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_rule_stays_quiet_out_of_context(case: Case, kind: str) -> None:
    complaints = [
        w for w, sid in zip(case.findings, _ids(case), strict=True) if not KB.symptoms[sid].modifier
    ]
    if kind == "past" and not complaints:
        pytest.skip("a rule of risk factors only: past risk factors count by design")
    template = WRAPPERS[kind][case.language]
    text = " ".join(template.format(x=w) for w in case.findings) + _duration(case)
    assert case.rule.id not in _fired(text, case), text


def _duration(case: Case) -> str:
    """A sentence giving how long, for a rule that needs a minimum duration."""
    hours = case.rule.duration_min_hours
    if hours is None:
        return ""
    days = -(-int(hours) // 24)
    return f" For {days} days." if case.language == "en" else f" Depuis {days} jours."


def _ids(case: Case) -> list[str]:
    needed = sorted(i for i in case.rule.all if i in KB.symptoms)
    extra = len(case.findings) - len(needed)
    if extra:
        for option in sorted(case.rule.any):
            if option in KB.symptoms and _words_for(option, case.language, KB) == case.findings[-1]:
                return [*needed, option]
    return needed
