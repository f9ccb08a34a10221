"""The condition reasoner (issue 12): cited conditions, log-odds likelihoods, thresholds,
self-limiting illnesses that settle, and context that keeps denied findings out."""

from __future__ import annotations

import pytest

from dialogs.triage import Level, Patient, assess
from dialogs.triage.condition_base import condition
from dialogs.triage.knowledge_base import load_knowledge
from dialogs.triage.normalise import normalise
from dialogs.triage.reasoner import ConditionEvidence, weigh
from dialogs.triage.to_json import result_to_json
from dialogs.triage.vitals_text import parse_gcs, parse_vitals

KB = load_knowledge()
BY_ID = {c.id: c for c in KB.conditions}


def _passing(text: str, language: str = "en", patient: Patient | None = None) -> set[str]:
    result = assess(text, language="fr" if language == "fr" else "en", patient=patient)
    return {c.id for c in result.conditions if c.passes}


def test_every_condition_is_cited_and_covers_the_body_systems() -> None:
    assert len(KB.conditions) >= 40
    assert all(c.cite for c in KB.conditions)
    levels = {c.level for c in KB.conditions}
    assert {Level.EMERGENCY_AMBULANCE, Level.EMERGENCY, Level.SELF_CARE} <= levels
    for needed in ("acs", "pulmonary_embolism", "sepsis_child", "cauda_equina", "common_cold"):
        assert needed in BY_ID


def test_a_condition_without_a_citation_or_with_a_bad_threshold_is_refused() -> None:
    base = {"id": "x", "name": {"en": "x", "fr": "x"}, "level": "self_care", "threshold": 0.5}
    with pytest.raises(ValueError, match="citation"):
        condition(base)
    with pytest.raises(ValueError, match="threshold"):
        condition({**base, "cite": "NICE", "threshold": 1.5})
    with pytest.raises(ValueError, match="positive"):
        condition({**base, "cite": "NICE", "for": {"fever": -1}})


def test_likelihood_rises_with_findings_for_and_falls_with_findings_against() -> None:
    pe = BY_ID["pulmonary_embolism"]
    alone = weigh(pe, ConditionEvidence(present=frozenset({"dyspnoea"})))
    risk = weigh(pe, ConditionEvidence(present=frozenset({"dyspnoea", "clot_risk"})))
    against = weigh(pe, ConditionEvidence(present=frozenset({"dyspnoea", "clot_risk", "fever"})))
    assert alone is not None and risk is not None and against is not None
    assert alone.likelihood < risk.likelihood
    assert against.likelihood < risk.likelihood
    assert risk.found_for == ("dyspnoea", "clot_risk")
    assert against.found_against == ("fever",)


def test_age_and_sex_limits_keep_a_condition_out() -> None:
    torsion = BY_ID["testicular_torsion"]
    woman = ConditionEvidence(present=frozenset({"testicular_pain"}), sex=None, age_years=70)
    assert weigh(torsion, woman) is None  # over the age limit
    child = BY_ID["sepsis_child"]
    assert weigh(child, ConditionEvidence(present=frozenset({"fever"}), age_years=40)) is None


def test_sepsis_from_vital_signs_in_an_older_person_is_an_ambulance() -> None:
    text = (
        "An 80-year-old man has been more confused since yesterday and has burning when he "
        "passes urine. Temperature 38.6, pulse 124, respiratory rate 27, BP 88/54."
    )
    result = assess(text)
    assert result.level is Level.EMERGENCY_AMBULANCE
    sepsis = next(r for r in result.reasons if r.rule == "condition.sepsis_adult")
    assert "sepsis" in sepsis.text and "NG51" in sepsis.citation


def test_a_head_injury_on_blood_thinners_is_an_emergency_in_french() -> None:
    text = (
        "Femme de 84 ans sous warfarine, s'est cogné la tête hier en tombant, pas de vomissement."
    )
    assert "head_injury_ct" in _passing(text, "fr")
    assert assess(text, language="fr").level.is_emergency


