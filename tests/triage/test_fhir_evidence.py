"""The FHIR side: vital-signs Observations (and their Devices) in, interview records out."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
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
    for example in (BP_PANEL, SPO2, TEMP_F, ABSENT):
        Observation.model_validate(example)  # the examples are valid R4 Observations
    bp = observation_to_readings(BP_PANEL)
    assert bp == [
        VitalReading(VitalKind.SYSTOLIC_BP, 182.0, source="Omron X7", time=WHEN),
        VitalReading(VitalKind.DIASTOLIC_BP, 121.0, source="Omron X7", time=WHEN),
    ]
    (spo2,) = observation_to_readings(SPO2)
    assert (spo2.kind, spo2.value, spo2.source) == (VitalKind.SPO2, 88.0, "Device/nonin-1")
    (temp,) = observation_to_readings(TEMP_F)
    assert temp.value == 40.0
    assert observation_to_readings(ABSENT) == []


def test_fields_of_the_wrong_shape_are_skipped_never_guessed() -> None:
    odd = {
        **SPO2,
        "valueQuantity": {"value": "88", "code": "%"},
        "effectiveDateTime": 20261121,
        "device": "Device/nonin-1",
    }
    assert observation_to_readings(odd) == []
    boolean = {**SPO2, "valueQuantity": {"value": True, "code": "%"}}
    assert observation_to_readings(boolean) == []
    undated = {**SPO2, "effectiveDateTime": "2026-11-21"}
    (reading,) = observation_to_readings(undated)
    assert reading.time is None and reading.source == "Device/nonin-1"


async def test_vitals_source_reads_observations_and_their_devices_in_one_search() -> None:
    seen: list[httpx.URL] = []
    nonin = {
        "resourceType": "Device",
        "id": "nonin-1",
        "deviceName": [{"name": "Nonin 3230 oximeter", "type": "user-friendly-name"}],
    }
    omron = {"resourceType": "Device", "id": "omron-1", "modelNumber": "X7"}
    base = "http://fhir.test/fhir"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        if "_getpagesoffset" not in request.url.params:
            entries = [
                {"resource": SPO2, "search": {"mode": "match"}},
                {"resource": nonin, "search": {"mode": "include"}},
            ]
            link = [{"relation": "next", "url": f"{base}/Observation?_getpagesoffset=1"}]
        else:
            entries = [
                {"resource": BP_PANEL, "search": {"mode": "match"}},
                {"resource": omron, "search": {"mode": "include"}},
            ]
            link = []
        bundle = {"resourceType": "Bundle", "type": "searchset", "link": link, "entry": entries}
        return httpx.Response(200, json=bundle, headers={"Content-Type": "application/fhir+json"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        source = FhirVitalsSource(FhirClient(base, http=http))
        readings = await source.readings("Patient/1", WHEN)
    assert [(r.kind, r.source) for r in readings] == [
        (VitalKind.SPO2, "Nonin 3230 oximeter"),
        # The panel's own display wins over the Device's model number.
        (VitalKind.SYSTOLIC_BP, "Omron X7"),
        (VitalKind.DIASTOLIC_BP, "Omron X7"),
    ]
    # One search per page, the Devices included: no read per device.
    assert [u.path for u in seen] == ["/fhir/Observation", "/fhir/Observation"]
    params = seen[0].params
    assert params["patient"] == "Patient/1"
    assert params["category"] == "vital-signs"
    assert params["date"].startswith("ge2026-11-21")
    assert params.get_list("_include") == ["Observation:device"]


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


async def test_recorder_posts_one_transaction() -> None:
    posted: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        posted.append(body)
        reply = {"resourceType": "Bundle", "type": "transaction-response", "entry": []}
        return httpx.Response(200, json=reply)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        recorder = FhirTriageRecorder(FhirClient("http://fhir.test/fhir", http=http))
        await recorder.record_triage(_record())
    assert [p["resourceType"] for p in posted] == ["Bundle"]
