"""Everyday phrasings: mild stories stay self-care, non-urgent ones get the right visit."""

from __future__ import annotations

import pytest

from dialogs.triage import Level, assess

MILD = [
    "I have a chest cold with some congestion and a runny nose",
    "Sinus pressure and chest congestion for 3 days",
    "My back hurts after sitting at my desk all day",
    "I have a mild headache and feel tired",
    "Sore throat and a bit of a cough, no fever",
    "I have a stomach bug, some diarrhoea since last night",
    "My toddler has a runny nose and a mild cough but is eating and playing",
    "I have a small blister on my heel from new shoes",
    "My knee is a bit sore after running",
    "I feel a bit nauseous after eating too much",
    "I have a pimple on my chin",
    "Hay fever is making my eyes itchy",
    "I have a cold and feel rundown",
    "My throat is scratchy and I've been sneezing",
    "I've got a tension headache from stress",
    "I have a few mosquito bites that itch",
    "Mild sunburn on my nose",
    "I bumped my head on a cupboard, no loss of consciousness, no vomiting, feel fine",
    "I've got a stuffy nose and my ears feel a bit blocked",
    "Mild period pain, taking ibuprofen",
    "I twisted my wrist slightly, it's a bit sore but I can move it",
    "I have a cold sore",
    "My child has a mild fever of 37.9 and a cold but is playing normally",
    "I have dry skin on my hands",
    "Indigestion after a spicy meal",
    "J'ai un petit rhume et le nez bouché",
    "J'ai mal au dos depuis que j'ai jardiné, rien d'autre",
    "Un peu mal à la tête ce soir, sans fièvre",
    "J'ai une piqûre d'abeille sur la main, un peu gonflée, je respire bien",
    "Mon fils a le nez qui coule et tousse un peu, il joue normalement",
]

NON_URGENT = [
    ("It burns when I pee and I need to go all the time", Level.CONSULTATION_24),
    (
        "My ear has been hurting for 2 days and now there's pus coming out and I have a fever of 38.5 and I'm 40",
        Level.CONSULTATION,
    ),
    ("I've had heartburn most days for 2 months", Level.CONSULTATION),
    ("I've had a lump in my breast for a few weeks", Level.CONSULTATION),
    ("My mole has changed shape and colour", Level.CONSULTATION),
    ("I have a red, hot, swollen area on my arm that's getting bigger", Level.CONSULTATION_24),
    ("My big toe joint is suddenly red, swollen and extremely painful", Level.CONSULTATION_24),
    ("I've been feeling anxious and low for a couple of months", Level.CONSULTATION),
    ("My 2 year old has had a fever for 5 days", Level.CONSULTATION_24),
    ("I've had diarrhoea on and off for a month", Level.CONSULTATION),
    ("I've been vomiting since yesterday and can't keep anything down", Level.CONSULTATION_24),
    ("I keep getting headaches most days for the last 6 weeks", Level.CONSULTATION),
    ("I think I have a kidney infection, pain in my side and fever", Level.CONSULTATION_24),
    ("My period has been very irregular for 6 months", Level.CONSULTATION),
    ("I have a painful rash with blisters on one side of my back", Level.CONSULTATION_24),
    ("I've had ringing in my ears for months", Level.CONSULTATION),
    ("My eye is red and painful and light hurts it", Level.CONSULTATION_24),
    ("I've been losing weight without trying", Level.CONSULTATION),
    ("My ankle is very swollen and I can't walk on it after a fall", Level.CONSULTATION_24),
    ("Blood in my urine but no pain", Level.CONSULTATION),
    ("Pain when passing urine and blood in it, I'm a 60 year old man", Level.CONSULTATION_24),
    ("I've had a cough for 4 weeks", Level.CONSULTATION),
    ("My child has a barking cough", Level.CONSULTATION_24),
]


@pytest.mark.parametrize("text", MILD, ids=lambda t: t[:40])
def test_mild_stories_are_self_care(text: str) -> None:
    result = assess(text)
    assert result.level is Level.SELF_CARE, [r.rule for r in result.reasons]


@pytest.mark.parametrize(("text", "level"), NON_URGENT, ids=lambda t: str(t)[:40])
def test_non_urgent_stories_get_the_right_visit(text: str, level: Level) -> None:
    result = assess(text)
    assert result.level is level, [r.rule for r in result.reasons]
