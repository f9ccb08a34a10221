"""Physiology over several readings: qSOFA, shock index, capillary refill, children's bands
by age, stability; numbers read from notes in English and French; and the physiology rules
stay quiet when the readings are past, hypothetical or about someone else (issue 12)."""

from __future__ import annotations

import pytest

from dialogs.base import Language
from dialogs.triage import Patient, assess
from dialogs.triage.knowledge_base import load_knowledge
from dialogs.triage.models import VitalKind, VitalReading
from dialogs.triage.normalise import normalise
from dialogs.triage.physiology import (
    PHYSIOLOGY_IDS,
    assess_physiology,
    child_band,
    parse_capillary_refill,
    shock_index_limit,
)
from dialogs.triage.vitals_text import parse_gcs, parse_vitals

LIMITS = load_knowledge().physiology
HR, RR, SBP = VitalKind.HEART_RATE, VitalKind.RESPIRATORY_RATE, VitalKind.SYSTOLIC_BP
SPO2, TEMP = VitalKind.SPO2, VitalKind.TEMPERATURE


def _ids(
    *readings: tuple[VitalKind, float],
    age: float | None = 40.0,
    confused: bool = False,
    crt: float | None = None,
) -> frozenset[str]:
    vitals = [VitalReading(kind, value) for kind, value in readings]
    return assess_physiology(
        vitals, age_years=age, altered_mentation=confused, capillary_refill_s=crt, limits=LIMITS
    ).ids


# ---- qSOFA: RR >= 22, SBP <= 100, altered mentation; 2 or more ----


@pytest.mark.parametrize(
    ("rr", "sbp", "confused", "fires"),
    [
        (22, 100, False, True),
        (21, 100, False, False),
        (22, 101, False, False),
        (22, 140, True, True),
        (16, 100, True, True),
        (16, 101, True, False),
        (30, 130, False, False),
    ],
)
def test_qsofa_edges(rr: float, sbp: float, confused: bool, fires: bool) -> None:
    assert ("phys.qsofa" in _ids((RR, rr), (SBP, sbp), confused=confused)) is fires


def test_qsofa_is_an_adult_score() -> None:
    assert "phys.qsofa" not in _ids((RR, 30), (SBP, 95), age=6.0)


# ---- shock index: HR / SBP, age-adjusted for children ----


@pytest.mark.parametrize(
    ("age", "hr", "sbp", "fires"),
    [
        (40.0, 100, 100, True),
        (40.0, 99, 100, False),
        (None, 120, 110, True),
        (80.0, 112, 108, True),
        (5.0, 122, 100, True),  # SIPA 1.22 at 4-6
        (5.0, 121, 100, False),
        (9.0, 100, 100, True),  # SIPA 1.0 at 7-12
        (9.0, 99, 100, False),
        (14.0, 90, 100, True),  # SIPA 0.9 at 13-16
        (14.0, 89, 100, False),
        (2.0, 150, 90, False),  # not validated under 4
    ],
)
def test_shock_index_edges(age: float | None, hr: float, sbp: float, fires: bool) -> None:
    assert ("phys.shock_index" in _ids((HR, hr), (SBP, sbp), age=age)) is fires


def test_shock_index_limits_by_age() -> None:
    assert shock_index_limit(30.0, LIMITS) == 1.0
    assert shock_index_limit(3.9, LIMITS) is None
    assert shock_index_limit(4.0, LIMITS) == 1.22
    assert shock_index_limit(16.9, LIMITS) == 0.9
    assert shock_index_limit(17.0, LIMITS) == 1.0


# ---- capillary refill ----


@pytest.mark.parametrize(("crt", "fires"), [(3.0, True), (2.9, False), (2.0, False), (5.0, True)])
def test_capillary_refill_edge(crt: float, fires: bool) -> None:
    assert ("phys.crt_prolonged" in _ids(age=40.0, crt=crt)) is fires


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("cap refill 4 s", 4.0),
        ("CRT 2 seconds", 2.0),
        ("capillary refill time of 3s", 3.0),
        ("capillary refill under 2 seconds", 1.5),
        ("CRT > 3 s", 3.5),
        ("CRT < 2 sec", 1.5),
        ("TRC 4 s", 4.0),
        ("temps de recoloration cutanée à 4 secondes", 4.0),
        ("temps de recoloration capillaire > 3 secondes", 3.5),
        ("capillary refill time is prolonged at 4 seconds", 4.0),
        ("TRC allongé à 4 secondes", 4.0),
        ("refill of the prescription in 3 days", None),
    ],
)
def test_capillary_refill_parsing(text: str, seconds: float | None) -> None:
    assert parse_capillary_refill(normalise(text)) == seconds


