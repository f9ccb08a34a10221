"""Find the lexicon's symptoms in normalised text, present or negated, in clinical context."""

from __future__ import annotations

import heapq
import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

from dialogs.triage.context_rules import Modifier
from dialogs.triage.knowledge_base import Knowledge, Phrase
from dialogs.triage.scopes import Intervals, Scopes, context_scopes

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


class _WordIndex:
    """Where each word of a text starts, so a phrase is tried only where its first word is."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.positions: dict[str, list[int]] = {}
        for match in _WORD.finditer(text):
            self.positions.setdefault(match.group(0), []).append(match.start())
        self.vocabulary = sorted(self.positions)

    def matches(self, phrase: Phrase) -> Iterator[re.Match[str]]:
        """PHRASE's matches in text order (the same as `finditer`, found faster)."""
        if phrase.first is None:
            yield from phrase.pattern.finditer(self.text)
            return
        if phrase.first_is_stem:
            lo = bisect_left(self.vocabulary, phrase.first)
            hi = bisect_left(self.vocabulary, phrase.first + "\U0010ffff", lo)
            lists = [self.positions[w] for w in self.vocabulary[lo:hi]]
            starts: Iterator[int] = heapq.merge(*lists) if len(lists) > 1 else iter(*lists)
        else:
            starts = iter(self.positions.get(phrase.first, ()))
        after = 0  # like finditer, matches do not overlap
        for start in starts:
            if start < after:
                continue
            match = phrase.pattern.match(self.text, start)
            if match is not None:
                after = match.end()
                yield match


_LABEL_LOOKBACK = 40  # characters read before a mention for "service de", "treatment for"


def _is_label(text: str, start: int, end: int, knowledge: Knowledge) -> bool:
    """True when the words at START..END name a clinic, a drug or a unit, not a complaint."""
    rules = knowledge.context
    if rules.label_after.match(text, end):
        return True
    return rules.label_before.search(text[max(0, start - _LABEL_LOOKBACK) : start]) is not None


def find_mentions(text: str, knowledge: Knowledge, scopes: Scopes | None = None) -> list[Mention]:
    """Every symptom of the lexicon mentioned in normalised TEXT; present wins over negated.

    A mention that is hypothetical ("return if chest pain") or about someone else ("his
    mother had a stroke") is left out; a past complaint ("history of stroke") too, but a
    past risk factor ("history of asthma") stays.
    """
    if scopes is None:
        scopes = context_scopes(text, knowledge.context)
    prefixes = word_prefixes(text) | {""}
    words = _WordIndex(text)
    # Only the index keys the text's words can start (a set intersection), tried in
    # knowledge order so that the first phrase to match a symptom stays the same.
    index = knowledge.phrase_index
    keys = sorted(prefixes.intersection(index), key=knowledge.phrase_rank.__getitem__)
    candidates = [
        item
        for key in keys
        for item in index[key]
        if all(need in prefixes for need in item[1].needs)
    ]
    # Masking phrases first: their spans hide other findings ("bouton de fievre").
    masked = Intervals.of(
        [
            (match.start(), match.end())
            for symptom_id, phrase in candidates
            if knowledge.symptoms[symptom_id].masks
            for match in words.matches(phrase)
        ]
    )
    found: dict[str, Mention] = {}
    for symptom_id, phrase in candidates:
        previous = found.get(symptom_id)
        if previous is not None and previous.present:
            continue
        symptom = knowledge.symptoms[symptom_id]
        # A location that implies a complaint ("right lower quadrant") is dropped as one.
        complaint = not symptom.modifier or bool(symptom.implies)
        for match in words.matches(phrase):
            start, end = match.start(), match.end()
            if not symptom.masks and masked.overlaps(start, end):
                continue
            modifiers = scopes.modifiers(start, end, phrase.needs)
            if Modifier.HYPOTHETICAL in modifiers or Modifier.OTHER in modifiers:
                continue  # not the patient's, or not now
            if complaint and Modifier.HISTORICAL in modifiers:
                continue  # past history, not the problem now
            if complaint and _is_label(text, start, end, knowledge):
                continue  # "the chest pain clinic", "seizure medication": a name, not a complaint
            present = Modifier.NEGATED not in modifiers
            if previous is None or (present and not previous.present):
                previous = found[symptom_id] = Mention(symptom_id, match.group(0), present)
            if present:
                break
    return list(found.values())
