"""What the staff pages show, read through the member's staff-bound FHIR client.

The fetchers take that client (`StaffView.fhir`): the store decides what it reaches and
writes one AuditEvent per read naming the member and the patients seen. The parsers below
them are pure and turn the resources the bot and the scoring worker write into values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dialogs.fhir_evidence import FhirVitalsSource
from dialogs.triage.models import VitalReading
from integrations.fhir.client import FhirClient
from integrations.visits.consent import POLICY
from integrations.visits.service import Visit, visit_of

Json = dict[str, Any]
TRIAGE_METHOD = "carebot-triage"
MODEL_METHOD = "deterioration-model"
NOTE_LOINC = "11506-3"  # Progress note


@dataclass(frozen=True)
class QueueEntry:
    """One visit on a provider's queue."""

    visit: Visit
    patient: str  # `Patient/id`
    patient_name: str
    state: str  # intake_pending, consent_signed, joined, done, cancelled


@dataclass(frozen=True)
class Triage:
    """The newest triage outcome of a patient and the interview behind it."""

    level: str
    when: str
    reasons: tuple[str, ...]
    answers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Risk:
    """The newest scoring-worker RiskAssessment: model probability and NEWS2."""

    when: str
    probability: float | None
    model_risk: str
    news2_total: int | None
    news2_risk: str


@dataclass(frozen=True)
class Summary:
    """What a provider reads before a visit."""

    entry: QueueEntry
    triage: Triage | None
    readings: Sequence[VitalReading]
    risk: Risk | None
    flags: tuple[str, ...]
    consent: str | None  # the active Consent's id
    coverage: str | None  # the payor of the active Coverage
    notes: tuple[tuple[str, str], ...]  # (date, text), newest first


def _entries(bundle: Json | None, resource_type: str) -> list[Json]:
    return [
        e["resource"]
        for e in (bundle or {}).get("entry") or []
        if isinstance(e.get("resource"), dict)
        and e["resource"].get("resourceType") == resource_type
    ]


def patient_name(patient: Json) -> str:
    """The patient's official (else first) name as "Given Family"."""
    names = patient.get("name") or []
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    return " ".join([*name.get("given", []), name.get("family", "")]).strip() or str(
        patient.get("id", "")
    )


def patient_of(appointment: Json) -> str:
    """The `Patient/id` taking part in APPOINTMENT ("" when none does)."""
    for participant in appointment.get("participant") or []:
        reference = str((participant.get("actor") or {}).get("reference", ""))
        if reference.startswith("Patient/"):
            return reference
    return ""


def has_visit_consent(consent: Json) -> bool:
    """True for an active virtual-visit Consent (the policy the booking flow records)."""
    uris = [str(p.get("uri", "")) for p in consent.get("policy") or []]
    return consent.get("status") == "active" and any(u.split("|")[0] == POLICY for u in uris)


def queue_state(visit: Visit, consented: bool) -> str:
    """Where a visit stands: done, joined, cancelled, consent signed or intake pending."""
    if visit.status in ("fulfilled", "checked-in", "noshow"):
        return "done" if visit.status == "fulfilled" else "joined"
    if visit.status == "arrived":
        return "joined"
    if visit.status in ("cancelled", "entered-in-error"):
        return "cancelled"
    return "consent_signed" if consented else "intake_pending"


def triage_of(assessment: Json, interview: Json | None) -> Triage:
    """The triage outcome a RiskAssessment records, with its interview's answers."""
    prediction = (assessment.get("prediction") or [{}])[0]
    outcome = prediction.get("outcome") or {}
    codes = [str(c.get("code")) for c in outcome.get("coding") or []]
    reasons = tuple(str(n.get("text", "")) for n in assessment.get("note") or [])
    answers: list[tuple[str, str]] = []
    for item in (interview or {}).get("item") or []:
        values = []
        for answer in item.get("answer") or []:
            if "valueBoolean" in answer:
                values.append("yes" if answer["valueBoolean"] else "no")
            elif "valueString" in answer:
                values.append(str(answer["valueString"]))
            elif "valueCoding" in answer:
                values.append(str(answer["valueCoding"].get("code", "")))
        answers.append((str(item.get("text") or item.get("linkId", "")), ", ".join(values)))
    return Triage(
        level=codes[0] if codes else str(outcome.get("text", "")),
        when=str(assessment.get("occurrenceDateTime", "")),
        reasons=reasons,
        answers=tuple(answers),
    )


def _news2(prediction: Json) -> tuple[int | None, str]:
    for extension in prediction.get("extension") or []:
        parts = {p.get("url"): p for p in extension.get("extension") or []}
        total = parts.get("total", {}).get("valueInteger")
        return (int(total) if total is not None else None), str(
            parts.get("risk", {}).get("valueCode", "")
        )
    return None, ""


def risk_of(assessment: Json) -> Risk:
    """The model's probability and NEWS2 of a scoring-worker RiskAssessment."""
    predictions = assessment.get("prediction") or []
    model = predictions[0] if predictions else {}
    total, news2_risk = _news2(predictions[1]) if len(predictions) > 1 else (None, "")
    risk_codes = (model.get("qualitativeRisk") or {}).get("coding") or [{}]
    probability = model.get("probabilityDecimal")
    period = assessment.get("occurrencePeriod") or {}
    return Risk(
        when=str(period.get("end") or assessment.get("occurrenceDateTime", "")),
        probability=float(probability) if probability is not None else None,
        model_risk=str(risk_codes[0].get("code", "")),
        news2_total=total,
        news2_risk=news2_risk,
    )


def _method(assessment: Json) -> str:
    codings = (assessment.get("method") or {}).get("coding") or [{}]
    return str(codings[0].get("code", ""))


