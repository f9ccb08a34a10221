"""Which versions on the change feed are alerts (pure).

- a clinical note: a DocumentReference created (version 1) with a clinical-note type;
- a Flag that is active and new, or active again after an inactive version (re-opened);
- a RiskAssessment whose prediction is high risk and was not before (new, or raised).

A Flag or RiskAssessment past version 1 needs its previous version to decide
(`needs_previous`); the detector reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from integrations.alerts.codes import LOINC, NOTE_TYPES, RISK_PROBABILITY, AlertKind

Json = dict[str, Any]


@dataclass(frozen=True)
class Alert:
    """One alert: what raised it (FOCUS at VERSION), for PATIENT, at AT (lastModified)."""

    kind: AlertKind
    focus: str
    version: str
    patient: str
    at: str

    @property
    def version_reference(self) -> str:
        """The version that raised the alert, as a reference."""
        return f"{self.focus}/_history/{self.version}"


def _codes(concept: Any, system: str) -> set[str]:
    if not isinstance(concept, dict):
        return set()
    codings = concept.get("coding")
    return {
        str(c.get("code"))
        for c in (codings if isinstance(codings, list) else [])
        if isinstance(c, dict) and c.get("system") == system
    }


def version_of(resource: Json) -> str:
    """The resource's version id ("" when it has none)."""
    return str((resource.get("meta") or {}).get("versionId") or "")


def patient_of(resource: Json) -> str | None:
    """The `Patient/id` the resource is about, if it names one."""
    for field in ("subject", "patient", "for"):
        value = resource.get(field)
        reference = value.get("reference") if isinstance(value, dict) else None
        if isinstance(reference, str) and reference.startswith("Patient/"):
            return reference
    return None


def _is_note(resource: Json) -> bool:
    return (
        resource.get("status") == "current"
        and resource.get("docStatus") != "entered-in-error"
        and bool(_codes(resource.get("type"), LOINC) & NOTE_TYPES)
    )


def _active_flag(resource: Json | None) -> bool:
    return resource is not None and resource.get("status") == "active"


def _high_risk(resource: Json | None) -> bool:
    if resource is None or resource.get("status") not in ("final", "amended", "corrected"):
        return False
    predictions = resource.get("prediction")
    return any(
        "high" in _codes(p.get("qualitativeRisk"), RISK_PROBABILITY)
        for p in (predictions if isinstance(predictions, list) else [])
        if isinstance(p, dict)
    )


def needs_previous(resource: Json) -> bool:
    """True when deciding needs RESOURCE's previous version (a Flag or RiskAssessment
    past its first version that is now active or high risk)."""
    first = version_of(resource) in ("", "1")
    kind = resource.get("resourceType")
    if kind == "Flag":
        return not first and _active_flag(resource)
    if kind == "RiskAssessment":
        return not first and _high_risk(resource)
    return False


def detect(resource: Json, at: str, previous: Json | None = None) -> Alert | None:
    """The alert RESOURCE (a version read from the feed at AT) raises, if any; PREVIOUS is
    its previous version when `needs_previous` asked for it."""
    kind_name, rid = resource.get("resourceType"), resource.get("id")
    patient = patient_of(resource)
    version = version_of(resource)
    if not isinstance(kind_name, str) or not isinstance(rid, str) or patient is None:
        return None
    first = version in ("", "1")
    kind: AlertKind | None = None
    if kind_name == "DocumentReference" and first and _is_note(resource):
        kind = AlertKind.NOTE
    elif kind_name == "Flag" and _active_flag(resource) and (first or not _active_flag(previous)):
        kind = AlertKind.FLAG
    elif kind_name == "RiskAssessment" and _high_risk(resource):
        kind = AlertKind.RISK if first or not _high_risk(previous) else None
    if kind is None:
        return None
    return Alert(kind, f"{kind_name}/{rid}", version or "1", patient, at)
