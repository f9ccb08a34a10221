"""The trigger words of clinical context (ConText), read from `knowledge/context.yaml`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dialogs.triage.normalise import normalise, trie_source


class Modifier(StrEnum):
    """How the context changes a finding (ConText's categories)."""

    NEGATED = "negated"  # "no chest pain", "pas de fièvre"
    HISTORICAL = "historical"  # "history of stroke", "a DVT 2 years ago"
    HYPOTHETICAL = "hypothetical"  # "return if chest pain", "en cas de fièvre"
    OTHER = "other_experiencer"  # "his mother had a stroke", "family history of MI"


@dataclass(frozen=True)
class ContextRules:
    """Words that open, close or fake a context scope, all languages."""

    negation_before: re.Pattern[str]
    negation_after: re.Pattern[str]
    pseudo: re.Pattern[str]
    terminators: re.Pattern[str]
    window_words: int
    history_before: re.Pattern[str]
    history_after: re.Pattern[str]
    history_window_words: int
    hypothetical: re.Pattern[str]
    other_experiencer: re.Pattern[str]
    sections: re.Pattern[str]  # a header followed by a colon; group names give the modifier
    label_after: re.Pattern[str]  # matched at a mention's end: "chest pain| clinic"
    label_before: re.Pattern[str]  # searched just before a mention: "service de |cardiologie"


def literal_words(words: list[str]) -> re.Pattern[str]:
    """Literal phrases (no `*` or `~`) as one word-bounded trie regex: linear in the text."""
    phrases = sorted({normalise(w) for w in words})
    if not phrases or any("*" in p or "~" in p for p in phrases):
        raise ValueError("context words are literal (no * or ~) and a list is not empty")
    return re.compile(r"(?<![\w])" + trie_source(phrases) + r"(?![\w])")


_SECTION_GROUPS = {
    "historical": Modifier.HISTORICAL,
    "other_experiencer": Modifier.OTHER,
    "hypothetical": Modifier.HYPOTHETICAL,
}


def section_modifier(match: re.Match[str]) -> Modifier:
    """The modifier of a matched section header."""
    return _SECTION_GROUPS[match.lastgroup or ""]


def _words(raw: Any, key: str) -> list[str]:
    items = raw.get(key)
    if not isinstance(items, list) or not all(isinstance(w, str) for w in items):
        raise ValueError(f"context.yaml: {key} must be a list of words")
    return items


def context_rules(raw: Any) -> ContextRules:
    """Check and compile the parsed context.yaml."""
    if not isinstance(raw, dict) or not isinstance(raw.get("sections"), dict):
        raise ValueError("context.yaml: needs trigger lists and a `sections` mapping")
    sections = raw["sections"]
    if set(sections) != set(_SECTION_GROUPS):
        raise ValueError(f"context.yaml: sections are {sorted(_SECTION_GROUPS)}")
    headers = "|".join(
        f"(?P<{name}>{trie_source(sorted({normalise(w) for w in _words(sections, name)}))})"
        for name in _SECTION_GROUPS
    )
    return ContextRules(
        negation_before=literal_words(_words(raw, "before")),
        negation_after=literal_words(_words(raw, "after")),
        pseudo=literal_words(_words(raw, "pseudo")),
        terminators=literal_words(_words(raw, "terminators")),
        window_words=int(raw["window_words"]),
        history_before=literal_words(_words(raw, "history")),
        history_after=literal_words(_words(raw, "history_after")),
        history_window_words=int(raw["history_window_words"]),
        hypothetical=literal_words(_words(raw, "hypothetical")),
        other_experiencer=literal_words(_words(raw, "other_experiencer")),
        sections=re.compile(r"(?<![\w])(?:" + headers + r")\s*:"),
        label_after=re.compile(
            r"\s+(?:"
            + trie_source(sorted({normalise(w) for w in _words(raw, "label_after")}))
            + r")(?![\w])"
        ),
        label_before=re.compile(
            r"(?<![\w])(?:"
            + trie_source(sorted({normalise(w) for w in _words(raw, "label_before")}))
            + r")\s+$"
        ),
    )
