"""Builders of test resources (vital-sign Observations as the gateway sends them)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

LOINC = "http://loinc.org"
DEVICE_IDS = "urn:carebot:test:reading"


def patient_json(identifier: str = "p-1", **extra: Any) -> dict[str, Any]:
    """A Patient with one identifier."""
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:test:mrn", "value": identifier}],
        "gender": "female",
        **extra,
    }


def vital_json(
    patient: str,
    code: str,
    value: float,
    when: str,
    unit: str = "/min",
    identifier: str | None = None,
) -> dict[str, Any]:
    """A vital-signs Observation."""
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": patient},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }
    if identifier:
        obs["identifier"] = [{"system": DEVICE_IDS, "value": identifier}]
    return obs


def vital(
    patient: str, code: str, value: float, when: str, identifier: str | None = None
) -> Observation:
    """The same as a typed model."""
    return Observation.model_validate(vital_json(patient, code, value, when, identifier=identifier))


def patient(identifier: str = "p-1") -> Patient:
    """A typed Patient."""
    return Patient.model_validate(patient_json(identifier))
