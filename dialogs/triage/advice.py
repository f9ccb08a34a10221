"""Plain-word advice per level and the emergency number of the patient's locale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import yaml

from dialogs.base import Language
from dialogs.triage.levels import Level

# Emergency numbers: 911 in the US and Canada (FCC); in France 15 reaches the SAMU and 112
# the European emergency number (Code des postes et communications électroniques, D98-8).
DEFAULT_EMERGENCY_NUMBERS: Mapping[str, str] = {"en": "911", "fr": "15"}
DEFAULT_EMERGENCY_LABELS: Mapping[str, str] = {"en": "911", "fr": "15 (SAMU) ou le 112"}


@dataclass(frozen=True)
class EmergencyNumbers:
    """Emergency numbers by language (or locale); configurable per deployment."""

    numbers: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_EMERGENCY_NUMBERS))
    labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_EMERGENCY_LABELS))

    def number(self, language: str) -> str:
        """The number to dial, e.g. "911" or "15"."""
        return self.numbers.get(language, self.numbers.get(language[:2], "112"))

    def label(self, language: str) -> str:
        """How to say it in a sentence, e.g. "15 (SAMU) ou le 112"."""
        return self.labels.get(language, self.labels.get(language[:2], self.number(language)))


@dataclass(frozen=True)
class Advice:
    """What a level means and what to do now."""

    title: str
    meaning: str
    action: str


@cache
def _advice_texts() -> dict[str, dict[str, dict[str, str]]]:
    source = resources.files("dialogs.triage.knowledge").joinpath("advice.yaml").read_text("utf-8")
    raw = yaml.safe_load(source)["levels"]
    return {
        level: {part: {str(k): str(v) for k, v in texts.items()} for part, texts in parts.items()}
        for level, parts in raw.items()
    }


def advice_for(level: Level, language: Language, emergency: EmergencyNumbers) -> Advice:
    """The plain-word advice for LEVEL with the locale's emergency number filled in."""
    texts = _advice_texts()[level.value]
    number = emergency.label(language)
    return Advice(
        title=texts["title"][language].format(number=number),
        meaning=texts["meaning"][language].format(number=number),
        action=texts["action"][language].format(number=number),
    )
