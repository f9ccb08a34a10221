"""Find the lexicon's symptoms in normalised text, present or negated."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.triage.knowledge_base import Knowledge
from dialogs.triage.negation import negated_scopes


@dataclass(frozen=True)
class Mention:
    """One symptom found in the text."""

    symptom: str
    words: str
    present: bool


def find_mentions(text: str, knowledge: Knowledge) -> list[Mention]:
    """Every symptom of the lexicon mentioned in normalised TEXT; present wins over negated."""
    scopes = negated_scopes(text, knowledge.negation)
    found: dict[str, Mention] = {}
    for symptom in knowledge.symptoms.values():
        if symptom.pattern is None:
            continue
        for match in symptom.pattern.finditer(text):
            present = not scopes.covers(match.start(), match.end())
            previous = found.get(symptom.id)
            if previous is None or (present and not previous.present):
                found[symptom.id] = Mention(symptom.id, match.group(0), present)
            if present:
                break
    return list(found.values())
