"""The FHIR store behind the dialogs: device vitals in, interview records and audits out.

Observations follow the R4 vital-signs profiles (DESIGN.md); the outcome is written as a
RiskAssessment (level as `prediction.outcome` in carebot's triage-level code system,
findings with SNOMED CT codes as `reasonCode`, reasons as `prediction.rationale` and
`note`) based on the interview's QuestionnaireResponse, in one transaction, each guarded
by `ifNoneExist` on its identifier.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation

from dialogs.evidence import TriageRecord
from dialogs.triage.codes import (
    INTERVIEW_IDENTIFIER_SYSTEM,
    TRIAGE_INTERVIEW_QUESTIONNAIRE,
    TRIAGE_LEVEL_SYSTEM,
    TRIAGE_METHOD_SYSTEM,
)
from dialogs.triage.levels import Level
from dialogs.triage.models import VitalKind, VitalReading
from integrations.fhir import FhirClient, SearchQuery
from integrations.fhir.errors import FhirError

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
_SINGLE: dict[str, VitalKind] = {
    "8867-4": VitalKind.HEART_RATE,
    "59408-5": VitalKind.SPO2,
    "2708-6": VitalKind.SPO2,
    "8310-5": VitalKind.TEMPERATURE,
    "9279-1": VitalKind.RESPIRATORY_RATE,
    "2339-0": VitalKind.GLUCOSE,
    "8480-6": VitalKind.SYSTOLIC_BP,
    "8462-4": VitalKind.DIASTOLIC_BP,
}
VITAL_CODES = ("8867-4", "59408-5", "2708-6", "85354-9", "8310-5", "9279-1", "2339-0")


def _loinc_codes(concept: Any) -> list[str]:
    if concept is None:
        return []
    return [c.code for c in concept.coding or [] if c.system == LOINC and c.code]


def _value(quantity: Any, kind: VitalKind) -> float | None:
    if quantity is None or quantity.value is None:
        return None  # dataAbsentReason: never a number
    value = float(quantity.value)
    unit = (quantity.code or quantity.unit or "").lower()
    if kind is VitalKind.TEMPERATURE and unit in ("[degf]", "degf", "°f", "f"):
        value = (value - 32) * 5 / 9
    if kind is VitalKind.GLUCOSE and unit.startswith("mmol"):
        value *= 18.0  # 1 mmol/L glucose = 18.0 mg/dL
    return round(value, 1)


def _time(observation: Observation) -> datetime | None:
    moment = observation.effectiveDateTime
    if moment is None and observation.effectivePeriod is not None:
        moment = observation.effectivePeriod.start
    if isinstance(moment, datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _device(observation: Observation) -> str:
    ref = observation.device
    if ref is None:
        return "device"
    return str(ref.display or ref.reference or "device")


def observation_to_readings(observation: Observation) -> list[VitalReading]:
    """The vital readings of one vital-signs Observation (a BP panel gives two)."""
    if observation.status in ("entered-in-error", "cancelled"):
        return []
    when, device = _time(observation), _device(observation)
    out: list[VitalReading] = []
    for code in _loinc_codes(observation.code):
        kind = _SINGLE.get(code)
        if kind is not None:
            value = _value(observation.valueQuantity, kind)
            if value is not None:
                out.append(VitalReading(kind, value, source=device, time=when))
            break
    for component in observation.component or []:
        for code in _loinc_codes(component.code):
            kind = _SINGLE.get(code)
            if kind is not None:
                value = _value(component.valueQuantity, kind)
                if value is not None:
                    out.append(VitalReading(kind, value, source=device, time=when))
    return out


class FhirVitalsSource:
    """Reads a patient's vital-signs Observations from the FHIR store."""

    def __init__(self, client: FhirClient, *, max_readings: int = 500) -> None:
        self._client = client
        self._max = max_readings

    async def readings(self, patient: str, since: datetime) -> Sequence[VitalReading]:
        """Every vital reading of PATIENT since SINCE, newest first, named by its device."""
        query = (
            SearchQuery(Observation)
            .where(patient=patient, category="vital-signs", date=f"ge{since.isoformat()}")
            .sort("-date")
            .count(min(self._max, 200))
        )
        out: list[VitalReading] = []
        async for observation in self._client.search(query):
            out.extend(observation_to_readings(observation))
            if len(out) >= self._max:
                break
        names = await self._device_names({r.source for r in out if r.source.startswith("Device/")})
        return [replace(r, source=names.get(r.source, r.source)) for r in out]

    async def _device_names(self, references: set[str]) -> dict[str, str]:
        """What a patient would call each device: its user-friendly name, else its model."""
        names: dict[str, str] = {}
        for reference in references:
            try:
                device = await self._client.read(Device, reference.removeprefix("Device/"))
            except FhirError:
                continue  # a device we may not read keeps its reference
            friendly = [n.name for n in device.deviceName or [] if n.name]
            label = friendly[0] if friendly else (device.modelNumber or "")
            if label:
                names[reference] = label
        return names