def flag_text(flag: Json) -> str:
    """What an active Flag says."""
    code = flag.get("code") or {}
    return str(code.get("text") or next((c.get("display") for c in code.get("coding") or []), ""))


def note_resource(patient: str, author: str, author_name: str, text: str, when: datetime) -> Json:
    """A progress note (LOINC 11506-3) by AUTHOR about PATIENT, its text inline (pure)."""
    import base64

    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {
            "coding": [
                {"system": "http://loinc.org", "code": NOTE_LOINC, "display": "Progress note"}
            ]
        },
        "subject": {"reference": patient},
        "date": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "author": [{"reference": author, "display": author_name}],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain; charset=utf-8",
                    "data": base64.b64encode(text.encode("utf-8")).decode("ascii"),
                }
            }
        ],
    }


def note_text(document: Json) -> str:
    """The plain text of a note written by `note_resource`."""
    import base64
    import binascii

    for content in document.get("content") or []:
        data = (content.get("attachment") or {}).get("data")
        if isinstance(data, str):
            try:
                return base64.b64decode(data).decode("utf-8", "replace")
            except (binascii.Error, ValueError):
                return ""
    return ""


# ----- fetchers (through the staff-bound client) -------------------------------------------
async def _search(client: FhirClient, resource_type: str, params: list[tuple[str, str]]) -> Json:
    _, bundle = await client.request_json("GET", resource_type, params=params)
    return bundle or {}


async def queue(
    client: FhirClient, practitioner: str, start: datetime, end: datetime
) -> list[QueueEntry]:
    """PRACTITIONER's visits starting in [START, END), in time order, with their state."""
    bundle = await _search(
        client,
        "Appointment",
        [
            ("practitioner", practitioner),
            ("date", f"ge{start.astimezone(UTC).isoformat()}"),
            ("date", f"lt{end.astimezone(UTC).isoformat()}"),
            ("_sort", "date"),
            ("_include", "Appointment:patient"),
            ("_count", "200"),
        ],
    )
    appointments = _entries(bundle, "Appointment")
    names = {f"Patient/{p['id']}": patient_name(p) for p in _entries(bundle, "Patient")}
    patients = sorted({patient_of(a) for a in appointments} - {""})
    consented: set[str] = set()
    if patients:
        consents = await _search(
            client, "Consent", [("patient", ",".join(patients)), ("status", "active")]
        )
        consented = {
            str((c.get("patient") or {}).get("reference"))
            for c in _entries(consents, "Consent")
            if has_visit_consent(c)
        }
    entries = []
    for appointment in appointments:
        visit, patient = visit_of(appointment), patient_of(appointment)
        state = queue_state(visit, patient in consented)
        entries.append(QueueEntry(visit, patient, names.get(patient, patient), state))
    return sorted(entries, key=lambda e: e.visit.start)


async def visit_entry(client: FhirClient, appointment_id: str) -> QueueEntry:
    """One visit as the queue shows it (404 from the store when it is not the member's)."""
    _, appointment = await client.request_json("GET", f"Appointment/{appointment_id}")
    visit, patient = visit_of(appointment or {}), patient_of(appointment or {})
    _, record = await client.request_json("GET", patient)
    consents = await _search(client, "Consent", [("patient", patient), ("status", "active")])
    consented = any(has_visit_consent(c) for c in _entries(consents, "Consent"))
    return QueueEntry(visit, patient, patient_name(record or {}), queue_state(visit, consented))


async def summary(client: FhirClient, entry: QueueEntry, now: datetime) -> Summary:
    """Everything the visit summary shows of ENTRY's patient (each read audited)."""
    patient = entry.patient
    assessments = _entries(
        await _search(
            client, "RiskAssessment", [("patient", patient), ("_sort", "-date"), ("_count", "50")]
        ),
        "RiskAssessment",
    )
    triage_ra = next((a for a in assessments if _method(a) == TRIAGE_METHOD), None)
    model_ra = next((a for a in assessments if _method(a) == MODEL_METHOD), None)
    triage = None
    if triage_ra is not None:
        basis = [str(b.get("reference", "")) for b in triage_ra.get("basis") or []]
        interview = None
        if basis and basis[0].startswith("QuestionnaireResponse/"):
            _, interview = await client.request_json("GET", basis[0])
        triage = triage_of(triage_ra, interview)
    readings = await FhirVitalsSource(client).readings(patient, now - timedelta(days=7))
    # R4 defines no `status` search parameter for Flag: the active ones are picked here
    everyone = _entries(await _search(client, "Flag", [("patient", patient)]), "Flag")
    flags = [f for f in everyone if f.get("status") == "active"]
    coverages = _entries(
        await _search(client, "Coverage", [("patient", patient), ("status", "active")]),
        "Coverage",
    )
    payors = [str(p.get("display", "")) for c in coverages for p in c.get("payor") or []]
    notes = _entries(
        await _search(
            client,
            "DocumentReference",
            [("patient", patient), ("type", f"http://loinc.org|{NOTE_LOINC}"), ("_sort", "-date")],
        ),
        "DocumentReference",
    )
    consents = _entries(
        await _search(client, "Consent", [("patient", patient), ("status", "active")]), "Consent"
    )
    consent = next((str(c["id"]) for c in consents if has_visit_consent(c)), None)
    return Summary(
        entry=entry,
        triage=triage,
        readings=readings,
        risk=risk_of(model_ra) if model_ra is not None else None,
        flags=tuple(flag_text(f) for f in flags),
        consent=consent,
        coverage=", ".join(payors) or None,
        notes=tuple((str(n.get("date", "")), note_text(n)) for n in notes),
    )
