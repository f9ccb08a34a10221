"""Which follow-up question to ask next: the one whose answer could change the level most."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from dialogs.triage.knowledge_base import Knowledge, Rule, Symptom, load_knowledge
from dialogs.triage.levels import Level
from dialogs.triage.models import TriageResult
from dialogs.triage.rules import Evidence, rule_fires

MAX_QUESTIONS = 8  # issue 5: a typical interview asks about 8 questions at most


@dataclass(frozen=True)
class Question:
    """A yes/no question about one finding, with what a "yes" could lead to."""

    symptom: Symptom
    could_reach: Level


def _evidence(result: TriageResult) -> Evidence:
    present = set(result.present_ids)
    ctx = result.context
    if ctx.age_years is not None:
        present.add("age.adult" if ctx.age_years >= 16 else "age.child")
        if ctx.age_years < 1:
            present.add("age.infant")
        if ctx.age_years < 0.25:
            present.add("age.neonate")
        if ctx.age_years >= 65:
            present.add("age.older")
    if ctx.sex is not None:
        present.add(f"sex.{ctx.sex.value}")
    return Evidence(
        present=frozenset(present),
        age_years=ctx.age_years,
        duration_hours=ctx.duration_hours,
    )


def _unmet(rule: Rule, present: frozenset[str]) -> int:
    """How many more findings RULE needs: each missing `all`, plus one if `any` is unmet."""
    missing = len(rule.all - present)
    if rule.any and not rule.any & present:
        missing += 1
    return missing


def _limits_hold(rule: Rule, evidence: Evidence) -> bool:
    probe = Evidence(
        present=evidence.present | rule.all | rule.any,
        age_years=evidence.age_years,
        duration_hours=evidence.duration_hours,
    )
    return rule_fires(replace(rule, none=frozenset()), probe)


def next_question(
    result: TriageResult,
    asked: Collection[str],
    knowledge: Knowledge | None = None,
    focus: Collection[str] | None = None,
) -> Question | None:
    """The most informative unasked question, or None when no answer could raise the level.

    A candidate counts only through a rule that involves a finding already present (of
    FOCUS, the findings the patient described, when given), so the interview follows the
    complaint. A "yes" that completes a rule above the current
    level ranks first, by that level (red flags before the rest); then a "yes" that leaves
    such a rule one finding short; ties go to the candidate in more rules.
    """
    kb = knowledge or load_knowledge()
    evidence = _evidence(result)
    known = {f.id for f in result.findings} | set(asked)
    absent = {f.id for f in result.findings if not f.present}
    complaint = {sid for sid in result.present_ids if sid in kb.symptoms}
    if focus is not None:
        complaint &= set(focus)  # follow what the patient described, not every answer
    best: tuple[int, int, int, int] | None = None
    chosen: Question | None = None
    for order, symptom in enumerate(kb.symptoms.values()):
        if symptom.ask is None or symptom.id in known:
            continue
        with_it = evidence.present | {symptom.id}
        completes, nearly, rules = Level.SELF_CARE, Level.SELF_CARE, 0
        for rule in kb.rules:
            involved = rule.all | rule.any
            if symptom.id not in involved or not (involved - {symptom.id}) & complaint:
                continue
            if rule.level.rank <= result.level.rank or rule.none & with_it:
                continue
            if rule.all & absent or (rule.any and not rule.any - absent):
                continue  # a "no" already rules it out
            if symptom.id not in rule.all and rule.any & evidence.present:
                continue  # the rule's alternatives are already met: a "yes" adds nothing
            if not _limits_hold(rule, evidence):
                continue
            unmet = _unmet(rule, with_it)
            if unmet == 0 and rule.level.rank > completes.rank:
                completes = rule.level
            elif unmet == 1 and rule.level.rank > nearly.rank:
                nearly = rule.level
            if unmet <= 1:
                rules += 1
        if rules == 0:
            continue
        score = (completes.rank, nearly.rank, rules, -order)
        if best is None or score > best:
            best = score
            reach = completes if completes.rank >= nearly.rank else nearly
            chosen = Question(symptom, reach)
    return chosen


def needs_age(result: TriageResult) -> bool:
    """True when the interview should ask the age: unknown from the text and the record, or
    the text is about someone else (the writer's record then did not count)."""
    return result.context.age_years is None
