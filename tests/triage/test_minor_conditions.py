"""Common self-limiting conditions (NICE CKS) stay self-care when nothing worse is said, and
their red flags still take them out of self-care (issue 12, category 3): infant colic,
period pain, a minor burn. Each with counterparts that must stay urgent."""

from __future__ import annotations

import pytest

from dialogs.triage import Level, assess

_EMERGENCY = {Level.EMERGENCY, Level.EMERGENCY_AMBULANCE}


@pytest.mark.parametrize(
    "text",
    [
        "My 6-week-old baby cries inconsolably every evening for about three hours, "
        "feeding well and gaining weight, no fever, no vomiting.",
        "Mon bébé de 2 mois pleure de façon inconsolable chaque soir depuis une semaine, "
        "il tète bien, pas de fièvre, pas de vomissements.",
    ],
)
def test_colic_in_a_thriving_baby_is_self_care(text: str) -> None:
    result = assess(text)
    assert result.level is Level.SELF_CARE
    assert "infant_colic" in {r.rule for r in result.reasons}


@pytest.mark.parametrize(
    "text",
    [
        # no daily pattern: an inconsolable baby is a red feature (NICE NG143)
        "My 6-week-old baby has been crying inconsolably since this morning.",
        # the pattern with a red feature of another cause
        "My 6-week-old baby cries inconsolably every evening and now has a fever of 38.5.",
        "My 4-month-old cries inconsolably every evening and is vomiting green.",
        "Mon bébé de 3 mois pleure de façon inconsolable chaque soir et ne boit plus.",
        "My 9-month-old screams every evening, drawing up his legs, with blood in his stool.",
    ],
)
def test_crying_with_red_features_stays_an_emergency(text: str) -> None:
    assert assess(text).level in _EMERGENCY


@pytest.mark.parametrize(
    "text",
    [
        "J'ai 33 ans et j'ai mes règles depuis hier avec les mêmes douleurs au bas-ventre "
        "que d'habitude. Test de grossesse négatif, pas de fièvre, l'ibuprofène me soulage.",
        "I'm 24 and on my period with the usual cramping pain low in my belly, "
        "ibuprofen helps, no fever.",
    ],
)
def test_usual_period_pain_is_self_care(text: str) -> None:
    assert assess(text).level is Level.SELF_CARE


@pytest.mark.parametrize(
    "text",
    [
        # pregnancy or shock with pelvic pain is not period pain (ectopic, NICE NG126)
        "I'm 6 weeks pregnant, bleeding like a period with pain low in my belly and I fainted.",
        "J'ai mes règles avec une douleur violente au bas-ventre, je me suis évanouie "
        "et j'ai mal à l'épaule.",
    ],
)
def test_pelvic_pain_with_red_flags_is_not_period_pain(text: str) -> None:
    assert assess(text).level in _EMERGENCY


def test_a_small_superficial_burn_cooled_at_home_is_self_care() -> None:
    text = (
        "A 29-year-old man spilled hot coffee on his thigh twenty minutes ago and cooled it "
        "under running water. There is a 4 cm red, tender area with no blisters."
    )
    assert assess(text).level is Level.SELF_CARE


@pytest.mark.parametrize(
    "text",
    [
        "My son burned his face and hands with a chemical burn.",
        "I burned my arm on the stove, it is a large burn with white skin.",
    ],
)
def test_serious_burns_are_not_minor(text: str) -> None:
    assert assess(text).level not in {Level.SELF_CARE, Level.CONSULTATION}
