"""The knowledge files reviewed like code: codes, citations, both languages, no dead ids."""

from __future__ import annotations

import pytest

from dialogs.triage import VitalKind
from dialogs.triage.context_text import parse_age
from dialogs.triage.knowledge_base import load_knowledge
from dialogs.triage.normalise import normalise
from dialogs.triage.vitals_text import parse_vitals
from integrations.fhir_store.rules import verhoeff_ok
from tests.corpora import corpus

PROFILES = corpus("fhir_r4", "hl7_r4_vitalsigns_profiles")


def test_verhoeff_on_known_codes() -> None:
    assert verhoeff_ok("29857009")  # chest pain
    assert verhoeff_ok("386661006")  # fever
    assert not verhoeff_ok("29857008")


def test_every_snomed_code_is_a_valid_identifier() -> None:
    kb = load_knowledge()
    codes = [s.snomed for s in kb.symptoms.values() if s.snomed]
    codes += [b.snomed for b in kb.vital_bands if b.snomed]
    assert len(codes) >= 90
    assert [c for c in codes if not verhoeff_ok(c)] == []


def test_loinc_codes_match_design_and_the_vital_signs_profiles() -> None:
    assert {k: k.loinc for k in VitalKind} == {
        VitalKind.HEART_RATE: "8867-4",
        VitalKind.SPO2: "2708-6",
        VitalKind.SYSTOLIC_BP: "8480-6",
        VitalKind.DIASTOLIC_BP: "8462-4",
        VitalKind.TEMPERATURE: "8310-5",
        VitalKind.RESPIRATORY_RATE: "9279-1",
        VitalKind.GLUCOSE: "2339-0",
        VitalKind.WEIGHT: "29463-7",
    }
    text = " ".join(p.read_text("utf-8", errors="ignore") for p in PROFILES.rglob("*.json"))
    for kind in VitalKind:
        if kind is not VitalKind.GLUCOSE:  # glucose is not a core vital-signs profile
            assert kind.loinc in text, kind


def test_rules_and_bands_cite_sources_in_both_languages() -> None:
    kb = load_knowledge()
    ids = [r.id for r in kb.rules]
    assert len(ids) == len(set(ids))
    for rule in kb.rules:
        assert rule.cite, rule.id
        assert rule.reason["en"] and rule.reason["fr"], rule.id
        assert rule.all or rule.any, rule.id
    for band in kb.vital_bands:
        assert band.cite, band.id
    assert kb.news2_cite.startswith("Royal College of Physicians")


def test_every_question_and_name_exists_in_both_languages() -> None:
    kb = load_knowledge()
    for symptom in kb.symptoms.values():
        assert symptom.name["en"] and symptom.name["fr"], symptom.id
        if symptom.ask is not None:
            assert symptom.ask["en"].endswith("?") and symptom.ask["fr"].endswith("?"), symptom.id


def test_the_knowledge_is_loaded_once() -> None:
    assert load_knowledge() is load_knowledge()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("temp 39.5", [("temperature", 39.5)]),
        ("104°F", [("temperature", 40.0)]),
        ("BP 180/110", [("systolic_bp", 180.0), ("diastolic_bp", 110.0)]),
        ("tension à 18/11", [("systolic_bp", 180.0), ("diastolic_bp", 110.0)]),
        ("sats 88%", [("spo2", 88.0)]),
        ("88% on room air", [("spo2", 88.0)]),
        ("pouls à 120", [("heart_rate", 120.0)]),
        ("RR 28", [("respiratory_rate", 28.0)]),
        ("blood sugar 2.5 mmol/L", [("glucose", 45.0)]),
        ("glycémie 0,45 g/L", [("glucose", 45.0)]),
        ("RR 22/min, HR 104/min", [("heart_rate", 104.0), ("respiratory_rate", 22.0)]),
        ("temperature of 102 degrees", [("temperature", 38.9)]),
        ("fever up to 40", [("temperature", 40.0)]),
        ("breathing 30 times a minute", [("respiratory_rate", 30.0)]),
        ("T 37.0, P 88, O2 98%", [("temperature", 37.0), ("spo2", 98.0), ("heart_rate", 88.0)]),
        ("fever for 3 days", []),
        ("pain 8/10", []),
    ],
)
def test_vitals_in_text(text: str, expected: list[tuple[str, float]]) -> None:
    assert [(r.kind.value, r.value) for r in parse_vitals(normalise(text))] == expected


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("A 45-year-old man", 45.0),
        ("my 3 month old", 0.25),
        ("a man in his 60s", 65.0),
        ("homme de la cinquantaine", 55.0),
        ("my elderly mother", 75.0),
        ("she is 28 weeks pregnant", None),
        ("cough for 2 months", None),
        ("j'ai 34 ans", 34.0),
    ],
)
def test_age_in_text(text: str, years: float | None) -> None:
    assert parse_age(normalise(text)) == years


def test_a_knowledge_key_given_twice_is_refused() -> None:
    import yaml

    from dialogs.triage.knowledge_base import _UniqueKeyLoader

    with pytest.raises(ValueError, match="given twice: fever"):
        yaml.load("fever: {a: 1}\nfever: {a: 2}\n", Loader=_UniqueKeyLoader)
