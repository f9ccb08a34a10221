"""A learned text model of the triage outcome, read from plain JSON, scored in pure Python.

Features: TF-IDF over the words and word pairs of the normalised text, each word tagged with
the context scope the engine's own scope reader puts it in (`no:` negated, `past:` history,
`if:` hypothetical, `other:` someone else), so "no chest pain" and "chest pain" are different
evidence. The weights are a multinomial logistic regression trained by
`python -m dialogs.triage.text_training` (scikit-learn); here only the stored numbers are
used, so the bot imports no scikit-learn and a message costs a few dictionary lookups.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from dialogs.triage.context_rules import Modifier
from dialogs.triage.scopes import Scopes

FORMAT = "carebot-triage-text-model"
VERSION = 1
FEATURES = "scoped-words-and-pairs-v1"
OUTCOMES = ("emergency", "see_doctor", "self_care")
DEFAULT_PATH = Path(__file__).with_name("knowledge") / "text_model.json"

# Tag order is fixed so a word in two scopes ("no history of stroke") has one spelling.
_TAGS = (
    (Modifier.NEGATED, "no:"),
    (Modifier.HISTORICAL, "past:"),
    (Modifier.HYPOTHETICAL, "if:"),
    (Modifier.OTHER, "other:"),
)
# The model reads a text's first 20,000 characters (the engine reads it all): far more than
# any message or clinical note of the training sets, and it bounds the model's cost on a
# megabyte of pasted text to a constant (bench/triage.py's `note_1mb`).
MAX_CHARS = 20_000
_TOKEN = re.compile(r"\w+")
_BREAK = re.compile(r"[.!?;\n]")


class TextModelError(ValueError):
    """A model file that is missing, malformed or made for other features or code."""


@dataclass(frozen=True)
class Thresholds:
    """When the blend lets the model move the engine's level (chosen out of fold)."""

    emergency: float  # P(emergency) at or above which a non-emergency is raised
    visit: float  # P(not self-care) at or above which self-care is raised to a visit
    self_care: float  # P(self-care) at or above which a soft consultation is lowered
    min_words: int  # below this many words the model says nothing


@dataclass(frozen=True)
class TextModel:
    """The stored model: per term its idf and one weight per outcome."""

    terms: dict[str, tuple[float, tuple[float, ...]]]
    intercept: tuple[float, ...]
    thresholds: Thresholds
    training_sha256: str
    trained_on: int  # how many vignettes
    sublinear_tf: bool = True

    @property
    def citation(self) -> str:
        """How a reason names this model: version and the data it was trained on."""
        return (
            f"carebot triage text model v{VERSION} ({FEATURES}), "
            f"{self.trained_on} vignettes, training data sha256 {self.training_sha256[:12]}"
        )

    def probabilities(self, terms: list[str]) -> dict[str, float]:
        """P(outcome) for a document's TERMS (see `text_terms`)."""
        # One pass over the distinct terms: the L2 norm scales every term alike, so the
        # weighted sums are taken first and scaled once (a long note has hundreds of terms).
        vocabulary = self.terms
        sums = [0.0] * len(self.intercept)
        norm = 0.0
        log = math.log
        for term, count in Counter(terms).items():
            row = vocabulary.get(term)
            if row is None:
                continue
            idf, coef = row
            value = ((1.0 + log(count)) if self.sublinear_tf else float(count)) * idf
            norm += value * value
            for k, w in enumerate(coef):
                sums[k] += value * w
        scale = 1.0 / math.sqrt(norm) if norm > 0 else 0.0
        logits = [b + scale * s for b, s in zip(self.intercept, sums, strict=True)]
        top = max(logits)
        exps = [math.exp(z - top) for z in logits]
        total = sum(exps)
        return {o: e / total for o, e in zip(OUTCOMES, exps, strict=True)}


def _tags(tokens: list[re.Match[str]], scopes: Scopes) -> list[str]:
    """Each token's scope tag, by one linear sweep over each modifier's sorted intervals."""
    tags = [""] * len(tokens)
    for modifier, prefix in _TAGS:
        spans = scopes.by_modifier.get(modifier)
        if spans is None:
            continue
        i, n = 0, len(spans.starts)
        for j, token in enumerate(tokens):
            start, end = token.span()
            while i < n and spans.ends[i] <= start:
                i += 1
            if i == n:
                break
            if spans.starts[i] <= start and end <= spans.ends[i]:
                tags[j] += prefix
    return tags


