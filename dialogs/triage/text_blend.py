"""The engine's answer and the text model's probabilities combined, under safety limits.

The model may raise: a non-emergency to the emergency department when it is confident of an
emergency, self-care to a consultation (unless a passing self-limiting condition holds that
self-care up). It may lower only a *soft* consultation (one that no
protected reason holds up) to self-care. It never lowers below a red flag, an emergency, a
vital sign (`vital.`), NEWS2 or a matched condition (`condition.`), and it says nothing about
a text shorter than the thresholds' minimum word count. Each move adds a reason that names
the model and its probability, so the answer stays explained and deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from dialogs.base import Language
from dialogs.triage.levels import Level
from dialogs.triage.models import Reason, TriageResult
from dialogs.triage.scopes import Scopes
from dialogs.triage.text_model import TextModel, Thresholds, text_terms, word_count

RULE = "text_model"
_PROTECTED_PREFIXES = ("vital.", "condition.")
_SOFT_LEVELS = frozenset({Level.CONSULTATION, Level.CONSULTATION_24})

_TEXT: dict[str, dict[Language, str]] = {
    "emergency": {
        "en": "A text model trained on {n} triage vignettes reads this as an emergency "
        "(probability {p:.2f}).",
        "fr": "Un modèle de texte entraîné sur {n} vignettes de triage y lit une urgence "
        "(probabilité {p:.2f}).",
    },
    "visit": {
        "en": "A text model trained on {n} triage vignettes reads this as needing a doctor "
        "(probability {p:.2f}).",
        "fr": "Un modèle de texte entraîné sur {n} vignettes de triage y lit un besoin de "
        "consulter (probabilité {p:.2f}).",
    },
    "self_care": {
        "en": "A text model trained on {n} triage vignettes reads this as self-care "
        "(probability {p:.2f}), and no red flag, vital sign or condition calls for a visit.",
        "fr": "Un modèle de texte entraîné sur {n} vignettes de triage y lit des soins à "
        "domicile (probabilité {p:.2f}) et aucun signe d'alerte, signe vital ou affection "
        "n'appelle de consultation.",
    },
}


def protected(reason: Reason) -> bool:
    """A reason the model may never overrule downwards."""
    return (
        reason.red_flag
        or reason.level.is_emergency
        or reason.rule == "news2"
        or reason.rule.startswith(_PROTECTED_PREFIXES)
    )


def reasoned_self_care(result: TriageResult) -> bool:
    """Self-care that passing self-limiting conditions hold up, accounting for every
    complaint (`TriageResult.self_limiting`): the reasoner weighed the findings against those
    illnesses' worrying features and found none, so the words alone do not send it to a visit."""
    return result.level is Level.SELF_CARE and result.self_limiting


def soft(result: TriageResult) -> bool:
    """A consultation that only unprotected reasons (rules, the default) hold up."""
    return result.level in _SOFT_LEVELS and not any(
        protected(r) for r in result.reasons if r.level is not Level.SELF_CARE
    )


def _moved(
    result: TriageResult, level: Level, kind: str, p: float, how: tuple[Language, int, str]
) -> TriageResult:
    language, trained_on, citation = how
    text = _TEXT[kind][language].format(n=trained_on, p=round(p, 2))
    reason = Reason(RULE, level, text, red_flag=False, citation=citation)
    reasons = sorted((reason, *result.reasons), key=lambda r: -r.level.rank)
    if level is Level.SELF_CARE:  # the reason that set the level comes first
        reasons = [reason, *result.reasons]
    return replace(result, level=level, reasons=tuple(reasons))


def decide(
    result: TriageResult,
    probabilities: Mapping[str, float],
    words: int,
    thresholds: Thresholds,
    *,
    language: Language = "en",
    trained_on: int = 0,
    citation: str = "",
) -> TriageResult:
    """RESULT moved by the model's PROBABILITIES (by outcome) for a text of WORDS words."""
    if words < thresholds.min_words:
        return result
    how = (language, trained_on, citation)
    emergency = probabilities["emergency"]
    self_care = probabilities["self_care"]
    if not result.level.is_emergency and emergency >= thresholds.emergency:
        return _moved(result, Level.EMERGENCY, "emergency", emergency, how)
    if (
        result.level is Level.SELF_CARE
        and not reasoned_self_care(result)
        and 1.0 - self_care >= thresholds.visit
    ):
        return _moved(result, Level.CONSULTATION, "visit", 1.0 - self_care, how)
    if soft(result) and self_care >= thresholds.self_care:
        return _moved(result, Level.SELF_CARE, "self_care", self_care, how)
    return result


def blend(
    result: TriageResult, model: TextModel, norm: str, scopes: Scopes, language: Language
) -> TriageResult:
    """The engine's RESULT for normalised text NORM (read into SCOPES) after MODEL's say."""
    words = word_count(norm)
    if words < model.thresholds.min_words:
        return result
    return decide(
        result,
        model.probabilities(text_terms(norm, scopes)),
        words,
        model.thresholds,
        language=language,
        trained_on=model.trained_on,
        citation=model.citation,
    )
