"""Negation scopes in the NegEx manner: "no chest pain", "denies fever", "pas de fièvre"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialogs.triage.knowledge_base import Negation
from dialogs.triage.normalise import sentences

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Scopes:
    """The negated character ranges of one normalised text, with their trigger words."""

    spans: tuple[tuple[int, int], ...]
    triggers: tuple[str, ...]

    def covers(self, start: int, end: int, own_words: tuple[str, ...] = ()) -> bool:
        """True when the mention START..END lies in a negated range, or when a trigger that is
        not one of the phrase's OWN_WORDS sits in a gap of it ("ear, no discharge")."""
        for (s, e), trigger in zip(self.spans, self.triggers, strict=True):
            if s <= start and end <= e:
                return True
            if start < s < end <= e and trigger and not set(trigger.split()) <= set(own_words):
                return True
        return False


def _forward_end(sentence: str, offset: int, at: int, rules: Negation) -> int:
    """Where a scope opened at AT ends: a terminator, the sentence end, or a list item longer
    than the word window. A comma starts a new item, so "denies chest pain, dyspnoea, ...,
    rash or numbness" stays negated to the end of the list."""
    rest = sentence[at:]
    stop = len(rest)
    terminator = rules.terminators.search(rest)
    if terminator:
        stop = terminator.start()
    words_in_item = 0
    previous_end = 0
    for word in _WORD.finditer(rest[:stop]):
        if "," in rest[max(previous_end - 1, 0) : word.start()]:  # tokens keep their commas
            words_in_item = 0
        words_in_item += 1
        if words_in_item > rules.window_words:
            return offset + at + word.start()
        previous_end = word.end()
    return offset + at + stop


def negated_scopes(text: str, rules: Negation) -> Scopes:
    """Find every negated range of normalised TEXT."""
    spans: list[tuple[int, int]] = []
    triggers: list[str] = []
    for start, end in sentences(text):
        sentence = text[start:end]
        pseudo = [(m.start(), m.end()) for m in rules.pseudo.finditer(sentence)]
        for trigger in rules.before.finditer(sentence):
            if any(ps <= trigger.start() < pe for ps, pe in pseudo):
                continue
            spans.append(
                (start + trigger.end(), _forward_end(sentence, start, trigger.end(), rules))
            )
            triggers.append(trigger.group(0))
        for trigger in rules.after.finditer(sentence):
            # "chest pain: none", "fever absent": back to the previous terminator, 4 words at most.
            head = sentence[: trigger.start()]
            cut = 0
            for term in rules.terminators.finditer(head):
                cut = term.end()
            words = list(_WORD.finditer(head[cut:]))[-4:]
            if words:
                spans.append((start + cut + words[0].start(), start + trigger.end()))
                triggers.append("")
    return Scopes(tuple(spans), tuple(triggers))


_DURATION_BEFORE = re.compile(
    r"\b(?:\d+|a|one|two|few|several)\s+(?:hours?|days?|weeks?|months?|years?)\s*$"
)


def history_scopes(text: str, rules: Negation) -> Scopes:
    """Ranges of normalised TEXT that tell past history ("history of stroke"), not now."""
    spans: list[tuple[int, int]] = []
    for start, end in sentences(text):
        sentence = text[start:end]
        for trigger in rules.history.finditer(sentence):
            if _DURATION_BEFORE.search(sentence, 0, trigger.start()):
                continue  # "a 2 day history of chest pain" is the current problem
            rest = sentence[trigger.end() :]
            stop = len(rest)
            terminator = rules.terminators.search(rest)
            if terminator:
                stop = terminator.start()
            words = list(_WORD.finditer(rest))
            if len(words) > rules.history_window_words:
                stop = min(stop, words[rules.history_window_words].start())
            stop = min(stop, _first_comma(rest))
            spans.append((start + trigger.end(), start + trigger.end() + stop))
    return Scopes(tuple(spans), ("",) * len(spans))


def _first_comma(text: str) -> int:
    """Where a history scope stops at the latest: "history of asthma, now wheezing"."""
    found = text.find(",")
    return found if found >= 0 else len(text)
