"""Every emergency condition passes on its own words and stays quiet when those words are
negated, past, hypothetical or about someone else, in English and in French (issue 12)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from dialogs.base import Language
from dialogs.triage import Patient, assess
from dialogs.triage.condition_base import Condition
from dialogs.triage.knowledge_base import load_knowledge
from dialogs.triage.reasoner import ConditionEvidence, weigh
from tests.triage.test_red_flag_context import WRAPPERS, _words_for

KB = load_knowledge()


@dataclass(frozen=True)
class Case:
    condition: Condition
    language: Language
    words: tuple[str, str]
    patient: Patient

    def __str__(self) -> str:
        return f"{self.condition.id}-{self.language}"


def _patient(condition: Condition) -> Patient:
    age = 40.0
    if condition.age_max is not None and age > condition.age_max:
        age = min(condition.age_max, 3.0)
    if condition.age_min is not None and age < condition.age_min:
        age = condition.age_min
    return Patient(age_years=age, sex=condition.sex)


def _two_findings(condition: Condition) -> tuple[str, str] | None:
    """The two heaviest symptoms for CONDITION (one of them required) that pass together."""
    symptoms = sorted(
        ((w, sid) for sid, w in condition.weights_for if sid in KB.symptoms),
        reverse=True,
    )
    patient = _patient(condition)
    context = {f"sex.{patient.sex.value}"} if patient.sex else set()
    for i, (_, first) in enumerate(symptoms):
        for _, second in symptoms[i + 1 :]:
            if condition.requires and not condition.requires & {first, second}:
                continue
            evidence = ConditionEvidence(
                present=frozenset({first, second} | context),
                age_years=patient.age_years,
                sex=patient.sex,
            )
            hit = weigh(condition, evidence)
            if hit is not None and hit.passes:
                return first, second
    return None


def _cases() -> list[Case]:
    cases: list[Case] = []
    for condition in KB.conditions:
        if not condition.level.is_emergency:
            continue
        pair = _two_findings(condition)
        if pair is None:
            continue
        languages: tuple[Language, ...] = ("en", "fr")
        for lang in languages:
            words = (_words_for(pair[0], lang, KB), _words_for(pair[1], lang, KB))
            if words[0] and words[1]:
                cases.append(Case(condition, lang, (words[0], words[1]), _patient(condition)))
    return cases


CASES = _cases()


def _passes(case: Case, text: str) -> bool:
    result = assess(text, language=case.language, patient=case.patient)
    return any(c.id == case.condition.id and c.passes for c in result.conditions)


def test_most_emergency_conditions_are_covered() -> None:
    covered = {c.condition.id for c in CASES}
    emergencies = {c.id for c in KB.conditions if c.level.is_emergency}
    assert len(covered) >= 0.7 * len(emergencies), sorted(emergencies - covered)
    assert {c.language for c in CASES} == {"en", "fr"}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_an_emergency_condition_passes_on_its_own_words(case: Case) -> None:
    text = " ".join(f"{w}." for w in case.words)
    assert _passes(case, text), text


@pytest.mark.parametrize("kind", sorted(WRAPPERS))
@pytest.mark.parametrize("case", CASES, ids=str)
def test_an_emergency_condition_stays_quiet_out_of_context(case: Case, kind: str) -> None:
    template = WRAPPERS[kind][case.language]
    text = " ".join(template.format(x=w) for w in case.words)
    assert not _passes(case, text), text
