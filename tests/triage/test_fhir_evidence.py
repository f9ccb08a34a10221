"""The FHIR side: vital-signs Observations in, interview records and audits out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.riskassessment import RiskAssessment

from dialogs.evidence import InterviewItem, TriageRecord
from dialogs.fhir_evidence import (
    FhirTriageRecorder,
    FhirVitalsSource,
    observation_to_readings,
    triage_bundle,
    vitals_read_audit,
)
from dialogs.triage import VitalKind, VitalReading, assess
from dialogs.triage.codes import TRIAGE_LEVEL_SYSTEM
from integrations.fhir import FhirClient

WHEN = datetime(2026, 11, 21, 8, 30, tzinfo=UTC)

# Shaped on the R4 vital-signs profile examples (blood pressure panel, SpO2, temperature).
BP_PANEL = {
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
    "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
    "subject": {"reference": "Patient/1"},
    "effectiveDateTime": "2026-11-21T08:30:00Z",
    "device": {"reference": "Device/omron-1", "display": "Omron X7"},
    "component": [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "valueQuantity": {
                "value": 182,
                "unit": "mmHg",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        },
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
            "valueQuantity": {
                "value": 121,
                "unit": "mmHg",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        },
    ],
}
SPO2 = {
    "resourceType": "Observation",
    "status": "final",
    "code": {
        "coding": [
            {"system": "http://loinc.org", "code": "2708-6"},
            {"system": "http://loinc.org", "code": "59408-5"},
        ]
    },
    "subject": {"reference": "Patient/1"},
    "effectiveDateTime": "2026-11-21T07:00:00Z",
    "device": {"reference": "Device/nonin-1"},
    "valueQuantity": {"value": 88, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
}
TEMP_F = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
    "subject": {"reference": "Patient/1"},
    "effectiveDateTime": "2026-11-21T07:00:00Z",
    "valueQuantity": {
        "value": 104,
        "unit": "degF",
        "system": "http://unitsofmeasure.org",
        "code": "[degF]",
    },
}
ABSENT = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "subject": {"reference": "Patient/1"},
    "effectiveDateTime": "2026-11-21T07:00:00Z",
    "dataAbsentReason": {"coding": [{"code": "error"}]},
}


def test_observations_become_readings() -> None:
    bp = observation_to_readings(Observation.model_validate(BP_PANEL))
    assert bp == [
        VitalReading(VitalKind.SYSTOLIC_BP, 182.0, source="Omron X7", time=WHEN),
        VitalReading(VitalKind.DIASTOLIC_BP, 121.0, source="Omron X7", time=WHEN),
    ]
    (spo2,) = observation_to_readings(Observation.model_validate(SPO2))
    assert (spo2.kind, spo2.value, spo2.source) == (VitalKind.SPO2, 88.0, "Device/nonin-1")
    (temp,) = observation_to_readings(Observation.model_validate(TEMP_F))
    assert temp.value == 40.0
    assert observation_to_readings(Observation.model_validate(ABSENT)) == []


async def test_vitals_source_searches_the_patients_vital_signs() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if request.url.path.startswith("/fhir/Device/"):
            device = {
                "resourceType": "Device",
                "id": request.url.path.rsplit("/", 1)[1],
                "deviceName": [{"name": "Nonin 3230 oximeter", "type": "user-friendly-name"}],
            }
            return httpx.Response(200, json=device)
        bundle = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": SPO2}, {"resource": BP_PANEL}],
        }
        return httpx.Response(200, json=bundle, headers={"Content-Type": "application/fhir+json"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        source = FhirVitalsSource(FhirClient("http://fhir.test/fhir", http=http))
        readings = await source.readings("Patient/1", WHEN)
    assert [r.kind for r in readings] == [
        VitalKind.SPO2,
        VitalKind.SYSTOLIC_BP,
        VitalKind.DIASTOLIC_BP,
    ]
    # Readings are named by their device's user-friendly name, read once per device.
    assert readings[0].source == "Nonin 3230 oximeter"
    device_reads = [u for u in seen if u.path.startswith("/fhir/Device/")]
    assert len(device_reads) == len({u.path for u in device_reads})
    params = dict(seen[0].params)
    assert params["patient"] == "Patient/1"
    assert params["category"] == "vital-signs"
    assert params["date"].startswith("ge2026-11-21")


def _record() -> TriageRecord:
    result = assess("crushing chest pain with sweating", device_vitals=())
    return TriageRecord(
        key="conv-1/3",
        patient="Patient/1",
        language="en",
        items=(
            InterviewItem("complaint", "What is the problem?", "crushing chest pain"),
            InterviewItem("sweating", "Are you sweating?", "yes", answer_yes=True),
        ),
        result=result,
        time=WHEN,
    )


def test_the_record_is_valid_fhir_and_idempotent() -> None:
    bundle = Bundle.model_validate(triage_bundle(_record()))
    assert bundle.type == "transaction"
    interview, outcome = (e.resource for e in bundle.entry or [])
    assert isinstance(interview, QuestionnaireResponse)
    assert isinstance(outcome, RiskAssessment)
    assert all(e.request is not None and e.request.ifNoneExist for e in bundle.entry or [])
    level = outcome.prediction[0].outcome.coding[0]  # type: ignore[index,union-attr]
    assert (level.system, level.code) == (TRIAGE_LEVEL_SYSTEM, "emergency_ambulance")
    snomed = {c.code for f in outcome.reasonCode or [] for c in f.coding or []}
    assert {"29857009", "415690000"} <= snomed
    assert triage_bundle(_record()) == triage_bundle(_record())


def test_audit_event_is_valid() -> None:
    event = AuditEvent.model_validate(vitals_read_audit("Patient/1", "Patient/1", 5, WHEN))
    assert event.action == "R"


async def test_recorder_posts_one_transaction() -> None:
    posted: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        posted.append(body)
        reply = {"resourceType": "Bundle", "type": "transaction-response", "entry": []}
        if body["resourceType"] == "AuditEvent":
            reply = {**body, "id": "a1"}
        return httpx.Response(201 if body["resourceType"] == "AuditEvent" else 200, json=reply)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        recorder = FhirTriageRecorder(FhirClient("http://fhir.test/fhir", http=http))
        await recorder.record_triage(_record())
        await recorder.record_vitals_read("Patient/1", "Patient/1", 3)
    assert [p["resourceType"] for p in posted] == ["Bundle", "AuditEvent"]