def _coding(system: str, code: str, display: str = "") -> dict[str, Any]:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def questionnaire_response(record: TriageRecord) -> dict[str, Any]:
    """The interview as a QuestionnaireResponse (JSON)."""
    items: list[dict[str, Any]] = []
    for item in record.items:
        answer: dict[str, Any] = (
            {"valueBoolean": item.answer_yes}
            if item.answer_yes is not None
            else {"valueString": item.answer or "-"}
        )
        items.append({"linkId": item.link_id, "text": item.question, "answer": [answer]})
    return {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": INTERVIEW_IDENTIFIER_SYSTEM, "value": f"{record.key}/interview"},
        "questionnaire": TRIAGE_INTERVIEW_QUESTIONNAIRE,
        "status": "completed",
        "subject": {"reference": record.patient},
        "authored": record.time.isoformat(),
        "item": items,
    }


_RISK = "http://terminology.hl7.org/CodeSystem/risk-probability"
_QUALITATIVE = {
    Level.EMERGENCY_AMBULANCE: ("high", "High likelihood"),
    Level.EMERGENCY: ("high", "High likelihood"),
    Level.CONSULTATION_24: ("moderate", "Moderate likelihood"),
    Level.CONSULTATION: ("low", "Low likelihood"),
    Level.SELF_CARE: ("negligible", "Negligible likelihood"),
}


def risk_assessment(record: TriageRecord, interview_ref: str) -> dict[str, Any]:
    """The outcome as a RiskAssessment (JSON): level, reasons, findings (SNOMED CT)."""
    result = record.result
    findings = []
    for finding in result.findings:
        if not finding.present:
            continue
        coding = [_coding(SNOMED, finding.snomed, finding.name)] if finding.snomed else []
        findings.append({"coding": coding, "text": finding.name})
    risk_code, risk_display = _QUALITATIVE[result.level]
    return {
        "resourceType": "RiskAssessment",
        "identifier": [{"system": INTERVIEW_IDENTIFIER_SYSTEM, "value": f"{record.key}/outcome"}],
        "status": "final",
        "method": {"coding": [_coding(TRIAGE_METHOD_SYSTEM, "carebot-triage", "carebot triage")]},
        "code": {"coding": [_coding(TRIAGE_METHOD_SYSTEM, "symptom-triage", "symptom triage")]},
        "subject": {"reference": record.patient},
        "occurrenceDateTime": record.time.isoformat(),
        "basis": [{"reference": interview_ref}],
        "reasonCode": findings,
        "prediction": [
            {
                "outcome": {
                    "coding": [_coding(TRIAGE_LEVEL_SYSTEM, result.level.value)],
                    "text": result.level.value,
                },
                "qualitativeRisk": {"coding": [_coding(_RISK, risk_code, risk_display)]},
                "rationale": "; ".join(r.text for r in result.reasons if r.level is result.level),
            }
        ],
        "note": [{"text": f"{r.level.value}: {r.text}"} for r in result.reasons],
    }


def triage_bundle(record: TriageRecord) -> dict[str, Any]:
    """One transaction writing the interview and the outcome, idempotent on the key."""
    interview_url = f"urn:uuid:{_uuid(record.key, 'interview')}"
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": interview_url,
                "resource": questionnaire_response(record),
                "request": {
                    "method": "POST",
                    "url": "QuestionnaireResponse",
                    "ifNoneExist": (
                        f"identifier={INTERVIEW_IDENTIFIER_SYSTEM}|{record.key}/interview"
                    ),
                },
            },
            {
                "fullUrl": f"urn:uuid:{_uuid(record.key, 'outcome')}",
                "resource": risk_assessment(record, interview_url),
                "request": {
                    "method": "POST",
                    "url": "RiskAssessment",
                    "ifNoneExist": f"identifier={INTERVIEW_IDENTIFIER_SYSTEM}|{record.key}/outcome",
                },
            },
        ],
    }


def vitals_read_audit(reader: str, patient: str, count: int, now: datetime) -> dict[str, Any]:
    """An AuditEvent: READER read COUNT vital readings of PATIENT through the bot."""
    who = {"reference": reader} if "/" in reader else {"display": reader}
    return {
        "resourceType": "AuditEvent",
        "type": _coding(
            "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation"
        ),
        "subtype": [_coding("http://hl7.org/fhir/restful-interaction", "search-type", "search")],
        "action": "R",
        "recorded": now.isoformat(),
        "outcome": "0",
        "outcomeDesc": f"{count} vital readings shown",
        "agent": [{"who": who, "requestor": True}],
        "source": {"observer": {"display": "carebot vitals dialog"}},
        "entity": [{"what": {"reference": patient}}],
    }


def _uuid(key: str, part: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{INTERVIEW_IDENTIFIER_SYSTEM}/{key}/{part}"))


class FhirTriageRecorder:
    """Writes triage records and audit events to the FHIR store."""

    def __init__(self, client: FhirClient) -> None:
        self._client = client

    async def record_triage(self, record: TriageRecord) -> None:
        """Store the interview and the outcome in one idempotent transaction."""
        await self._client.transaction(Bundle.model_validate(triage_bundle(record)))

    async def record_vitals_read(self, reader: str, patient: str, count: int) -> None:
        """Leave an AuditEvent for a vitals read."""
        event = vitals_read_audit(reader, patient, count, datetime.now(UTC))
        await self._client.create(AuditEvent.model_validate(event))
