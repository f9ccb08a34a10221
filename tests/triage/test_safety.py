"""Safety: negated red flags stay quiet, many phrasings of each red flag fire, device
vitals override a mild story."""

from __future__ import annotations

import pytest

from dialogs.triage import Level, Patient, VitalKind, VitalReading, assess

NEGATED = [
    "No chest pain, no shortness of breath, just a runny nose",
    "I don't have chest pain, only a sore throat",
    "Denies chest pain, dyspnoea, diaphoresis or syncope. Sore throat for 2 days.",
    "Pas de douleur thoracique, pas d'essoufflement, juste le nez qui coule",
    "Je n'ai pas mal à la poitrine, seulement mal à la gorge",
    "No facial droop, no slurred speech, no weakness; mild tension headache",
    "Sans fièvre, sans raideur de nuque ; un petit rhume",
    "No blood in the vomit, no black stools, just a tummy bug with diarrhoea",
    "Never had a seizure; I have a cold",
    "Not pregnant. Mild period cramps like every month.",
    "Aucune difficulté à respirer, je tousse un peu",
    "Without any swelling of the lips or throat, a mosquito bite that itches",
    "A mild earache in my left ear, no discharge, no fever",
    "Denies chest pain, shortness of breath, palpitations, syncope, abdominal pain, vomiting, "
    "diarrhoea, headache, neck stiffness, rash, weakness or numbness. Sore throat.",
    "Sore ear, no pus, no stiff neck, no rash",
]


PAST_HISTORY = [
    "A 55-year-old man with a history of heart attack and stroke has a cough and runny nose",
    "A 30-year-old woman with known epilepsy has a sore throat",
    "Past medical history of migraines. Today she has a sore throat.",
    "Antécédents d'AVC, consulte pour un rhume.",
]


@pytest.mark.parametrize("text", PAST_HISTORY)
def test_past_history_is_not_the_problem_now(text: str) -> None:
    assert not assess(text).level.is_emergency


def test_a_history_of_days_is_the_problem_now() -> None:
    assert assess("A 2-day history of chest pain radiating to the jaw").level.is_emergency


@pytest.mark.parametrize("text", NEGATED)
def test_negated_red_flags_do_not_trigger(text: str) -> None:
    result = assess(text)
    assert not result.level.is_emergency, [r.rule for r in result.reasons]
    assert not result.red_flags


PHRASINGS: dict[str, list[str]] = {
    "heart attack": [
        "crushing chest pain and sweating",
        "pressure in my chest going down my left arm",
        "tight chest and I feel sick and clammy",
        "substernal chest pain radiating to the jaw with diaphoresis",
        "douleur thoracique avec sueurs",
        "j'ai une barre sur la poitrine qui irradie dans le bras gauche",
        "chest discomfort and short of breath when climbing stairs",
    ],
    "stroke": [
        "my face is drooping on one side",
        "sudden weakness in my right arm",
        "slurred speech since an hour",
        "left-sided hemiparesis and aphasia",
        "ma bouche est de travers",
        "il n'arrive pas à parler et son bras est faible",
        "can't lift my arm and my smile is crooked",
    ],
    "breathing": [
        "I can't breathe",
        "gasping for air, lips turning blue",
        "je n'arrive pas à respirer",
        "he is choking and can't speak in full sentences",
        "my throat is closing up",
        "stridor at rest",
    ],
    "anaphylaxis": [
        "stung by a wasp and now short of breath",
        "ate peanuts, lips swollen and wheezing",
        "mon visage gonfle après une piqûre de guêpe",
        "tongue is swelling",
    ],
    "meningitis / sepsis": [
        "purple rash that does not fade under a glass",
        "fever and a stiff neck",
        "fièvre et nuque raide",
        "non-blanching petechial rash with fever",
        "fever and confused",
    ],
    "bleeding": [
        "vomiting blood",
        "black tarry stools since this morning",
        "j'ai vomi du sang",
        "bleeding heavily and it won't stop",
    ],
    "head": [
        "worst headache of my life, came on suddenly",
        "thunderclap headache",
        "mal de tête brutal, le pire de ma vie",
        "hit my head and passed out",
        "sudden loss of vision in one eye",
    ],
    "mental health": [
        "I want to kill myself",
        "I've been thinking about ending my life",
        "j'ai des idées suicidaires",
        "I took an overdose of my pills",
    ],
    "consciousness": [
        "he is unconscious",
        "my mum won't wake up",
        "having a seizure right now",
        "il fait des convulsions",
        "elle ne répond plus",
        "my baby went limp and is hard to wake",
    ],
    "pregnancy": [
        "I'm 30 weeks pregnant and the baby is moving less",
        "pregnant with bleeding and belly pain",
        "enceinte de 8 semaines avec des saignements",
        "32 weeks pregnant, bad headache and blurred vision",
    ],
    "lay words": [
        "My chest feels like an elephant is sitting on it",
        "There's a heavy squeezing feeling in the middle of my chest and I feel sick",
        "I've got pain across my chest and down both arms, I'm 55",
        "Pain in my chest spreading to my back, it feels like tearing",
        "He suddenly can't move the left side of his body",
        "She's talking gibberish and her arm is floppy",
        "His speech is slurred and he's confused, started an hour ago",
        "I can't get my breath, I'm really struggling",
        "My toddler is breathing really fast and his ribs are sucking in",
        "My baby is grunting when breathing and looks pale",
        "She's had a fit and isn't waking up properly",
        "He collapsed and isn't breathing",
        "My daughter ate a cashew, her face is swelling and she's wheezing",
        "My husband is coughing up lots of blood",
        "Huge amount of bright red blood when I went to the toilet and I feel faint",
        "I'm 8 weeks pregnant and have severe one-sided pain and feel faint",
        "I've taken 30 paracetamol",
        "I don't want to live anymore and I've stockpiled pills",
        "My son is very floppy and has a rash that won't go away when pressed",
        "Severe headache and stiff neck and I keep throwing up",
        "My leg is cold, white and painful and I can't feel my foot",
        "Sudden blindness in my left eye",
        "I've been stabbed in the arm",
        "I fell off a ladder and hit my head, now I'm drowsy and vomiting",
        "My blood sugar is 2.1 and I'm shaking and confused",
        "Worst tummy pain of my life, my belly is rigid",
        "My grandad's lips are blue and he's very breathless",
        "I think I'm having a heart attack",
        "I think she's having a stroke",
        "she is having a severe allergic reaction",
        "my son was pulled from the pool and is coughing",
        "I think I have sepsis",
        "Pain in my jaw and left arm with sweating",
        "Il a perdu connaissance et ne respire plus",
        "J'ai une douleur atroce dans la poitrine qui me serre",
        "Ma fille a avalé des médicaments de ma pharmacie",
    ],
}


