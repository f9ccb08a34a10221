"""The triage engine: text, record and device vitals in; level, reasons and findings out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from dialogs.base import Language
from dialogs.triage.condition_reasons import condition_reasons, finding_name, settle
from dialogs.triage.context_rules import Modifier
from dialogs.triage.context_text import (
    about_someone_else,
    gestation_weeks,
    parse_age,
    parse_duration_hours,
    parse_pain_score,
    parse_sex,
    states_gestation,
)
from dialogs.triage.knowledge_base import Knowledge, Rule, load_knowledge
from dialogs.triage.levels import Level, most_urgent
from dialogs.triage.lexicon import Mention, find_mentions
from dialogs.triage.models import (
    ConditionView,
    Context,
    Finding,
    Patient,
    Reason,
    Sex,
    TriageResult,
    VitalKind,
    VitalReading,
)
from dialogs.triage.normalise import normalise
from dialogs.triage.physiology import assess_physiology, parse_capillary_refill
from dialogs.triage.reasoner import ConditionEvidence, ConditionHit, reason_over
from dialogs.triage.rules import Evidence, fired_rules
from dialogs.triage.scopes import Scopes, context_scopes
from dialogs.triage.text_blend import blend
from dialogs.triage.text_model import TextModel
from dialogs.triage.vitals_judge import VitalJudgement, judge_vitals, news2_level, news2_score
from dialogs.triage.vitals_text import parse_gcs, parse_vitals

_NEWS2_MIN_PARAMETERS = 3  # an aggregate over fewer parameters says little
_FEVER_CELSIUS = 38.0  # NICE NG143
_NEWS2_MIN_AGE = 16  # RCP NEWS2 is validated for adults only: a child's vitals score differently
_STABLE_ANGINA_HOURS = 14 * 24
_GCS_NORMAL = 15
_GCS_LOW = 12  # NICE NG232: GCS < 13 at any point is a CT within 1 hour
_ALTERED = frozenset({"confusion", "unresponsive"})  # qSOFA's altered mentation
_NOT_NOW = frozenset({Modifier.HISTORICAL, Modifier.HYPOTHETICAL, Modifier.OTHER})
_PRE_ECLAMPSIA_FROM_WEEK = 20  # NICE NG133: pre-eclampsia is new hypertension after 20 weeks


def _age_ids(age: float | None) -> set[str]:
    if age is None:
        return set()
    ids = {"age.adult" if age >= 16 else "age.child"}
    if age < 0.25:  # under 3 months: NICE NG143 fever thresholds
        ids.add("age.neonate")
    if age < 1:
        ids.add("age.infant")
    if age >= 65:
        ids.add("age.older")
    return ids


def _stable_exertional_pain(present: set[str], duration_hours: float | None) -> bool:
    """Chest pain on effort that settles with rest, never at rest, unchanged for 2 weeks or
    more: stable angina's pattern (NICE CG95), not an acute coronary syndrome's."""
    return (
        {"chest_pain", "settles_with_rest"} <= present
        and not present & {"rest_pain", "worsening", "sweating", "syncope", "severe_dyspnoea"}
        and duration_hours is not None
        and duration_hours >= _STABLE_ANGINA_HOURS
    )


def _gcs_ids(gcs: int | None) -> set[str]:
    """A Glasgow Coma Scale below 15 is reduced consciousness; 12 or less is a low one."""
    if gcs is None or gcs >= _GCS_NORMAL:
        return set()
    return {"gcs.reduced", "gcs.low"} if gcs <= _GCS_LOW else {"gcs.reduced"}


def _context(text: str, patient: Patient, present: set[str], scopes: Scopes) -> Context:
    # "a DVT 2 years ago", "his mother had a stroke at 60", "return if it lasts 3 days":
    # neither the patient's age nor how long the problem has lasted.
    own = scopes.blank(text, _NOT_NOW)
    other = about_someone_else(text)
    # The writer's record does not describe the person unwell when the text is about another.
    record = Patient() if other and patient.from_writer_record else patient
    age = parse_age(own)
    if age is None:
        age = record.age_years
    sex = record.sex or parse_sex(own)
    pain = parse_pain_score(text)
    severity = None
    if "severe" in present or (pain is not None and pain >= 7):
        severity = "severe"
    elif "mild" in present or (pain is not None and pain <= 3):
        severity = "mild"
    return Context(
        age_years=age,
        sex=sex,
        pregnant=bool(record.pregnant) or "pregnant" in present or states_gestation(own),
        duration_hours=parse_duration_hours(own),
        sudden_onset="sudden_onset" in present,
        severity=severity,
        pain_score=pain,
        about_someone_else=other,
    )


def _extract(
    norm: str, kb: Knowledge, answers: dict[str, bool] | None, scopes: Scopes
) -> tuple[list[Mention], set[str], set[str]]:
    """Mentions in the text, then the present and absent finding ids after the answers."""
    mentions = find_mentions(norm, kb, scopes)
    present = {m.symptom for m in mentions if m.present}
    absent = {m.symptom for m in mentions if not m.present}
    for sid in list(present):
        present |= kb.symptoms[sid].implies
    for sid, yes in (answers or {}).items():
        (present if yes else absent).add(sid)
        (absent if yes else present).discard(sid)
    return mentions, present, absent


def _vital_reasons(judged: list[VitalJudgement], language: Language) -> list[Reason]:
    """One reason per band with a level that a reading fell in."""
    return [
        Reason(
            rule=f"vital.{j.band.id}",
            level=j.band.level,
            text=_vital_text(j.band.reason[language], j.reading, language),
            red_flag=j.band.red_flag,
            citation=j.band.cite,
        )
        for j in judged
        if j.band.level is not None
    ]


def _news2_reason(
    vitals: tuple[VitalReading, ...], confused: bool, kb: Knowledge, language: Language
) -> Reason | None:
    """The NEWS2 aggregate as a reason, when enough parameters were measured."""
    score, parameters = news2_score(vitals, confused, kb)
    if parameters < _NEWS2_MIN_PARAMETERS:
        return None
    hit = news2_level(score, kb)
    if hit is None:
        return None
    level, threshold = hit
    reason = next(t.reason for t in kb.news2_thresholds if t.min_score == threshold)
    return Reason(
        rule="news2",
        level=level,
        text=reason[language].format(score=score),
        red_flag=level.is_emergency,
        citation=kb.news2_cite,
    )


def _default_reason(
    fired: list[Rule] | tuple[Rule, ...],
    present: set[str],
    has_reasons: bool,
    kb: Knowledge,
    language: Language,
    explained: frozenset[str] = frozenset(),
) -> Reason | None:
    """A complaint no fired rule or settled condition covers (or nothing recognised) needs
    a doctor's review."""
    covered = set(explained).union(*(rule.all | rule.any | rule.explains for rule in fired))
    complaints = {sid for sid in present if not kb.symptoms[sid].modifier}
    uncovered = complaints - covered
    if not uncovered and has_reasons:
        return None
    names = ", ".join(sorted(kb.symptoms[s].name[language] for s in uncovered))
    template = kb.default_reason if complaints else kb.unknown_reason
    return Reason("default", Level.CONSULTATION, template[language].format(symptoms=names))