def test_a_cold_with_its_red_flags_denied_stays_self_care() -> None:
    text = (
        "I've had a runny nose, sneezing and a bit of a cough for three days. No shortness "
        "of breath, no chest pain, no stiff neck and I'm eating and drinking normally."
    )
    result = assess(text, patient=Patient(age_years=30))
    assert result.level is Level.SELF_CARE
    assert "common_cold" in {c.id for c in result.conditions if c.passes}


def test_a_cold_in_a_baby_with_fast_breathing_is_not_settled() -> None:
    text = "A 7-month-old with a runny nose and cough, respiratory rate 56, feeding less."
    assert "common_cold" not in _passing(text)
    assert assess(text).level.rank >= Level.CONSULTATION_24.rank


@pytest.mark.parametrize(
    "text",
    [
        "Headache since this morning, no stiff neck, no rash, no dislike of light.",
        "If I get a stiff neck or a rash I will call back; for now just a headache.",
        "My brother had meningitis with a stiff neck years ago; I have a headache today.",
    ],
)
def test_meningitis_stays_quiet_when_its_findings_are_denied_hypothetical_or_a_relatives(
    text: str,
) -> None:
    assert "meningitis" not in _passing(text)


def test_readings_written_in_the_text_become_evidence() -> None:
    readings = {
        (v.kind.value, v.value) for v in parse_vitals(normalise("il a encore 39,1 ce soir"))
    }
    assert readings == {("temperature", 39.1)}
    assert parse_vitals(normalise("she weighs 38.5 kg")) == []
    assert parse_gcs(normalise("GCS 13, pupils equal")) == 13
    assert parse_gcs(normalise("score de Glasgow à 15")) == 15


def test_the_json_names_the_conditions_with_their_likelihoods() -> None:
    out = result_to_json(assess("Sudden tearing chest pain going through to my back"))
    conditions = out["conditions"]
    assert isinstance(conditions, list)
    found = {str(c["id"]): c for c in conditions if isinstance(c, dict)}
    dissection = found["aortic_dissection"]
    assert dissection["passes"] is True
    assert isinstance(dissection["likelihood"], float) and 0 < dissection["likelihood"] <= 1


def test_a_french_verb_between_ne_and_pas_is_negated() -> None:
    result = assess("Elle a de la fièvre, elle boit et ne vomit pas.", language="fr")
    vomiting = next(f for f in result.findings if f.id == "vomiting")
    assert vomiting.present is False


def test_new_bladder_trouble_with_saddle_numbness_is_cauda_equina() -> None:
    text = "Back pain with numbness around the anus and having to strain to pass urine."
    assert "cauda_equina" in _passing(text)
    assert "cauda_equina" not in _passing(
        "Back pain for two days, no numbness, passing urine fine."
    )


@pytest.mark.parametrize(
    ("text", "emergency"),
    [
        (
            "For two months I get chest pain on the stairs that settles with rest in 2 minutes",
            False,
        ),
        ("Chest pain on walking for 3 weeks, relieved by rest, now also at rest since today", True),
        ("Crushing chest pain for 30 minutes that eased with rest, I am sweaty", True),
        ("Chest pain on exertion that settles with rest, started yesterday", True),
    ],
)
def test_stable_exertional_chest_pain_is_a_visit_and_anything_else_an_emergency(
    text: str, emergency: bool
) -> None:
    result = assess(text, patient=Patient(age_years=58))
    assert result.level.is_emergency is emergency
    if not emergency:
        assert result.level is Level.CONSULTATION


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("My dad had a heart attack at 50 so I worry. I have a sore throat for 3 days.", "en"),
        ("Her mother died of a stroke. She has a sore throat for 3 days.", "en"),
        ("Mon père a fait un infarctus à 52 ans. J'ai mal à la gorge depuis 3 jours.", "fr"),
    ],
)
def test_a_relatives_illness_dated_by_their_age_or_death_is_not_the_patients(
    text: str, language: str
) -> None:
    result = assess(text, language="fr" if language == "fr" else "en")
    assert not result.level.is_emergency
    assert "chest_pain" not in result.present_ids


def test_a_relatives_illness_happening_now_is_still_the_emergency() -> None:
    result = assess("My dad had a stroke an hour ago, his face is drooping")
    assert result.level is Level.EMERGENCY_AMBULANCE
