"""Words that name a finding only in the right phrase (issue 12, category 2): the colour of a
rash is not pale skin, a fever that "fell" is not a fall, a small cool effusion is not a hot
joint, a red swollen sting is not a joint. Each with its counterpart that must stay urgent."""

from __future__ import annotations

import pytest

from dialogs.triage import Level, assess

_COLOUR_NOT_PALLOR = [
    "My 3 year old has a pale pink rash on her tummy that fades under a glass; she is playing.",
    "A pale red patch on my arm, itchy, no fever.",
    "Mon fils a une éruption rose pâle sur le ventre, elle s'efface à la pression.",
    "Des taches rouge pâle sur les bras depuis hier, pas de fièvre.",
]
_NOT_A_HOT_JOINT = [
    "A 62-year-old man with knee osteoarthritis: the knee is not hot or red, has a small "
    "cool effusion and a full range of movement.",
    "A 4-year-old with otitis media with effusion, hearing a bit muffled, no fever, no pain.",
    "J'ai été piqué par une guêpe sur la main hier, c'est rouge et gonflé, pas de fièvre.",
    "Mon chat m'a griffé le doigt, c'est un peu rouge et gonflé autour, pas de fièvre.",
]
_HOT_JOINT = [
    "A 70-year-old man has a hot, tense effusion of the right knee and a fever of 38.6.",
    "Le genou droit est rouge, chaud et gonflé avec de la fièvre à 38,5.",
    "Homme de 55 ans, gros orteil rouge, chaud, gonflé, très douloureux depuis cette nuit.",
]


@pytest.mark.parametrize(
    ("text", "finding", "present"),
    [
        ("I have a sore tummy", "abdominal_pain", True),
        ("My son has had a sore belly since this morning", "abdominal_pain", True),
        ("my stomach is sore after dinner", "abdominal_pain", True),
        *((text, "mottled_skin", False) for text in _COLOUR_NOT_PALLOR),
        ("My baby has a fever and is very pale and floppy.", "mottled_skin", True),
        ("He has a fever and looks pale and sweaty, with a pink rash.", "mottled_skin", True),
        ("Hier la fièvre est tombée et ce matin elle a des boutons.", "fall", False),
        ("Her temperature fell overnight and she is eating again.", "fall", False),
        ("Mon père est tombé dans l'escalier.", "fall", True),
        ("My mum fell in the kitchen and hit her head.", "fall", True),
        *((text, "hot_swollen_joint", False) for text in _NOT_A_HOT_JOINT),
        *((text, "hot_swollen_joint", True) for text in _HOT_JOINT),
        ("12 weeks pregnant, vomiting twice a day, urine ketones 1+.", "thirst_polyuria", False),
        ("Enceinte de 10 semaines, vomissements, traces de cétones.", "thirst_polyuria", False),
        ("Type 1 diabetic, vomiting, blood ketones 3.8.", "thirst_polyuria", True),
        ("My daughter is vomiting and her ketones are high.", "thirst_polyuria", True),
        ("A 40-year-old non-smoker with a cough for 5 days.", "cardiac_risk", False),
        ("Je suis non-fumeur et je tousse depuis 4 jours.", "cardiac_risk", False),
        ("She has never smoked.", "cardiac_risk", False),
        ("A 58-year-old smoker with chest tightness.", "cardiac_risk", True),
        ("Fumeur depuis 20 ans, douleur dans la poitrine.", "cardiac_risk", True),
    ],
)
def test_a_word_is_read_for_the_phrase_it_is_in(text: str, finding: str, present: bool) -> None:
    assert (finding in assess(text).present_ids) is present


@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        *((text, False) for text in _COLOUR_NOT_PALLOR),
        ("My baby has a fever and is very pale and floppy.", True),
        ("Mon bébé a de la fièvre, il est très pâle avec des marbrures.", True),
        (
            "My 14-month-old had a fever for three days; it has settled but now she has a rash "
            "that does not fade under a glass and she is playful.",
            True,
        ),
        (
            "Ma fille de 14 mois avait de la fièvre, la fièvre est tombée, mais elle a une "
            "éruption qui ne s'efface pas à la pression.",
            True,
        ),
    ],
)
def test_only_the_dangerous_reading_is_an_emergency(text: str, urgent: bool) -> None:
    assert assess(text).level.is_emergency is urgent


def test_a_hot_swollen_joint_is_seen_the_same_day() -> None:
    for text in _HOT_JOINT:
        assert assess(text).level.rank >= Level.CONSULTATION_24.rank, text


def test_a_blanching_rash_as_the_fever_settles_in_a_well_child_is_not_seen_for_the_rash() -> None:
    text = (
        "My 14-month-old had a fever for three days. The fever has settled and this morning "
        "a pink rash came out on her tummy that fades under a glass. She is playful, feeding "
        "well and has wet nappies."
    )
    result = assess(text)
    assert "rash_after_fever_settled" in {r.rule for r in result.reasons}
    assert "rash_fever" not in {r.rule for r in result.reasons}


@pytest.mark.parametrize(
    ("text", "present"),
    [
        ("The pharmacist said if chest pain spreads to your arm, call 999.", False),
        ("Si la douleur irradie dans le bras ou la mâchoire, appelez le 15.", False),
        ("I was told to ring back if your arm or jaw starts to hurt.", False),
        ("My chest pain spreads to my left arm.", True),
        ("La douleur irradie dans le bras gauche depuis une heure.", True),
    ],
)
def test_safety_net_advice_is_not_a_finding(text: str, present: bool) -> None:
    assert ("radiating_arm_jaw" in assess(text).present_ids) is present


def test_a_strain_with_heart_attack_advice_is_not_an_ambulance() -> None:
    text = (
        "I pulled a muscle in my chest lifting boxes; it hurts when I press on it. The "
        "pharmacist said if chest pain spreads to your arm call 999. No pain in my arm or jaw."
    )
    assert assess(text).level is not Level.EMERGENCY_AMBULANCE
