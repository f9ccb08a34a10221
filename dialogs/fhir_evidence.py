"""The FHIR store behind the dialogs: device vitals in, interview records out.

Observations follow the R4 vital-signs profiles (DESIGN.md); the outcome is written as a
RiskAssessment (level as `prediction.outcome` in carebot's triage-level code system,
findings with SNOMED CT codes as `reasonCode`, reasons as `prediction.rationale` and
`note`) based on the interview's QuestionnaireResponse, in one transaction, each guarded
by `ifNoneExist` on its identifier. A conversation about someone else (a child, a spouse) is
filed as what it is: a QuestionnaireResponse about a contained RelatedPerson (relationship,
age, outcome), authored by the patient, and no RiskAssessment on the patient's record.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation

from dialogs.evidence import TriageRecord
from dialogs.triage.codes import (
    INTERVIEW_IDENTIFIER_SYSTEM,
    TRIAGE_INTERVIEW_QUESTIONNAIRE,
    TRIAGE_LEVEL_SYSTEM,
    TRIAGE_METHOD_SYSTEM,
)
from dialogs.triage.levels import Level
from dialogs.triage.models import Patient, Sex, VitalKind, VitalReading
from integrations.fhir import FhirClient, SearchQuery
from integrations.fhir.errors import ResourceNotFound

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
    "29463-7": VitalKind.WEIGHT,
}
VITAL_CODES = ("8867-4", "59408-5", "2708-6", "85354-9", "8310-5", "9279-1", "2339-0", "29463-7")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _loinc_codes(concept: Any) -> list[str]:
    codings = (_dict(c) for c in _list(_dict(concept).get("coding")))
    return [str(c["code"]) for c in codings if c.get("system") == LOINC and c.get("code")]


def _value(quantity: Any, kind: VitalKind) -> float | None:
    value = _dict(quantity).get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None  # dataAbsentReason: never a number
    unit = str(quantity.get("code") or quantity.get("unit") or "").lower()
    number = float(value)
    if kind is VitalKind.TEMPERATURE and unit in ("[degf]", "degf", "°f", "f"):
        number = (number - 32) * 5 / 9
    if kind is VitalKind.GLUCOSE and unit.startswith("mmol"):
        number *= 18.0  # 1 mmol/L glucose = 18.0 mg/dL
    if kind is VitalKind.WEIGHT and unit in ("[lb_av]", "lb", "lbs"):
        number *= 0.45359237  # 1 lb = 0.45359237 kg
    return round(number, 1)


def _time(observation: Mapping[str, Any]) -> datetime | None:
    text = observation.get("effectiveDateTime") or _dict(observation.get("effectivePeriod")).get(
        "start"
    )
    if not isinstance(text, str) or "T" not in text:
        return None  # a date without a time of day is not a reading's moment
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _device(observation: Mapping[str, Any]) -> str:
    ref = _dict(observation.get("device"))
    return str(ref.get("display") or ref.get("reference") or "device")


def observation_to_readings(observation: Mapping[str, Any]) -> list[VitalReading]:
    """The vital readings of one vital-signs Observation (FHIR JSON; a BP panel gives two).

    Read from the JSON the server sent: the store validated it on the way in, so it is not
    parsed into models again; fields of the wrong shape are skipped, never guessed."""
    if observation.get("status") in ("entered-in-error", "cancelled"):
        return []
    when, device = _time(observation), _device(observation)
    out: list[VitalReading] = []
    for code in _loinc_codes(observation.get("code")):
        kind = _SINGLE.get(code)
        if kind is not None:
            value = _value(observation.get("valueQuantity"), kind)
            if value is not None:
                out.append(VitalReading(kind, value, source=device, time=when))
            break
    for component in (_dict(c) for c in _list(observation.get("component"))):
        for code in _loinc_codes(component.get("code")):
            kind = _SINGLE.get(code)
            if kind is not None:
                value = _value(component.get("valueQuantity"), kind)
                if value is not None:
                    out.append(VitalReading(kind, value, source=device, time=when))
    return out


def device_label(device: Mapping[str, Any]) -> str:
    """What a patient would call a device: the name they gave it, else its manufacturer and
    model, else its other names (an advertised Bluetooth name is the last resort)."""
    names: dict[str, str] = {}
    for entry in map(_dict, _list(device.get("deviceName"))):
        if entry.get("name"):
            names.setdefault(str(entry.get("type") or "other"), str(entry["name"]))
    if "patient-reported-name" in names:
        return names["patient-reported-name"]
    model = str(device.get("modelNumber") or names.get("model-name") or "")
    maker = str(device.get("manufacturer") or names.get("manufacturer-name") or "")
    made = " ".join(part for part in (maker, model) if part)
    return made or next(iter(names.values()), "")


class FhirVitalsSource:
    """Reads a patient's vital-signs Observations, and their Devices, in one search."""

    def __init__(self, client: FhirClient, *, max_readings: int = 500) -> None:
        self._client = client
        self._max = max_readings

    async def readings(self, patient: str, since: datetime) -> Sequence[VitalReading]:
        """Every vital reading of PATIENT since SINCE, newest first, named by its device
        (the Devices come with the Observations: `_include=Observation:device`)."""
        query = (
            SearchQuery(Observation)
            .where(patient=patient, category="vital-signs", date=f"ge{since.isoformat()}")
            .include("Observation:device")
            .sort("-date")
            .count(min(self._max, 200))
        )
        out: list[VitalReading] = []
        names: dict[str, str] = {}
        async for page in self._client.search_pages_json(query):
            for entry in map(_dict, _list(page.get("entry"))):
                resource = _dict(entry.get("resource"))
                mode = _dict(entry.get("search")).get("mode", "match")
                if resource.get("resourceType") == "Device" and mode == "include":
                    label = device_label(resource)
                    if label and resource.get("id"):
                        names[f"Device/{resource['id']}"] = label
                elif resource.get("resourceType") == "Observation" and mode == "match":
                    out.extend(observation_to_readings(resource))
            if len(out) >= self._max:
                break
        return [replace(r, source=names.get(r.source, r.source)) for r in out[: self._max]]


