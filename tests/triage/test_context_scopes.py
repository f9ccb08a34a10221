"""Clinical context over whole notes (ConText): negated, past, hypothetical, someone else's,
sectioned, named as something else; English and French (issue 12)."""

from __future__ import annotations

import re

import pytest

from dialogs.triage import Level, Patient, Sex, assess
from dialogs.triage.context_rules import Modifier
from dialogs.triage.context_text import about_someone_else
from dialogs.triage.interview import needs_age
from dialogs.triage.knowledge_base import load_knowledge
from dialogs.triage.normalise import normalise
from dialogs.triage.scopes import Intervals, context_scopes

KB = load_knowledge()


def _modifiers(text: str, words: str) -> set[Modifier]:
    norm = normalise(text)
    found = re.search(rf"\b{re.escape(normalise(words))}\b", norm)
    assert found is not None
    return context_scopes(norm, KB.context).modifiers(found.start(), found.end())


@pytest.mark.parametrize(
    ("text", "words", "expected"),
    [
        ("Denies chest pain, fever or rash.", "rash", {Modifier.NEGATED}),
        ("Pas de fièvre, pas de toux.", "toux", {Modifier.NEGATED}),
        ("No fever but chest pain since this morning.", "chest pain", set()),
        ("He had a DVT 2 years ago.", "dvt", {Modifier.HISTORICAL}),
        ("Une phlébite il y a trois ans.", "phlebite", {Modifier.HISTORICAL}),
        ("A 2 day history of chest pain.", "chest pain", set()),
        ("Return if chest pain develops.", "chest pain", {Modifier.HYPOTHETICAL}),
        (
            "My doctor said to ring 999 if I ever get chest pain.",
            "chest pain",
            {Modifier.HYPOTHETICAL},
        ),
        ("Reconsulter en cas de fièvre.", "fievre", {Modifier.HYPOTHETICAL}),
        ("His mother had a stroke at 60.", "stroke", {Modifier.OTHER}),
        ("Son père est décédé d'un infarctus.", "infarctus", {Modifier.OTHER}),
        ("Antécédents familiaux : infarctus du père.", "infarctus", {Modifier.OTHER}),
        ("My kids had the same cough last week.", "cough", {Modifier.OTHER}),
        ("PMH: stroke, hypertension.\nPresents with a cough.", "stroke", {Modifier.HISTORICAL}),
        ("PMH: stroke, hypertension.\nPresents with a cough.", "cough", set()),
        ("Family history: MI in father.\nNow chest pain.", "mi", {Modifier.OTHER}),
        ("Plan: safety net for chest pain. Cough today.", "chest pain", {Modifier.HYPOTHETICAL}),
    ],
)
def test_each_context_is_read(text: str, words: str, expected: set[Modifier]) -> None:
    assert _modifiers(text, words) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Family history of stroke. Mild cough for 2 days.",
        "His father had a heart attack at 50. He has a runny nose.",
        "Advised to call 999 if he develops chest pain. Today a mild cough.",
        "History of seizures as a child. Now a sore throat.",
        "I take seizure medication and have a sore throat.",
        "He was seen at the chest pain clinic; today he has a cold.",
        "Antécédents familiaux d'AVC. Il a le nez qui coule.",
        "Consulter en urgence si douleur thoracique. Rhume depuis deux jours.",
    ],
)
def test_a_cold_stays_self_care_whatever_else_the_note_mentions(text: str) -> None:
    result = assess(text, language="fr" if "é" in text or "Il " in text else "en")
    assert result.level is Level.SELF_CARE, [r.rule for r in result.reasons]


def test_a_past_stroke_drops_the_complaint_but_a_past_risk_factor_stays() -> None:
    asthma = assess("History of asthma. Now wheezing and can't speak in full sentences.")
    assert "asthma" in asthma.present_ids
    assert asthma.level is Level.EMERGENCY_AMBULANCE
    stroke = assess("History of stroke. Now a sore throat.")
    assert stroke.present_ids == {"sore_throat"}
    assert stroke.level is Level.SELF_CARE


def test_a_duration_of_the_past_is_not_the_illness_s_duration() -> None:
    text = "He stopped warfarin a month ago. 40 minutes ago his speech became slurred."
    result = assess(text)
    assert result.context.duration_hours is not None and result.context.duration_hours < 2
    assert result.level is Level.EMERGENCY_AMBULANCE


def test_scopes_stay_bounded_on_one_huge_line() -> None:
    # A trigger never reaches beyond its character cap, so a 200 kB line without punctuation
    # does not negate its last words (and the work per trigger stays bounded).
    text = normalise("no " + "word " * 40_000 + "chest pain")
    at = text.index("chest pain")
    assert context_scopes(text, KB.context).modifiers(at, at + 10) == set()


def test_intervals_merge_and_bisect() -> None:
    spans = Intervals.of([(10, 20), (15, 30), (40, 50)])
    assert (spans.starts, spans.ends) == ((10, 40), (30, 50))
    assert spans.covers(12, 29) and not spans.covers(25, 41)
    assert spans.overlaps(29, 41) and not spans.overlaps(30, 40)


@pytest.mark.parametrize(
    ("text", "other"),
    [
        ("My son has a fever", True),
        ("Ma fille a de la fièvre", True),
        ("A 45-year-old man presents with chest pain", True),
        ("I am worried about my husband, he has chest pain", True),
        ("I have chest pain and my wife is worried", False),
        ("J'ai mal à la gorge", False),
    ],
)
def test_who_is_unwell(text: str, other: bool) -> None:
    assert about_someone_else(normalise(text)) is other


def test_the_writer_s_record_does_not_describe_a_relative() -> None:
    record = Patient(age_years=30, sex=Sex.FEMALE, pregnant=True, from_writer_record=True)
    relative = assess("My husband has chest pain and is sweating", patient=record)
    assert relative.context.age_years is None and relative.context.sex is Sex.MALE
    assert not relative.context.pregnant and needs_age(relative)
    writer = assess("I have a sore throat", patient=record)
    assert writer.context.age_years == 30 and not needs_age(writer)
    # An age the dialog asked about the person unwell still counts.
    assert assess("My son has a fever", patient=Patient(age_years=3)).context.age_years == 3


@pytest.mark.parametrize(
    "text",
    [
        "My dad had a stroke an hour ago, his face is drooping",
        "Sa mère a eu un malaise il y a 10 minutes, elle ne répond plus",
        "I'm worried it is a heart attack: crushing chest pain and sweating",
        "My father is having chest pain and sweating",
        "In case of doubt: he has crushing chest pain",
        "He has crushing chest pain. Plan: ECG.",
        "Contact with chickenpox. Now he is unresponsive.",
        "Family history of asthma, he is now unable to speak in full sentences and his lips are blue",
        "No improvement, chest pain getting worse and sweating",
        "She has not been able to breathe properly since the bee sting, lips swelling",
        "Never had this before: worst headache of my life, came on suddenly",
        "Sans prévenir il s'est effondré, il ne respire plus",
        "Without warning he collapsed and is not breathing",
    ],
)
def test_context_never_hides_a_current_emergency(text: str) -> None:
    result = assess(text, language="fr" if "è" in text or "é" in text else "en")
    assert result.level.is_emergency, [r.rule for r in result.reasons]
