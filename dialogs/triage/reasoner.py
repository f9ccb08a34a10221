"""The condition reasoner: candidate conditions with a likelihood from the evidence.

Deterministic and linear in the size of the knowledge: each condition's log-odds are its
prior plus the weights of the findings for it that are present, minus those against it
that are present and those it expects that the text denies. The likelihood is the logistic
of that sum. A condition passes when the likelihood reaches its own threshold; the level is
the most urgent passing condition's (the engine combines it with the rules and vitals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dialogs.triage.condition_base import Condition
from dialogs.triage.models import Sex

_TYPICAL_ADULT_AGE = 35.0  # an unknown age counts as an adult's for age limits


@dataclass(frozen=True)
class ConditionEvidence:
    """What the reasoner reads: present and denied finding ids, age, sex, duration."""

    present: frozenset[str]
    absent: frozenset[str] = frozenset()
    age_years: float | None = None
    sex: Sex | None = None
    duration_hours: float | None = None


@dataclass(frozen=True)
class ConditionHit:
    """One condition weighed: its likelihood and the findings for and against it."""

    condition: Condition
    likelihood: float
    found_for: tuple[str, ...]
    found_against: tuple[str, ...]
    denied: tuple[str, ...]

    @property
    def passes(self) -> bool:
        """True when the likelihood reaches the condition's threshold."""
        return self.likelihood >= self.condition.threshold


def _applies(condition: Condition, evidence: ConditionEvidence) -> bool:
    if condition.requires and not condition.requires & evidence.present:
        return False
    age = _TYPICAL_ADULT_AGE if evidence.age_years is None else evidence.age_years
    if condition.age_min is not None and age < condition.age_min:
        return False
    if condition.age_max is not None and age > condition.age_max:
        return False
    if condition.sex is not None and evidence.sex not in (None, condition.sex):
        return False
    duration = evidence.duration_hours
    limit = condition.duration_max_hours
    if duration is not None and limit is not None and duration > limit:
        return False
    if condition.duration_min_hours is not None:
        return duration is not None and duration >= condition.duration_min_hours
    return True


def weigh(condition: Condition, evidence: ConditionEvidence) -> ConditionHit | None:
    """CONDITION's likelihood on EVIDENCE, or None when it does not apply (age, sex, key finding)."""
    if not _applies(condition, evidence):
        return None
    present, absent = evidence.present, evidence.absent
    found_for = tuple(sid for sid, _ in condition.weights_for if sid in present)
    found_against = tuple(sid for sid, _ in condition.weights_against if sid in present)
    denied = tuple(sid for sid, _ in condition.weights_denied if sid in absent)
    logit = condition.prior
    logit += sum(w for sid, w in condition.weights_for if sid in present)
    logit -= sum(w for sid, w in condition.weights_against if sid in present)
    logit -= sum(w for sid, w in condition.weights_denied if sid in absent)
    likelihood = 1.0 / (1.0 + math.exp(-logit))
    return ConditionHit(condition, round(likelihood, 3), found_for, found_against, denied)


def reason_over(
    conditions: tuple[Condition, ...], evidence: ConditionEvidence
) -> tuple[ConditionHit, ...]:
    """Every applicable condition weighed, the most urgent and most likely first."""
    hits = [hit for c in conditions if (hit := weigh(c, evidence)) is not None]
    hits.sort(key=lambda h: (-h.condition.level.rank, -h.likelihood, h.condition.id))
    return tuple(hits)
