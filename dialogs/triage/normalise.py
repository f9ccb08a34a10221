"""Text normalisation shared by the lexicon, the negation scopes and the vitals parser."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_APOSTROPHES = re.compile(r"[’‘`'\-_\"“”«»]")
_SPACES = re.compile(r"\s+")
# A sentence ends at . ! ? ; or a line break, but a decimal point (38.5) is not an end.
_SENTENCE_END = re.compile(r"(?<!\d)[.!?;]|[.!?;](?!\d)|\n")


def normalise(text: str) -> str:
    """Lower-case, strip accents, turn apostrophes and hyphens into spaces, squeeze spaces.

    Offsets are not kept: every later step (lexicon, negation, vitals) reads this form.
    """
    if text.isascii():  # no accents to strip: NFKD leaves ASCII unchanged
        stripped = text
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    lowered = stripped.lower().replace("œ", "oe").replace("æ", "ae")
    lowered = lowered.replace("\r", "\n")
    lines = [_SPACES.sub(" ", _APOSTROPHES.sub(" ", line)).strip() for line in lowered.split("\n")]
    return "\n".join(line for line in lines if line)


def sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences of already normalised TEXT."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


# Words of a phrase may be parted by spaces and commas ("red, hot, swollen") but not by
# the end of a sentence; `~` skips up to three words, but not across a comma.
_SEPARATOR = r"[^\w.!?\n]+"
_GAP = r"(?:\w+[^\w.!?,;\n]+){0,3}?"  # skipped words stay within one list item
_LONG_GAP = r"(?:\w+[^\w.!?,;\n]+){0,6}?"


def compile_phrase(phrase: str) -> str:
    """Regex source for a lexicon phrase: `*` ends a word stem, `~` skips up to 3 words, `~~` up to 6."""
    parts: list[str] = []
    for token in normalise(phrase).split(" "):
        if token in ("~", "~~"):
            parts.append(_GAP if token == "~" else _LONG_GAP)
            continue
        escaped = re.escape(token).replace(r"\*", r"\w*")
        parts.append(escaped + _SEPARATOR)
    source = "".join(parts)
    if source.endswith(_SEPARATOR):
        source = source[: -len(_SEPARATOR)]
    return r"(?<![\w])" + source + r"(?![\w])"


def trie_source(words: list[str]) -> str:
    """One regex for literal WORDS, as a trie, so matching is linear in the text."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def walk(node: dict[str, Any]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + walk(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if ends else body

    return walk(trie)
