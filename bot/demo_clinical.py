"""The demo people and their clinical record as FHIR resources (pure): staff with weekly
hours, patients, care teams. Fixed ids make seeding idempotent (every resource is PUT)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from integrations.alerts.codes import CARE_MANAGER_ROLE, CARE_TEAM_ROLE_SYSTEM
from integrations.scheduling.fhir_scheduler import TIMEZONE_EXTENSION
from integrations.visits.intake import PAYMENT_KIND_EXTENSION

Json = dict[str, Any]

LANGUAGE_CODES = {"en": ("en", "English"), "fr": ("fr", "French")}


@dataclass(frozen=True)
class DemoPatient:
    """A demo patient; their devices and physiology come from the gateway simulator."""

    username: str
    fhir_id: str
    given: str
    family: str
    gender: str
    birth_date: date
    language: str


@dataclass(frozen=True)
class DemoStaff:
    """A demo practitioner and their role."""

    username: str
    account_role: str  # integrations.accounts.Role value
    fhir_id: str
    given: str
    family: str
    role_code: str
    role_display: str
    weekdays: tuple[str, ...]
    hours: tuple[str, str] | None
    zone: str = "Europe/Paris"  # the IANA zone of the weekly hours
    patients: tuple[str, ...] = ()  # usernames of the patients whose generalPractitioner they are


DEMO_PATIENTS: tuple[DemoPatient, ...] = (
    DemoPatient(
        "alice", "demo-patient-alice", "Alice", "Martin", "female", date(1958, 4, 12), "en"
    ),
    DemoPatient("bruno", "demo-patient-bruno", "Bruno", "Lefèvre", "male", date(1971, 9, 3), "fr"),
    DemoPatient(
        "chloe", "demo-patient-chloe", "Chloé", "Dubois", "female", date(1989, 1, 27), "fr"
    ),
    DemoPatient("david", "demo-patient-david", "David", "Okafor", "male", date(1948, 6, 30), "en"),
    DemoPatient("emma", "demo-patient-emma", "Emma", "Nguyen", "female", date(2001, 11, 5), "en"),
)

DEMO_STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("dr.chen", "provider", "demo-practitioner-chen", "Sarah", "Chen", "doctor",
              "Doctor", ("mon", "tue", "wed", "thu", "fri"), ("09:00:00", "17:00:00"),
              patients=("alice", "bruno", "chloe")),
    DemoStaff("dr.haddad", "provider", "demo-practitioner-haddad", "Karim", "Haddad", "doctor",
              "Doctor", ("tue", "wed", "thu", "sat"), ("08:00:00", "14:00:00"),
              patients=("david", "emma")),
    DemoStaff("grace", "care_manager", "demo-practitioner-miller", "Grace", "Miller", "nurse",
              "Care manager", ("mon", "tue", "wed", "thu", "fri"), None,
              patients=("alice", "bruno", "chloe", "david", "emma")),
)  # fmt: skip


def _put(resource: Json) -> Json:
    return {
        "fullUrl": f"{resource['resourceType']}/{resource['id']}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"},
    }


def _patient(p: DemoPatient) -> Json:
    code, display = LANGUAGE_CODES[p.language]
    return {
        "resourceType": "Patient",
        "id": p.fhir_id,
        "extension": [{"url": PAYMENT_KIND_EXTENSION, "valueCode": "card"}],
        "active": True,
        "telecom": [
            {"system": "email", "value": f"{p.username}@patients.example.org"},
            {"system": "phone", "value": "+33 6 12 34 56 78"},
        ],
        "address": [
            {"line": ["12 rue des Lilas"], "postalCode": "75011", "city": "Paris", "country": "FR"}
        ],
        "name": [{"use": "official", "family": p.family, "given": [p.given]}],
        # the staff who see this patient's record (the store's staff compartment)
        "generalPractitioner": [
            {"reference": f"Practitioner/{s.fhir_id}"}
            for s in DEMO_STAFF
            if p.username in s.patients
        ],
        "gender": p.gender,
        "birthDate": p.birth_date.isoformat(),
        "communication": [
            {
                "language": {
                    "coding": [{"system": "urn:ietf:bcp:47", "code": code, "display": display}]
                },
                "preferred": True,
            }
        ],
    }


def _practitioner(s: DemoStaff) -> Json:
    return {
        "resourceType": "Practitioner",
        "id": s.fhir_id,
        "active": True,
        "telecom": [{"system": "email", "value": f"{s.username}@clinic.example.org"}],
        "name": [{"family": s.family, "given": [s.given]}],
    }


def _role(s: DemoStaff) -> Json:
    role: Json = {
        "resourceType": "PractitionerRole",
        "id": f"{s.fhir_id}-role",
        "active": True,
        "practitioner": {"reference": f"Practitioner/{s.fhir_id}"},
        "code": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/practitioner-role",
                        "code": s.role_code,
                        "display": s.role_display,
                    }
                ]
            }
        ],
    }
    if s.hours is not None:
        role["availableTime"] = [
            {
                "daysOfWeek": list(s.weekdays),
                "availableStartTime": s.hours[0],
                "availableEndTime": s.hours[1],
            }
        ]
    return role


def _schedule(s: DemoStaff, today: date) -> Json:
    return {
        "resourceType": "Schedule",
        "id": f"{s.fhir_id}-schedule",
        "extension": [{"url": TIMEZONE_EXTENSION, "valueCode": s.zone}],
        "active": True,
        "serviceType": [{"text": "Virtual visit"}],
        "actor": [
            {"reference": f"PractitionerRole/{s.fhir_id}-role"},
            {"reference": f"Practitioner/{s.fhir_id}"},
        ],
        "planningHorizon": {
            "start": today.isoformat(),
            "end": (today + timedelta(weeks=8)).isoformat(),
        },
        "comment": "Weekly working hours are in PractitionerRole.availableTime.",
    }


def _coverage(p: DemoPatient) -> Json:
    return {
        "resourceType": "Coverage",
        "id": f"{p.fhir_id}-coverage",
        "status": "active",
        "beneficiary": {"reference": f"Patient/{p.fhir_id}"},
        "subscriberId": f"MBR-{zlib.crc32(p.username.encode()) % 10**8:08d}",
        "payor": [{"display": "Mutuelle Démo"}],
    }


def _team_role(s: DemoStaff) -> Json:
    if s.account_role != "care_manager":
        return {"text": s.role_display}
    # the member alerts go to (integrations/alerts/routing.py)
    coding = {"system": CARE_TEAM_ROLE_SYSTEM, "code": CARE_MANAGER_ROLE, "display": "Care manager"}
    return {"coding": [coding], "text": s.role_display}


def _care_team(p: DemoPatient) -> Json:
    participants = [
        {"role": [_team_role(s)], "member": {"reference": f"Practitioner/{s.fhir_id}"}}
        for s in DEMO_STAFF
    ]
    return {
        "resourceType": "CareTeam",
        "id": f"{p.fhir_id}-careteam",
        "status": "active",
        "name": "Virtual care team",
        "subject": {"reference": f"Patient/{p.fhir_id}"},
        "participant": participants,
    }


def record_bundle(now: datetime) -> Json:
    """A transaction bundle that PUTs the demo record; devices and vitals come from the
    gateway's simulator (`gateway.simulated_gateway.demo_history_bundle`)."""
    resources: list[Json] = []
    for staff in DEMO_STAFF:
        resources += [_practitioner(staff), _role(staff)]
        if staff.hours is not None:
            resources.append(_schedule(staff, now.date()))
    for patient in DEMO_PATIENTS:
        resources += [_patient(patient), _care_team(patient), _coverage(patient)]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [_put(r) for r in resources]}