# ---- children's bands by age ----


def test_every_age_to_16_has_one_band() -> None:
    ages = [a / 10 for a in range(0, 160)]
    assert all(child_band(a, LIMITS) is not None for a in ages)
    assert child_band(16.0, LIMITS) is None
    assert child_band(None, LIMITS) is None


@pytest.mark.parametrize("band", LIMITS.child_bands, ids=lambda b: b.group)
def test_child_band_edges(band: object) -> None:
    from dialogs.triage.physiology import ChildBand

    assert isinstance(band, ChildBand)
    age = band.age_min + 0.5 * min(band.age_max - band.age_min, 1.0)
    assert "phys.child_red" in _ids((RR, band.rr_red), age=age)
    assert "phys.child_red" not in _ids((RR, band.rr_red - 1), age=age)
    assert "phys.child_amber" in _ids((RR, band.rr_amber), age=age)
    assert "phys.child_amber" not in _ids((RR, band.rr_amber - 1), age=age)
    assert "phys.child_red" in _ids((HR, band.hr_red), age=age)
    assert "phys.child_red" not in _ids((HR, band.hr_red - 1), age=age)
    assert "phys.child_amber" in _ids((HR, band.hr_amber), age=age)
    assert "phys.child_amber" not in _ids((HR, band.hr_amber - 1), age=age)
    assert "phys.child_red" in _ids((HR, band.hr_low - 1), age=age)
    assert "phys.child_red" not in _ids((HR, band.hr_low), age=age)
    low = _ids((SBP, band.sbp_low - 1), age=age)
    assert {"phys.child_red", "phys.hypotension"} <= low
    assert "phys.hypotension" not in _ids((SBP, band.sbp_low), age=age)
    two = _ids((RR, band.rr_amber), (HR, band.hr_amber), age=age)
    assert "phys.child_amber_2" in two
    assert "phys.child_amber_2" in _ids((RR, band.rr_amber), age=age, crt=3.0)
    assert "phys.child_amber_2" not in _ids((RR, band.rr_amber), age=age, crt=2.0)


def test_child_hypoxia_edge() -> None:
    assert "phys.hypoxia" in _ids((SPO2, 91), age=3.0)
    assert "phys.hypoxia" not in _ids((SPO2, 92), age=3.0)


def test_adult_hypotension_and_hypoxia_edges() -> None:
    assert "phys.hypotension" in _ids((SBP, 90))
    assert "phys.hypotension" not in _ids((SBP, 91))
    assert "phys.hypoxia" in _ids((SPO2, 91))
    assert "phys.hypoxia" not in _ids((SPO2, 92))


# ---- stability ----


def test_stable_needs_three_normal_parameters() -> None:
    assert "phys.stable" in _ids((HR, 80), (RR, 16), (SBP, 124))
    assert "phys.stable" not in _ids((HR, 80), (RR, 16))
    assert "phys.stable" not in _ids((HR, 111), (RR, 16), (SBP, 124))
    assert "phys.stable" not in _ids((HR, 80), (RR, 21), (SBP, 124))
    assert "phys.stable" not in _ids((HR, 80), (RR, 16), (SBP, 100))
    assert "phys.stable" not in _ids((HR, 80), (RR, 16), (SPO2, 93))
    assert "phys.stable" not in _ids((HR, 80), (RR, 16), (TEMP, 39.1))
    assert "phys.stable" not in _ids((HR, 80), (RR, 16), (SBP, 124), confused=True)
    assert "phys.stable" not in _ids((HR, 80), (RR, 16), (SBP, 124), crt=4.0)


def test_a_child_is_stable_by_the_ranges_for_their_age() -> None:
    assert "phys.stable" in _ids((HR, 150), (RR, 45), (SPO2, 98), age=0.5)
    assert "phys.stable" not in _ids((HR, 150), (RR, 45), (SPO2, 98), age=10.0)


