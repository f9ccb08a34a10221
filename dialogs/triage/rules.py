"""Match the knowledge's rules against the evidence."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.triage.knowledge_base import Knowledge, Rule


@dataclass(frozen=True)
class Evidence:
    """What the rules look at: present and negated finding ids, age, duration."""

    present: frozenset[str]
    absent: frozenset[str] = frozenset()
    age_years: float | None = None
    duration_hours: float | None = None


def rule_fires(rule: Rule, evidence: Evidence) -> bool:
    """True when every condition of RULE holds for EVIDENCE."""
    if not rule.all <= evidence.present:
        return False
    if rule.any and not rule.any & evidence.present:
        return False
    if rule.none & evidence.present:
        return False
    age = evidence.age_years
    if rule.age_min is not None and (age is None or age < rule.age_min):
        return False
    if rule.age_max is not None and (age is None or age > rule.age_max):
        return False
    duration = evidence.duration_hours
    if rule.duration_min_hours is not None and (
        duration is None or duration < rule.duration_min_hours
    ):
        return False
    # An unknown duration is taken as short: a "max" rule is how acute problems escalate.
    return not (
        rule.duration_max_hours is not None
        and duration is not None
        and duration > rule.duration_max_hours
    )


def fired_rules(evidence: Evidence, knowledge: Knowledge) -> list[Rule]:
    """Every rule that fires, in file order."""
    return [rule for rule in knowledge.rules if rule_fires(rule, evidence)]
