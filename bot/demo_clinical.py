"""The demo clinical record as FHIR resources (pure): staff, patients, care teams, devices.

Fixed ids make seeding idempotent: the bundle PUTs every resource, and the week of
vitals goes in as conditional creates on the readings' deterministic identifiers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from gateway.buffer import DeviceRow, OutboxItem
from gateway.frames import DeviceBinding
from gateway.history import week_of_readings
from gateway.pairing import device_id_for, device_resource_json
from gateway.simulator import Episode, Physiology, Profile, VirtualDevice
from gateway.uploader import transaction_bundle

Json = dict[str, Any]

LANGUAGE_CODES = {"en": ("en", "English"), "fr": ("fr", "French")}


@dataclass(frozen=True)
class DemoPatient:
    """A demo patient with their devices and physiology."""

    fhir_id: str
    given: str
    family: str
    gender: str
    birth_date: date
    language: str
    profiles: tuple[Profile, ...]
    physiology: Physiology


@dataclass(frozen=True)
class DemoStaff:
    """A demo practitioner and their role."""

    fhir_id: str
    given: str
    family: str
    role_code: str
    role_display: str
    weekdays: tuple[str, ...]
    hours: tuple[str, str] | None


def demo_patients(now: datetime) -> tuple[DemoPatient, ...]:
    """Five patients; two have a deterioration episode in the last days."""
    recent = now - timedelta(days=2)
    return (
        DemoPatient(
            "demo-patient-alice",
            "Alice",
            "Martin",
            "female",
            date(1958, 4, 12),
            "en",
            (Profile.PULSE_OXIMETER, Profile.BLOOD_PRESSURE),
            Physiology(
                heart_rate_bpm=78,
                spo2_pct=95,
                systolic_mmhg=138,
                diastolic_mmhg=84,
                episodes=(Episode(recent, timedelta(hours=10), 0.8),),
            ),
        ),
        DemoPatient(
            "demo-patient-bruno",
            "Bruno",
            "Lefèvre",
            "male",
            date(1971, 9, 3),
            "fr",
            (Profile.HEART_RATE, Profile.THERMOMETER),
            Physiology(heart_rate_bpm=66, temperature_c=36.7),
        ),
        DemoPatient(
            "demo-patient-chloe",
            "Chloé",
            "Dubois",
            "female",
            date(1989, 1, 27),
            "fr",
            (Profile.GLUCOSE_METER, Profile.WEIGHT_SCALE),
            Physiology(glucose_mg_dl=142, weight_kg=71, height_m=1.66),
        ),
        DemoPatient(
            "demo-patient-david",
            "David",
            "Okafor",
            "male",
            date(1948, 6, 30),
            "en",
            (Profile.BLOOD_PRESSURE, Profile.WEIGHT_SCALE, Profile.PULSE_OXIMETER),
            Physiology(
                systolic_mmhg=152,
                diastolic_mmhg=92,
                weight_kg=91,
                spo2_pct=94,
                episodes=(Episode(now - timedelta(hours=20), timedelta(hours=30), 1.0),),
            ),
        ),
        DemoPatient(
            "demo-patient-emma",
            "Emma",
            "Nguyen",
            "female",
            date(2001, 11, 5),
            "en",
            (Profile.PULSE_OXIMETER, Profile.THERMOMETER),
            Physiology(heart_rate_bpm=70, spo2_pct=98),
        ),
    )


DEMO_STAFF: tuple[DemoStaff, ...] = (
    DemoStaff(
        "demo-practitioner-chen",
        "Sarah",
        "Chen",
        "doctor",
        "Doctor",
        ("mon", "tue", "wed", "thu", "fri"),
        ("09:00:00", "17:00:00"),
    ),
    DemoStaff(
        "demo-practitioner-haddad",
        "Karim",
        "Haddad",
        "doctor",
        "Doctor",
        ("tue", "wed", "thu", "sat"),
        ("08:00:00", "14:00:00"),
    ),
    DemoStaff(
        "demo-practitioner-miller",
        "Grace",
        "Miller",
        "nurse",
        "Care manager",
        ("mon", "tue", "wed", "thu", "fri"),
        None,
    ),
)


def device_address(patient: DemoPatient, index: int) -> str:
    """A stable, locally administered MAC address for the patient's INDEXth device."""
    digest = (
        abs(hash((patient.fhir_id, index))) % 0xFFFFFF
        if False
        else sum(ord(c) * (i + 1) for i, c in enumerate(patient.fhir_id))
    )
    return f"C2:CA:{(digest >> 8) & 0xFF:02X}:{digest & 0xFF:02X}:{index:02X}:01"


def virtual_devices(patient: DemoPatient) -> list[tuple[VirtualDevice, DeviceBinding]]:
    """The patient's simulated devices and their pairing."""
    devices = []
    for index, profile in enumerate(patient.profiles):
        address = device_address(patient, index)
        device = VirtualDevice(address, profile, patient.physiology, seed=index + 1)
        binding = DeviceBinding(address, patient.fhir_id, device_id_for(address))
        devices.append((device, binding))
    return devices


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
        "active": True,
        "name": [{"use": "official", "family": p.family, "given": [p.given]}],
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


def _care_team(p: DemoPatient) -> Json:
    participants = [
        {
            "role": [{"text": s.role_display}],
            "member": {"reference": f"Practitioner/{s.fhir_id}"},
        }
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


def _device(device: VirtualDevice, binding: DeviceBinding) -> Json:
    row = DeviceRow(
        address=device.address,
        name=device.name,
        manufacturer=device.manufacturer,
        model=device.model_number,
        serial=device.serial_number,
        patient_id=binding.patient_id,
        device_id=binding.device_id,
        connected=False,
        last_seen=None,
        last_reading_at=None,
        last_reading=None,
    )
    resource: Json = json.loads(device_resource_json(row, binding.patient_id))
    return resource


def vitals_bundles(now: datetime, days: float = 7.0, size: int = 500) -> Iterator[Json]:
    """Transaction bundles of conditional creates holding DAYS of every demo device's readings."""
    items: list[OutboxItem] = []
    for patient in demo_patients(now):
        for device, binding in virtual_devices(patient):
            for record in week_of_readings(device, binding, end=now, days=days):
                items.append(
                    OutboxItem(
                        0, record.identifier, "Observation", "POST", record.resource_json, 0.0
                    )
                )
    for start in range(0, len(items), size):
        yield transaction_bundle(items[start : start + size])


def record_bundle(now: datetime) -> Json:
    """A transaction bundle that PUTs the whole demo record except the vitals."""
    resources: list[Json] = []
    for staff in DEMO_STAFF:
        resources += [_practitioner(staff), _role(staff)]
        if staff.hours is not None:
            resources.append(_schedule(staff, now.date()))
    for patient in demo_patients(now):
        resources += [_patient(patient), _care_team(patient)]
        resources += [_device(d, b) for d, b in virtual_devices(patient)]
    return {"resourceType": "Bundle", "type": "transaction", "entry": [_put(r) for r in resources]}
