"""Symptom triage: a pure, explainable engine whose medical knowledge is YAML data.

`assess(text, ...)` reads a patient message or a whole clinical vignette (with the
record's age/sex/pregnancy, recent device vitals and follow-up answers) and returns a
`TriageResult`: one of the five `Level`s, the reasons (fired rules with citations), the
red flags and the findings with SNOMED CT codes. Knowledge lives under `knowledge/`.
"""

from dialogs.triage.engine import assess
from dialogs.triage.levels import Level
from dialogs.triage.models import (
    Context,
    Finding,
    Patient,
    Reason,
    Sex,
    TriageResult,
    VitalKind,
    VitalReading,
)

__all__ = [
    "Context",
    "Finding",
    "Level",
    "Patient",
    "Reason",
    "Sex",
    "TriageResult",
    "VitalKind",
    "VitalReading",
    "assess",
]
