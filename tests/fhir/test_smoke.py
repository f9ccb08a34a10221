"""Create, read, update, delete through the client against the embedded store."""

from __future__ import annotations

from fhir.resources.R4B.patient import Patient

from integrations.fhir import FhirClient


async def test_patient_lifecycle(fhir: FhirClient) -> None:
    created = await fhir.create(
        Patient.model_validate({"resourceType": "Patient", "gender": "female"})
    )
    assert created.id and created.meta and created.meta.versionId == "1"
    read = await fhir.read(Patient, created.id)
    assert read.gender == "female"