def assess(
    text: str,
    *,
    language: Language = "en",
    patient: Patient | None = None,
    device_vitals: Iterable[VitalReading] = (),
    answers: dict[str, bool] | None = None,
    knowledge: Knowledge | None = None,
    text_model: TextModel | None = None,
) -> TriageResult:
    """Triage TEXT (a message or a whole vignette) with the record, device vitals and answers.

    ANSWERS are the patient's yes/no replies to follow-up questions, by finding id; they
    override what the text said about the same finding. TEXT_MODEL, when given, may move the
    level within the safety limits of `text_blend`.
    """
    kb = knowledge or load_knowledge()
    norm = normalise(text)
    scopes = context_scopes(norm, kb.context)
    mentions, present, absent = _extract(norm, kb, answers, scopes)
    context = _context(norm, patient or Patient(), present, scopes)
    if context.severity == "severe":
        present.add("severe")
    if context.pregnant:
        present.add("pregnant")
    context_ids = _age_ids(context.age_years)
    if context.sex is not None:
        context_ids.add(f"sex.{context.sex.value}")
    if context.sex is Sex.MALE:
        present.discard("pregnant")

    if _stable_exertional_pain(present, context.duration_hours):
        context_ids.add("chest_pain.stable")
    own = scopes.blank(norm, _NOT_NOW)  # "BP 80/50 last year", "return if T > 39": not now
    weeks = gestation_weeks(own) if "pregnant" in present else None
    if weeks is not None and weeks < _PRE_ECLAMPSIA_FROM_WEEK:
        context_ids.add("pregnancy.before_20w")
    vitals = tuple(parse_vitals(own)) + tuple(device_vitals)
    context_ids |= _gcs_ids(parse_gcs(own))
    temperatures = [v.value for v in vitals if v.kind is VitalKind.TEMPERATURE]
    if temperatures and max(temperatures) < _FEVER_CELSIUS and not (answers or {}).get("fever"):
        present.discard("fever")  # "a temperature of 37.8" is a measured no-fever, not a fever
    judged = judge_vitals(vitals, frozenset(context_ids | present), kb)
    for j in judged:
        present |= j.band.implies
        absent -= j.band.implies
    reasons = _vital_reasons(judged, language)
    adult = context.age_years is None or context.age_years >= _NEWS2_MIN_AGE
    news2 = _news2_reason(vitals, "confusion" in present, kb, language) if adult else None
    if news2 is not None:
        reasons.append(news2)
        context_ids.add(
            "news2.high" if news2.level is Level.EMERGENCY_AMBULANCE else "news2.medium"
        )

    context_ids |= assess_physiology(
        vitals,
        age_years=context.age_years,
        altered_mentation=bool(present & _ALTERED) or "gcs.reduced" in context_ids,
        capillary_refill_s=parse_capillary_refill(own),
        limits=kb.physiology,
    ).ids
    evidence = Evidence(
        present=frozenset(present | context_ids | {f"vital.{j.band.id}" for j in judged}),
        absent=frozenset(absent),
        age_years=context.age_years,
        duration_hours=context.duration_hours,
    )
    hits = reason_over(
        kb.conditions,
        ConditionEvidence(
            present=evidence.present,
            absent=evidence.absent,
            age_years=context.age_years,
            sex=context.sex,
            duration_hours=context.duration_hours,
        ),
    )
    settled = settle(hits, fired_rules(evidence, kb), present, kb)
    fired = settled.kept_rules
    reasons += [Reason(r.id, r.level, r.reason[language], r.red_flag, r.cite) for r in fired]
    reasons += _capped(condition_reasons(hits, kb, language), reasons)
    default = _default_reason(fired, present, bool(reasons), kb, language, settled.explained)
    if default is not None:
        reasons.append(default)
    reasons.sort(key=lambda r: -r.level.rank)
    words = {m.symptom: m.words for m in mentions}
    level = most_urgent([r.level for r in reasons], Level.CONSULTATION)
    result = TriageResult(
        level=level,
        reasons=tuple(reasons),
        findings=_findings(present, absent, judged, kb, language, words),
        vitals=vitals,
        context=context,
        conditions=tuple(_view(h, kb, language) for h in hits),
        self_limiting=level is Level.SELF_CARE and _self_limiting(hits, present, kb),
    )
    return result if text_model is None else blend(result, text_model, norm, scopes, language)


