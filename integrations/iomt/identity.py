"""Who a device's readings belong to: Lookup mode (the Device with that identifier must exist
and name a Patient) and Create mode (Device and Patient created from the template's
expressions, with ids hashed from the identifiers, so concurrent creates converge on one
resource each instead of duplicating it, the fix MedTech itself had to make).
"""

from __future__ import annotations

import hashlib
import time
from enum import StrEnum
from typing import Any, Protocol

from fhir.resources.R4B.device import Device

from integrations.codes import CAREBOT_BASE_URL
from integrations.fhir import FhirClient, SearchQuery
from integrations.fhir.transactions import put_transaction
from integrations.iomt.device_templates import Measurement
from integrations.iomt.observations import Subject

DEVICE_IDENTIFIER_SYSTEM = f"{CAREBOT_BASE_URL}/sid/iomt-device"
PATIENT_IDENTIFIER_SYSTEM = f"{CAREBOT_BASE_URL}/sid/iomt-patient"


class IdentityMode(StrEnum):
    """`CAREBOT_IOMT_IDENTITY`: lookup (default) or create."""

    LOOKUP = "lookup"
    CREATE = "create"


class Resolver(Protocol):
    """Finds (or makes) the subject of a device's readings; None: not paired (quarantine)."""

    async def resolve(self, measurement: Measurement) -> Subject | None:
        """The subject of MEASUREMENT's device."""
        ...

    def forget(self, device_id: str) -> None:
        """Drop what is cached of DEVICE_ID (it was paired or re-paired)."""
        ...


def hashed_id(kind: str, value: str) -> str:
    """A resource id derived from an identifier (same on every process and retry)."""
    return "iomt-" + hashlib.sha256(f"{kind}|{value}".encode()).hexdigest()[:40]


def _subject(device: dict[str, Any], measurement: Measurement) -> Subject | None:
    reference = (device.get("patient") or {}).get("reference", "")
    if not isinstance(reference, str) or not reference.startswith("Patient/"):
        return None
    return Subject(reference.removeprefix("Patient/"), str(device["id"]), measurement.encounter_id)


class LookupResolver:
    """Lookup mode: `Device?identifier=<device id>` must find a Device with a patient."""

    def __init__(self, fhir: FhirClient, ttl_s: float = 300.0) -> None:
        self.fhir = fhir
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def _device(self, device_id: str) -> dict[str, Any] | None:
        cached = self._cache.get(device_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        query = SearchQuery(Device).where(identifier=device_id).count(2)
        async for page in self.fhir.search_pages_json(query, max_pages=1):
            for entry in page.get("entry") or []:
                resource = entry.get("resource") or {}
                if resource.get("resourceType") == "Device" and resource.get("patient"):
                    self._cache[device_id] = (time.monotonic() + self.ttl_s, resource)
                    return dict(resource)
        return None

    async def resolve(self, measurement: Measurement) -> Subject | None:
        """The subject of the paired Device, or None."""
        device = await self._device(measurement.device_id)
        return None if device is None else _subject(device, measurement)

    def forget(self, device_id: str) -> None:
        """Drop the cached Device."""
        self._cache.pop(device_id, None)


class CreateResolver(LookupResolver):
    """Create mode: a missing Device (and its Patient) is made from the measurement's ids."""

    async def resolve(self, measurement: Measurement) -> Subject | None:
        """The subject, creating Patient and Device when the device is unknown."""
        found = await super().resolve(measurement)
        if found is not None or not measurement.patient_id:
            return found
        patient_id = hashed_id("patient", measurement.patient_id)
        device_id = hashed_id("device", measurement.device_id)
        patient = {
            "resourceType": "Patient",
            "id": patient_id,
            "identifier": [{"system": PATIENT_IDENTIFIER_SYSTEM, "value": measurement.patient_id}],
        }
        device = {
            "resourceType": "Device",
            "id": device_id,
            "identifier": [{"system": DEVICE_IDENTIFIER_SYSTEM, "value": measurement.device_id}],
            "status": "active",
            "patient": {"reference": f"Patient/{patient_id}"},
        }
        # PUT to hashed ids: two processes creating at once write the same two resources
        await self.fhir.post_bundle_json(put_transaction((patient, device)))
        self._cache[measurement.device_id] = (time.monotonic() + self.ttl_s, device)
        return Subject(patient_id, device_id, measurement.encounter_id)


def resolver_for(mode: IdentityMode, fhir: FhirClient) -> Resolver:
    """The resolver of MODE."""
    return CreateResolver(fhir) if mode is IdentityMode.CREATE else LookupResolver(fhir)