PREGNANCY_STATUS = "82810-3"  # LOINC Pregnancy status
_PREGNANT, _NOT_PREGNANT = "LA15173-0", "LA26683-5"  # LOINC answers: Pregnant, Not pregnant


def patient_facts(
    patient: Mapping[str, Any], pregnancy: Mapping[str, Any] | None, today: date
) -> Patient:
    """Age (from `birthDate`), sex (`gender`) and the latest pregnancy status of a Patient
    (FHIR JSON); what is not recorded stays None."""
    age: float | None = None
    birth = patient.get("birthDate")
    if isinstance(birth, str) and len(birth) >= 4:
        try:
            born = date.fromisoformat(birth if len(birth) == 10 else f"{birth[:4]}-07-01")
        except ValueError:
            born = None
        if born is not None and born <= today:
            age = round((today - born).days / 365.25, 3)
    gender = patient.get("gender")
    sex = Sex(gender) if gender in ("female", "male") else None
    pregnant: bool | None = None
    if pregnancy is not None and pregnancy.get("status") in ("final", "amended", "corrected"):
        codes = {
            str(c.get("code"))
            for c in map(_dict, _list(_dict(pregnancy.get("valueCodeableConcept")).get("coding")))
        }
        pregnant = True if _PREGNANT in codes else False if _NOT_PREGNANT in codes else None
    return Patient(age_years=age, sex=sex, pregnant=pregnant, from_writer_record=True)


class FhirPatientFacts:
    """Reads a patient's age, sex and latest recorded pregnancy status."""

    def __init__(self, client: FhirClient, today: date) -> None:
        self._client = client
        self._today = today

    async def facts(self, patient: str) -> Patient:
        """PATIENT's ("Patient/123") facts from the Patient and a pregnancy-status Observation."""
        try:
            _, resource = await self._client.request_json("GET", patient)
        except ResourceNotFound:
            return Patient(from_writer_record=True)  # no record yet: nothing is known
        query = (
            SearchQuery(Observation)
            .where(patient=patient, code=f"{LOINC}|{PREGNANCY_STATUS}")
            .sort("-date")
            .count(1)
        )
        latest: dict[str, Any] | None = None
        async for page in self._client.search_pages_json(query):
            entries = [_dict(e.get("resource")) for e in map(_dict, _list(page.get("entry")))]
            latest = next((e for e in entries if e.get("resourceType") == "Observation"), None)
            break
        return patient_facts(resource or {}, latest, self._today)


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
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": INTERVIEW_IDENTIFIER_SYSTEM, "value": f"{record.key}/interview"},
        "questionnaire": TRIAGE_INTERVIEW_QUESTIONNAIRE,
        "status": "completed",
        "subject": {"reference": record.patient},
        "authored": record.time.isoformat(),
        "item": items,
    }
    if record.relative is not None:
        response.update(_about_relative(record, items))
    return response


_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
_UCUM = "http://unitsofmeasure.org"


def _about_relative(record: TriageRecord, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The QuestionnaireResponse fields of a consultation about a relative: its subject the
    contained RelatedPerson, the patient its author and source, the outcome as items."""
    relative = record.relative
    assert relative is not None
    person: dict[str, Any] = {
        "resourceType": "RelatedPerson",
        "id": "relative",
        "patient": {"reference": record.patient},
        "relationship": [
            {
                "coding": [_coding(_ROLE_CODE, relative.relation.code, relative.relation.display)],
                "text": relative.words("en").removeprefix("your "),
            }
        ],
    }
    if relative.sex is not None:
        person["gender"] = relative.sex.value
    extra: list[dict[str, Any]] = []
    if relative.age_years is not None:
        age = {"value": relative.age_years, "unit": "years", "system": _UCUM, "code": "a"}
        extra.append({"linkId": "subject-age", "text": "Age", "answer": [{"valueQuantity": age}]})
    result = record.result
    extra.append(
        {
            "linkId": "outcome",
            "text": "Triage outcome",
            "answer": [{"valueCoding": _coding(TRIAGE_LEVEL_SYSTEM, result.level.value)}],
        }
    )
    reasons = [r.text for r in result.reasons if r.level is result.level]
    if reasons:
        extra.append(
            {
                "linkId": "reasons",
                "text": "Reasons",
                "answer": [{"valueString": text} for text in reasons],
            }
        )
    return {
        "contained": [person],
        "subject": {"reference": "#relative"},
        "author": {"reference": record.patient},
        "source": {"reference": record.patient},
        "item": [*items, *extra],
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
    entries = [
        {
            "fullUrl": interview_url,
            "resource": questionnaire_response(record),
            "request": {
                "method": "POST",
                "url": "QuestionnaireResponse",
                "ifNoneExist": (f"identifier={INTERVIEW_IDENTIFIER_SYSTEM}|{record.key}/interview"),
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
    ]
    if record.relative is not None:
        entries = entries[:1]  # the relative's outcome is not the patient's RiskAssessment
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _uuid(key: str, part: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{INTERVIEW_IDENTIFIER_SYSTEM}/{key}/{part}"))


class FhirTriageRecorder:
    """Writes triage records to the FHIR store."""

    def __init__(self, client: FhirClient) -> None:
        self._client = client

    async def record_triage(self, record: TriageRecord) -> None:
        """Store the interview and the outcome in one idempotent transaction."""
        await self._client.transaction(Bundle.model_validate(triage_bundle(record)))