def test_every_id_is_known() -> None:
    assert {"phys.stable", "phys.qsofa"} <= PHYSIOLOGY_IDS


# ---- numbers in clinical notes, English and French ----


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HR 124, BP 88/50, RR 28", {HR: 124, SBP: 88, RR: 28}),
        ("SpO2 91% on air, T 39.2", {SPO2: 91, TEMP: 39.2}),
        ("pulse 130 bpm, sats 89%", {HR: 130, SPO2: 89}),
        ("FC 124, TA 88/50, FR 28", {HR: 124, SBP: 88, RR: 28}),
        ("SpO2 91 % en air ambiant, T 39,2 °C", {SPO2: 91, TEMP: 39.2}),
        ("fréquence respiratoire à 32, pouls à 140", {RR: 32, HR: 140}),
        ("TA 9/6, pouls à 124", {SBP: 90, HR: 124}),  # French cmHg
        ("his pulse is 124 and blood pressure is 88 over 50", {HR: 124, SBP: 88}),
    ],
)
def test_vital_numbers_from_notes(text: str, expected: dict[VitalKind, float]) -> None:
    got = {r.kind: r.value for r in parse_vitals(normalise(text))}
    assert {k: got.get(k) for k in expected} == expected


@pytest.mark.parametrize(("text", "gcs"), [("GCS 14", 14), ("score de Glasgow à 13", 13)])
def test_gcs_from_notes(text: str, gcs: int) -> None:
    assert parse_gcs(normalise(text)) == gcs


# ---- the physiology rules on whole texts, and out of context ----

RULE_TEXTS: dict[str, dict[Language, tuple[str, float]]] = {
    "qsofa": {
        "en": ("He is confused. RR 24 and BP 96/60.", 50.0),
        "fr": ("Il est confus. FR 24 et TA 96/60.", 50.0),
    },
    "shock_index": {
        "en": ("He feels dizzy. HR 118 and BP 104/70.", 50.0),
        "fr": ("Il a des vertiges. FC 118 et TA 104/70.", 50.0),
    },
    "child_red_vitals": {
        "en": ("She has a cough. RR 56.", 1.5),
        "fr": ("Elle tousse. FR 56.", 1.5),
    },
    "child_amber_vitals": {
        "en": ("She has a cough. RR 36 and HR 145.", 3.0),
        "fr": ("Elle tousse. FR 36 et FC 145.", 3.0),
    },
}
OUT_OF_CONTEXT: dict[str, dict[Language, str]] = {
    "past": {"en": "Past medical history: {x}", "fr": "Antécédents : {x}"},
    "hypothetical": {"en": "Return if {x}", "fr": "Reconsulter si {x}"},
    "someone_else": {"en": "Family history of {x}", "fr": "Antécédents familiaux de {x}"},
}
_CASES = [(rule, lang) for rule, by_lang in RULE_TEXTS.items() for lang in by_lang]


def _fired(text: str, language: Language, age: float) -> set[str]:
    result = assess(text, language=language, patient=Patient(age_years=age))
    return {r.rule for r in result.reasons}


@pytest.mark.parametrize(("rule", "language"), _CASES)
def test_physiology_rule_fires(rule: str, language: Language) -> None:
    text, age = RULE_TEXTS[rule][language]
    assert rule in _fired(text, language, age), text


@pytest.mark.parametrize("kind", sorted(OUT_OF_CONTEXT))
@pytest.mark.parametrize(("rule", "language"), _CASES)
def test_physiology_rule_stays_quiet_out_of_context(
    rule: str, language: Language, kind: str
) -> None:
    text, age = RULE_TEXTS[rule][language]
    complaint, _, numbers = text.partition(". ")
    wrapped = f"{complaint}. " + OUT_OF_CONTEXT[kind][language].format(x=numbers)
    assert rule not in _fired(wrapped, language, age), wrapped


@pytest.mark.parametrize(
    "text",
    [
        "He is not confused and not breathless. HR 80, BP 124/78, RR 16.",
        "No dizziness. HR 118 after running, now HR 80, BP 124/78.",
    ],
)
def test_physiology_quiet_when_normal(text: str) -> None:
    fired = _fired(text, "en", 50.0)
    assert not fired & {"qsofa", "shock_index"}, text
