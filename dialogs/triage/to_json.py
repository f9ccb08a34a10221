"""The JSON form of a triage result (CLI `--json`, records, dialog results)."""

from __future__ import annotations

from dialogs.base import JSON
from dialogs.triage.models import ConditionView, Finding, Reason, TriageResult, VitalReading


def _reason(reason: Reason) -> dict[str, JSON]:
    return {
        "rule": reason.rule,
        "level": reason.level.value,
        "text": reason.text,
        "red_flag": reason.red_flag or reason.level.is_emergency,
        "citation": reason.citation,
    }


def _finding(finding: Finding) -> dict[str, JSON]:
    return {
        "id": finding.id,
        "name": finding.name,
        "present": finding.present,
        "snomed": finding.snomed,
        "evidence": finding.evidence,
    }


def _vital(reading: VitalReading) -> dict[str, JSON]:
    return {
        "kind": reading.kind.value,
        "loinc": reading.kind.loinc,
        "value": reading.value,
        "unit": reading.kind.unit,
        "source": reading.source,
        "time": reading.time.isoformat() if reading.time else None,
    }


def _condition(view: ConditionView) -> dict[str, JSON]:
    return {
        "id": view.id,
        "name": view.name,
        "level": view.level.value,
        "likelihood": view.likelihood,
        "threshold": view.threshold,
        "passes": view.passes,
        "for": list(view.found_for),
        "against": list(view.found_against),
        "citation": view.citation,
    }


def result_to_json(result: TriageResult) -> dict[str, JSON]:
    """Level, reasons, red flags, findings, vitals and context as plain JSON."""
    ctx = result.context
    return {
        "level": result.level.value,
        "window_hours": result.level.window_hours,
        "reasons": [_reason(r) for r in result.reasons],
        "red_flags": [_reason(r) for r in result.red_flags],
        "findings": [_finding(f) for f in result.findings],
        "vitals": [_vital(v) for v in result.vitals],
        "conditions": [_condition(c) for c in result.conditions if c.likelihood >= 0.05],
        "context": {
            "age_years": ctx.age_years,
            "sex": ctx.sex.value if ctx.sex else None,
            "pregnant": ctx.pregnant,
            "duration_hours": ctx.duration_hours,
            "sudden_onset": ctx.sudden_onset,
            "severity": ctx.severity,
            "pain_score": ctx.pain_score,
            "about_someone_else": ctx.about_someone_else,
        },
    }
