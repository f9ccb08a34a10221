"""What travels between the radio, the buffer and the mapper: raw frames and device bindings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.codes import CharacteristicUuid


@dataclass(frozen=True, slots=True)
class Frame:
    """One notification or indication exactly as received, with its receipt time (UTC)."""

    device: str  # BLE address, e.g. "C0:FF:EE:00:00:01"
    uuid: CharacteristicUuid
    data: bytes
    received_at: datetime
    seq: int = 0  # the buffer's row id once stored


@dataclass(frozen=True, slots=True)
class DeviceBinding:
    """A paired device: which FHIR Patient its readings belong to and its FHIR Device id."""

    address: str
    patient_id: str
    device_id: str


@dataclass(frozen=True, slots=True)
class ObservationRecord:
    """A mapped Observation ready for upload: its deterministic identifier and its JSON."""

    identifier: str
    kind: str
    effective: datetime
    resource_json: str