@pytest.mark.parametrize(
    "text", [t for group in PHRASINGS.values() for t in group], ids=lambda t: t[:40]
)
def test_many_phrasings_of_each_red_flag_fire(text: str) -> None:
    result = assess(text)
    assert result.level.is_emergency, [r.rule for r in result.reasons]
    assert result.red_flags


def _device(kind: VitalKind, value: float) -> VitalReading:
    return VitalReading(kind, value, source="Nonin 3230")


@pytest.mark.parametrize(
    ("story", "readings", "at_least"),
    [
        ("a bit breathless", [_device(VitalKind.SPO2, 88)], Level.EMERGENCY),
        ("a bit breathless", [_device(VitalKind.SPO2, 85)], Level.EMERGENCY_AMBULANCE),
        ("just a runny nose", [_device(VitalKind.HEART_RATE, 145)], Level.EMERGENCY),
        ("I feel fine", [_device(VitalKind.SYSTOLIC_BP, 82)], Level.EMERGENCY),
        ("un peu fatigué", [_device(VitalKind.GLUCOSE, 40)], Level.EMERGENCY),
        ("mild cold", [_device(VitalKind.TEMPERATURE, 34.6)], Level.EMERGENCY),
        ("mild cold", [_device(VitalKind.RESPIRATORY_RATE, 30)], Level.EMERGENCY),
        ("slight cough", [_device(VitalKind.SPO2, 93)], Level.CONSULTATION_24),
    ],
)
def test_abnormal_device_vitals_override_a_mild_story(
    story: str, readings: list[VitalReading], at_least: Level
) -> None:
    mild = assess(story)
    result = assess(story, device_vitals=readings)
    assert not mild.level.is_emergency
    assert result.level.rank >= at_least.rank
    assert any(r.rule.startswith("vital.") for r in result.reasons)
    assert "Nonin 3230" in " ".join(r.text for r in result.reasons)


def test_normal_device_vitals_leave_a_mild_story_alone() -> None:
    readings = [
        _device(VitalKind.SPO2, 98),
        _device(VitalKind.HEART_RATE, 72),
        _device(VitalKind.TEMPERATURE, 36.8),
    ]
    assert assess("runny nose and sneezing", device_vitals=readings).level is Level.SELF_CARE


def test_the_record_supplies_age_and_pregnancy() -> None:
    baby = assess("fever 38.2", patient=Patient(age_years=0.1))
    assert baby.level.is_emergency
    pregnant = assess("headache", patient=Patient(pregnant=True))
    assert pregnant.level.is_emergency


def test_answers_override_the_text() -> None:
    plain = assess("chest wall hurts when I press, after lifting")
    assert not plain.level.is_emergency
    worse = assess("chest wall hurts when I press, after lifting", answers={"sweating": True})
    assert worse.level is Level.EMERGENCY_AMBULANCE
