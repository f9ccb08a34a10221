"""Self-limiting illness stays self-care, and the findings that only look worse are read
for what they are (issue 12, category 3): a fever that has settled, bleeding gums in
pregnancy, a headache before 20 weeks, "not breathing fast". Each with its counterpart that
must stay urgent."""

from __future__ import annotations

import pytest

from dialogs.triage import Level, assess
from dialogs.triage.context_text import gestation_weeks
from dialogs.triage.normalise import normalise


@pytest.mark.parametrize(
    ("text", "weeks"),
    [
        ("A 27-year-old at 14 weeks has a headache", 14),
        ("I am 20 weeks pregnant", 20),
        ("a woman at 20 weeks' gestation", 20),
        ("Enceinte de 10 semaines, je", 10),
        ("28 SA, douleur", 28),
        ("she had a baby 6 weeks ago", None),
        ("a baby 6 weeks old", None),
        ("symptoms for 3 weeks", None),
    ],
)
def test_the_week_of_pregnancy_is_read(text: str, weeks: int | None) -> None:
    assert gestation_weeks(normalise(text)) == weeks


def _ids(text: str) -> set[str]:
    return {r.rule for r in assess(text).reasons}


def test_a_fever_of_the_first_days_that_settled_is_not_a_prolonged_fever() -> None:
    text = (
        "A 42-year-old woman has had a cough with yellow sputum for 10 days after a cold. "
        "She had a fever for the first three days, which has settled. No shortness of breath."
    )
    result = assess(text)
    assert "fever_resolved" in result.present_ids
    assert "fever_long_with_cold" not in _ids(text)
    assert result.level is Level.SELF_CARE


@pytest.mark.parametrize(
    "text",
    [
        "My 3 year old has had a fever for 6 days and it is still 39.",
        "A 3-year-old with fever for five days; the fever has not resolved with paracetamol.",
        "Mon fils de 3 ans a de la fièvre depuis 6 jours.",
    ],
)
def test_a_fever_still_there_after_five_days_is_still_seen(text: str) -> None:
    result = assess(text)
    assert "fever_resolved" not in result.present_ids
    assert result.level is Level.CONSULTATION_24


@pytest.mark.parametrize(
    "text",
    [
        "My gums bleed when I brush since I got pregnant, I'm 20 weeks. No pain.",
        "Enceinte de 20 semaines, j'ai saigné un peu du nez en me mouchant, ça s'est arrêté.",
    ],
)
def test_gums_or_a_nosebleed_in_pregnancy_are_not_an_obstetric_emergency(text: str) -> None:
    assert not assess(text).level.is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "I'm 8 weeks pregnant and bleeding since this morning.",
        "Enceinte de 9 semaines, je saigne depuis ce matin.",
        "I'm 8 weeks pregnant and bleeding, and my nose is blocked.",
    ],
)
def test_bleeding_in_pregnancy_stays_an_emergency(text: str) -> None:
    assert assess(text).level.is_emergency


def test_a_headache_before_20_weeks_is_not_read_as_pre_eclampsia() -> None:
    text = "A 27-year-old at 14 weeks has a mild frontal headache for a day with a cold. BP 112/70."
    assert "preeclampsia_headache" not in _ids(text)
    assert not assess(text).level.is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "I'm 32 weeks pregnant and have a bad headache.",
        "Enceinte de 34 semaines, j'ai mal à la tête depuis ce matin.",
        "I'm 14 weeks pregnant with a headache and my vision has gone blurry.",
    ],
)
def test_a_headache_after_20_weeks_or_with_vision_change_stays_an_emergency(text: str) -> None:
    assert assess(text).level.is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "Mon fils de 4 ans tousse depuis cinq jours. Il ne respire pas vite, il boit bien.",
        "My 4 year old has had a cough for 3 days. He isn't breathing fast and is drinking well.",
    ],
)
def test_not_breathing_fast_is_not_apnoea(text: str) -> None:
    assert "severe_dyspnoea" not in assess(text).present_ids


@pytest.mark.parametrize(
    "text", ["My baby is not breathing!", "Mon bébé ne respire pas", "He isn't breathing."]
)
def test_not_breathing_stays_an_ambulance(text: str) -> None:
    assert assess(text).level is Level.EMERGENCY_AMBULANCE


@pytest.mark.parametrize(
    "text",
    [
        "A 45-year-old woman has heartburn for 3 weeks not responding to antacids.",
        "Mon eczéma ne répond pas aux crèmes depuis deux semaines.",
    ],
)
def test_a_treatment_that_failed_is_not_an_unresponsive_person(text: str) -> None:
    result = assess(text)
    assert "unresponsive" not in result.present_ids
    assert not result.level.is_emergency


@pytest.mark.parametrize(
    "text",
    [
        "My dad is not responding to us and we can't wake him.",
        "Mon père ne répond pas quand on lui parle.",
        "He is not responding to his name and is floppy.",
    ],
)
def test_a_person_not_responding_stays_an_ambulance(text: str) -> None:
    assert assess(text).level is Level.EMERGENCY_AMBULANCE


def test_focal_chest_signs_make_a_cough_with_fever_a_chest_infection() -> None:
    text = (
        "A 60-year-old man has had a fever of 38.4 C and a productive cough for four days, "
        "with crackles at the left base. RR 20, SpO2 95%."
    )
    result = assess(text)
    assert "condition.pneumonia" in {r.rule for r in result.reasons}
    assert result.level is Level.CONSULTATION_24


def test_no_crackles_leaves_an_acute_cough_self_care() -> None:
    text = (
        "A 45-year-old has had a cough with yellow sputum for six days after a cold. "
        "Temperature 37.4, RR 16, SpO2 97%. No crackles, chest clear."
    )
    result = assess(text)
    assert "focal_chest_signs" not in result.present_ids
    assert result.level is Level.SELF_CARE
    assert result.self_limiting


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("A 34-year-old woman at 10 weeks of pregnancy has vomited for a week.", 168.0),
        ("I am 28 weeks pregnant and have had a cough for 3 days.", 72.0),
        ("Enceinte de 20 semaines, je tousse depuis 3 jours.", 72.0),
    ],
)
def test_the_week_of_pregnancy_is_not_how_long_the_illness_has_lasted(
    text: str, hours: float
) -> None:
    assert assess(text).context.duration_hours == hours