def _self_limiting(hits: tuple[ConditionHit, ...], present: set[str], kb: Knowledge) -> bool:
    """True when passing self-limiting conditions, and nothing above self-care, account for
    every complaint present (NICE CKS: a self-limiting illness without worrying features is
    self-care with safety-netting)."""
    passing = [h for h in hits if h.passes]
    if not passing or any(h.condition.level is not Level.SELF_CARE for h in passing):
        return False
    explained = frozenset().union(*(h.condition.explains for h in passing))
    complaints = {s for s in present if s in kb.symptoms and not kb.symptoms[s].modifier}
    return complaints <= explained


def _capped(found: list[Reason], others: list[Reason]) -> list[Reason]:
    """Conditions raise a non-urgent answer to an emergency; when the rules and vitals already
    make it one, their finer call (ambulance or emergency department) stands."""
    top = most_urgent([r.level for r in others], Level.SELF_CARE)
    if not top.is_emergency:
        return found
    return [replace(r, level=top) if r.level.rank > top.rank else r for r in found]


def _view(hit: ConditionHit, kb: Knowledge, language: Language) -> ConditionView:
    return ConditionView(
        id=hit.condition.id,
        name=hit.condition.name[language],
        level=hit.condition.level,
        likelihood=hit.likelihood,
        threshold=hit.condition.threshold,
        passes=hit.passes,
        found_for=tuple(finding_name(s, kb, language) for s in hit.found_for),
        found_against=tuple(finding_name(s, kb, language) for s in hit.found_against + hit.denied),
        citation=hit.condition.cite,
    )


def _vital_text(template: str, reading: VitalReading, language: Language) -> str:
    value = f"{reading.value:g}"
    source = reading.source if reading.source != "text" else ""
    text = template.format(value=value)
    return f"{text} ({source})" if source else text


def _findings(
    present: set[str],
    absent: set[str],
    judged: list[VitalJudgement],
    kb: Knowledge,
    language: Language,
    mentions_text: dict[str, str],
) -> tuple[Finding, ...]:
    out: list[Finding] = []
    for sid in sorted(present | absent):
        symptom = kb.symptoms.get(sid)
        if symptom is None:
            continue
        out.append(
            Finding(
                id=sid,
                name=symptom.name[language],
                present=sid in present,
                snomed=symptom.snomed,
                evidence=mentions_text.get(sid, ""),
            )
        )
    seen: set[str] = set()
    for item in judged:
        fid = f"vital.{item.band.id}"
        if fid in seen:
            continue
        seen.add(fid)
        out.append(
            Finding(
                id=fid,
                name=item.band.name[language],
                snomed=item.band.snomed,
                evidence=f"{item.reading.kind.value} {item.reading.value:g} ({item.reading.source})",
            )
        )
    return tuple(out)
