"""Condition hits as reasons, and the rules a settled self-limiting illness accounts for."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.base import Language
from dialogs.triage.knowledge_base import CONTEXT_IDS, Knowledge, Rule
from dialogs.triage.levels import Level
from dialogs.triage.models import Reason
from dialogs.triage.reasoner import ConditionHit

_CONTEXT_NAMES: dict[str, dict[str, str]] = {
    "age.neonate": {"en": "under 3 months old", "fr": "moins de 3 mois"},
    "age.infant": {"en": "under 1 year old", "fr": "moins d'un an"},
    "age.child": {"en": "a child", "fr": "un enfant"},
    "age.adult": {"en": "an adult", "fr": "un adulte"},
    "age.older": {"en": "aged 65 or over", "fr": "65 ans ou plus"},
    "sex.female": {"en": "female", "fr": "femme"},
    "sex.male": {"en": "male", "fr": "homme"},
    "pregnancy.before_20w": {
        "en": "under 20 weeks pregnant",
        "fr": "moins de 20 semaines de grossesse",
    },
    "news2.high": {"en": "NEWS2 score 7 or more", "fr": "score NEWS2 de 7 ou plus"},
    "news2.medium": {"en": "NEWS2 score 5 or more", "fr": "score NEWS2 de 5 ou plus"},
}
_WORDS = {
    "en": ("possible {name} (likelihood {p:.0%})", "for", "against", "denied", "none"),
    "fr": ("{name} possible (probabilité {p:.0%})", "pour", "contre", "nié", "aucun"),
}


def finding_name(sid: str, kb: Knowledge, language: Language) -> str:
    """A finding's name for the explanation: a symptom, a vital band or a context fact."""
    symptom = kb.symptoms.get(sid)
    if symptom is not None:
        return symptom.name[language]
    if sid in _CONTEXT_NAMES:
        return _CONTEXT_NAMES[sid][language]
    band = next((b for b in kb.vital_bands if f"vital.{b.id}" == sid), None)
    return band.name[language] if band is not None else sid


def explanation(hit: ConditionHit, kb: Knowledge, language: Language) -> str:
    """ "Possible X (likelihood 80%): for a, b; against c; denied d"."""
    head, w_for, w_against, w_denied, w_none = _WORDS[language]
    parts = [head.format(name=hit.condition.name[language], p=hit.likelihood)]

    def names(ids: tuple[str, ...]) -> str:
        return ", ".join(finding_name(s, kb, language) for s in ids) or w_none

    text = f"{parts[0]}: {w_for} {names(hit.found_for)}"
    if hit.found_against:
        text += f"; {w_against} {names(hit.found_against)}"
    if hit.denied:
        text += f"; {w_denied} {names(hit.denied)}"
    return text


def condition_reasons(
    hits: tuple[ConditionHit, ...], kb: Knowledge, language: Language
) -> list[Reason]:
    """One reason per passing condition, naming the condition and the findings behind it."""
    return [
        Reason(
            rule=f"condition.{hit.condition.id}",
            level=hit.condition.level,
            text=explanation(hit, kb, language),
            red_flag=hit.condition.level.is_emergency,
            citation=hit.condition.cite,
        )
        for hit in hits
        if hit.passes
    ]


@dataclass(frozen=True)
class Settled:
    """What passing self-limiting conditions account for when nothing worse passes."""

    explained: frozenset[str]
    kept_rules: tuple[Rule, ...]


def settle(
    hits: tuple[ConditionHit, ...], fired: list[Rule], present: set[str], kb: Knowledge
) -> Settled:
    """Drop the non-urgent rules whose findings a passing self-limiting condition explains.

    Only when no condition above self-care passes; a red-flag or emergency rule is never
    dropped, nor a rule that matched on a finding the self-limiting illness does not explain.
    """
    passing = [h for h in hits if h.passes]
    if any(h.condition.level is not Level.SELF_CARE for h in passing):
        return Settled(frozenset(), tuple(fired))
    explained = (
        frozenset().union(*(h.condition.explains for h in passing)) if passing else frozenset()
    )
    if not explained:
        return Settled(explained, tuple(fired))
    kept = []
    for rule in fired:
        matched = {
            sid
            for sid in (rule.all | rule.any) & present
            if sid not in CONTEXT_IDS and not (sid in kb.symptoms and kb.symptoms[sid].modifier)
        }
        # A rule for a problem that has lasted too long is not what a self-limiting illness
        # accounts for ("cough for 4 weeks"), nor is a red flag or an emergency.
        droppable = (
            not rule.red_flag
            and not rule.level.is_emergency
            and rule.level is not Level.SELF_CARE
            and rule.duration_min_hours is None
        )
        if droppable and matched and matched <= explained:
            continue
        kept.append(rule)
    return Settled(explained, tuple(kept))
