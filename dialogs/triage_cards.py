"""Adaptive Cards (schema 1.5) for the triage and vitals dialogs: pure builders."""

from __future__ import annotations

from collections.abc import Sequence

from dialogs.base import JSON, Language
from dialogs.triage.advice import Advice
from dialogs.triage.levels import Level

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERSION = "1.5"
YES, NO, UNSURE = "yes", "no", "unsure"
ANSWER_LABELS: dict[Language, dict[str, str]] = {
    "en": {YES: "Yes", NO: "No", UNSURE: "Not sure"},
    "fr": {YES: "Oui", NO: "Non", UNSURE: "Je ne sais pas"},
}
_LEVEL_STYLE = {
    Level.EMERGENCY_AMBULANCE: "attention",
    Level.EMERGENCY: "attention",
    Level.CONSULTATION_24: "warning",
    Level.CONSULTATION: "accent",
    Level.SELF_CARE: "good",
}


def _card(body: list[JSON], actions: list[JSON] | None = None) -> dict[str, JSON]:
    card: dict[str, JSON] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": VERSION}
    card["body"] = body
    if actions:
        card["actions"] = actions
    return card


def _text(text: str, **style: JSON) -> dict[str, JSON]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def question_card(question: str, question_id: str, language: Language) -> dict[str, JSON]:
    """A yes / no / not sure question; the submit data names the question."""
    actions: list[JSON] = [
        {
            "type": "Action.Submit",
            "title": label,
            "data": {"question": question_id, "answer": answer},
        }
        for answer, label in ANSWER_LABELS[language].items()
    ]
    return _card([_text(question, weight="Bolder")], actions)


def outcome_card(
    level: Level, advice: Advice, reasons: Sequence[str], why_label: str
) -> dict[str, JSON]:
    """The outcome: the level in plain words, what to do now, and why."""
    body: list[JSON] = [
        {
            "type": "Container",
            "style": _LEVEL_STYLE[level],
            "items": [
                _text(advice.title, size="Large", weight="Bolder"),
                _text(advice.meaning),
            ],
        },
        _text(advice.action),
        _text(why_label, weight="Bolder", spacing="Medium"),
    ]
    body += [_text(f"- {reason}") for reason in reasons]
    return _card(body)


def image_card(title: str, image_data_uri: str, alt: str, lines: Sequence[str]) -> dict[str, JSON]:
    """A chart image with its title and plain-word lines below it."""
    body: list[JSON] = [
        _text(title, size="Medium", weight="Bolder"),
        {"type": "Image", "url": image_data_uri, "altText": alt, "size": "Stretch"},
    ]
    body += [_text(line) for line in lines]
    return _card(body)
