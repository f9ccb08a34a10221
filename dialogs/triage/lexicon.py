"""Find the lexicon's symptoms in normalised text, present or negated."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialogs.triage.knowledge_base import Knowledge
from dialogs.triage.negation import history_scopes, negated_scopes

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Mention:
    """One symptom found in the text."""

    symptom: str
    words: str
    present: bool


def word_prefixes(text: str) -> frozenset[str]:
    """Every prefix of every word of TEXT: a phrase can match only if its stems are here."""
    return frozenset(w[:n] for w in set(_WORD.findall(text)) for n in range(1, len(w) + 1))


def find_mentions(text: str, knowledge: Knowledge) -> list[Mention]:
    """Every symptom of the lexicon mentioned in normalised TEXT; present wins over negated."""
    scopes = negated_scopes(text, knowledge.negation)
    past = history_scopes(text, knowledge.negation)
    prefixes = word_prefixes(text)
    index = knowledge.phrase_index
    candidates = [item for key in prefixes | {""} for item in index.get(key, ())]
    # Masking phrases first: their spans hide other findings ("bouton de fievre").
    candidates.sort(key=lambda item: not knowledge.symptoms[item[0]].masks)
    masked: list[tuple[int, int]] = []
    found: dict[str, Mention] = {}
    for symptom_id, phrase in candidates:
        previous = found.get(symptom_id)
        if previous is not None and previous.present:
            continue
        if not all(need in prefixes for need in phrase.needs):
            continue
        symptom = knowledge.symptoms[symptom_id]
        complaint = not symptom.modifier
        for match in phrase.pattern.finditer(text):
            if complaint and past.covers(match.start(), match.end()):
                continue  # past history, not the problem now
            if symptom.masks:
                masked.append((match.start(), match.end()))
            elif any(s < match.end() and match.start() < e for s, e in masked):
                continue
            present = not scopes.covers(match.start(), match.end(), phrase.needs)
            if previous is None or (present and not previous.present):
                previous = found[symptom_id] = Mention(symptom_id, match.group(0), present)
            if present:
                break
    return list(found.values())