def text_terms(norm: str, scopes: Scopes) -> list[str]:
    """The terms of normalised text NORM: scope-tagged words, and pairs of adjacent words
    within one sentence (of the first MAX_CHARS characters)."""
    norm = norm[:MAX_CHARS]
    tokens = list(_TOKEN.finditer(norm))
    tags = _tags(tokens, scopes)
    words = [tag + token.group() for tag, token in zip(tags, tokens, strict=True)]
    terms = list(words)
    # Sentence breaks found once; a pair is kept when no break lies between its two words.
    breaks = [m.start() for m in _BREAK.finditer(norm)]
    b, n = 0, len(breaks)
    for j in range(1, len(tokens)):
        gap_start = tokens[j - 1].end()
        while b < n and breaks[b] < gap_start:
            b += 1
        if b == n or breaks[b] >= tokens[j].start():
            terms.append(f"{words[j - 1]} {words[j]}")
    return terms


def word_count(norm: str) -> int:
    """How many words normalised text NORM has."""
    return len(_TOKEN.findall(norm))


def _field(raw: dict[str, Any], key: str, kind: type) -> Any:
    value = raw.get(key)
    if not isinstance(value, kind):
        raise TextModelError(f"text model: field {key!r} missing or not {kind.__name__}")
    return value


def model_from_json(raw: object) -> TextModel:
    """A TextModel from parsed JSON; TextModelError when it is not one this code can read."""
    if not isinstance(raw, dict):
        raise TextModelError("text model: not a JSON object")
    if raw.get("format") != FORMAT:
        raise TextModelError(f"text model: format {raw.get('format')!r}, expected {FORMAT!r}")
    if raw.get("version") != VERSION or raw.get("features") != FEATURES:
        raise TextModelError(
            f"text model: version {raw.get('version')!r} with features {raw.get('features')!r};"
            f" this code reads version {VERSION} with {FEATURES!r}: retrain with"
            " `python -m dialogs.triage.text_training`"
        )
    if tuple(_field(raw, "outcomes", list)) != OUTCOMES:
        raise TextModelError(f"text model: outcomes {raw.get('outcomes')!r}, expected {OUTCOMES}")
    intercept = tuple(float(x) for x in _field(raw, "intercept", list))
    terms: dict[str, tuple[float, tuple[float, ...]]] = {}
    for term, row in _field(raw, "terms", dict).items():
        if not isinstance(row, list) or len(row) != 1 + len(OUTCOMES):
            raise TextModelError(
                f"text model: term {term!r} has no idf and {len(OUTCOMES)} weights"
            )
        terms[term] = (float(row[0]), tuple(float(x) for x in row[1:]))
    if len(intercept) != len(OUTCOMES) or not terms:
        raise TextModelError("text model: intercept or vocabulary of the wrong size")
    th = _field(raw, "thresholds", dict)
    try:
        thresholds = Thresholds(
            emergency=float(th["emergency"]),
            visit=float(th["visit"]),
            self_care=float(th["self_care"]),
            min_words=int(th["min_words"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise TextModelError(f"text model: thresholds incomplete ({error})") from error
    return TextModel(
        terms=terms,
        intercept=intercept,
        thresholds=thresholds,
        training_sha256=str(_field(raw, "training_sha256", str)),
        trained_on=int(_field(raw, "trained_on", int)),
        sublinear_tf=bool(raw.get("sublinear_tf", True)),
    )


def read_text_model(path: Path) -> TextModel:
    """The model stored at PATH; TextModelError when missing or not readable by this code."""
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise TextModelError(f"text model {path}: {error}") from error
    return model_from_json(raw)


@lru_cache(maxsize=1)
def load_text_model() -> TextModel:
    """The shipped model (`knowledge/text_model.json`), read once per process."""
    return read_text_model(DEFAULT_PATH)
