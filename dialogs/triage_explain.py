"""The "Why" of a triage outcome in the dialog: reasons that cite only what was reported.

A knowledge rule's reason text names every finding the rule could fire on ("belly pain with
fever and vomiting or yellow skin"); told to a patient who reported no yellow skin it reads as
if they had. Here a rule whose alternatives were not all reported is explained by the
findings that did fire it; each line is said once, and a finding taken as present because
the answer was "not sure" is said to be so.
"""

from __future__ import annotations

from collections.abc import Collection

from dialogs.base import Language
from dialogs.triage.condition_reasons import finding_name
from dialogs.triage.knowledge_base import Knowledge
from dialogs.triage.models import TriageResult

MAX_REASONS = 3

_FIRED_BY: dict[Language, str] = {
    "en": "{findings}: together these need the care advised above",
    "fr": "{findings} : ensemble, ces signes demandent les soins indiqués ci-dessus",
}
_AND: dict[Language, str] = {"en": " and ", "fr": " et "}
_UNSURE: dict[Language, str] = {
    "en": "You were not sure about {findings}, so I counted it as present to be safe.",
    "fr": "Vous n'étiez pas sûr(e) pour {findings} : je l'ai compté comme présent par prudence.",
}


def _joined(names: list[str], language: Language) -> str:
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + _AND[language] + names[-1]


def why_lines(result: TriageResult, kb: Knowledge, language: Language) -> list[str]:
    """Up to three distinct reasons for RESULT's level, each citing reported findings only."""
    present = result.present_ids
    rules = {r.id: r for r in kb.rules}
    lines: list[str] = []
    for reason in result.reasons:
        if reason.level is not result.level:
            continue
        text = reason.text
        rule = rules.get(reason.rule)
        if rule is not None and rule.any and not rule.any <= present:
            fired = sorted(rule.all) + sorted(rule.any & present)
            names = [finding_name(f, kb, language) for f in fired]
            text = _FIRED_BY[language].format(findings=_joined(names, language))
            text = text[0].upper() + text[1:]
        if text not in lines:
            lines.append(text)
        if len(lines) == MAX_REASONS:
            break
    return lines


def unsure_line(unsure: Collection[str], kb: Knowledge, language: Language) -> str | None:
    """The sentence saying which can't-miss findings were counted present on a "not sure"."""
    if not unsure:
        return None
    names = [finding_name(f, kb, language).lower() for f in sorted(unsure)]
    return _UNSURE[language].format(findings=_joined(names, language))
