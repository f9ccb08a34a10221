"""Pairing: a device is bound to a FHIR Patient and described by a FHIR Device resource.

The Device gets a deterministic id from its Bluetooth address, identifiers for the address
and the serial number, and `Device.patient`; it is queued in the buffer's outbox as a PUT so
pairing works while the FHIR server is down. Readings of unpaired devices stay in the buffer
(quarantine) and flow once the device is paired; they are never uploaded unbound.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from gateway.buffer import DeviceRow, FrameBuffer
from gateway.codes import DEVICE_IDENTIFIER_SYSTEM
from gateway.frames import DeviceBinding
from integrations.codes import CAREBOT_BASE_URL

SERIAL_IDENTIFIER_SYSTEM = f"{CAREBOT_BASE_URL}/sid/device-serial"


def normalize_address(address: str) -> str:
    """A Bluetooth address as BlueZ writes it: upper case, colon separated."""
    return address.strip().upper().replace("-", ":")


def device_id_for(address: str) -> str:
    """The FHIR Device id of a Bluetooth address (stable across gateways)."""
    return "ble-" + hashlib.sha256(address.upper().encode()).hexdigest()[:20]


def device_resource_json(row: DeviceRow, patient_id: str) -> str:
    """The FHIR R4 Device for a paired device."""
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "id": row.device_id,
        "identifier": [{"system": DEVICE_IDENTIFIER_SYSTEM, "value": row.address.upper()}],
        "status": "active",
        "patient": {"reference": f"Patient/{patient_id}"},
    }
    if row.serial:
        resource["identifier"].append({"system": SERIAL_IDENTIFIER_SYSTEM, "value": row.serial})
        resource["serialNumber"] = row.serial
    if row.manufacturer:
        resource["manufacturer"] = row.manufacturer
    if row.model:
        resource["modelNumber"] = row.model
    if row.name:
        resource["deviceName"] = [{"name": row.name, "type": "user-friendly-name"}]
    return json.dumps(resource, separators=(",", ":"))


def pair_device(
    buffer: FrameBuffer,
    address: str,
    patient_id: str,
    at: datetime,
    name: str = "",
    manufacturer: str = "",
    model: str = "",
    serial: str = "",
) -> DeviceBinding:
    """Bind a device to a patient and queue its FHIR Device; quarantined readings then flow."""
    address = normalize_address(address)
    device_id = device_id_for(address)
    buffer.upsert_device(address, device_id, name, manufacturer, model, serial)
    buffer.set_pairing(address, patient_id, at)
    row = next(r for r in buffer.devices() if r.address == address)
    buffer.queue_resource(
        f"Device/{device_id}", "Device", address, device_resource_json(row, patient_id)
    )
    return DeviceBinding(address, patient_id, device_id)


def unpair_device(buffer: FrameBuffer, address: str, at: datetime) -> None:
    """Unbind a device: its next readings go to quarantine."""
    buffer.set_pairing(normalize_address(address), None, at)
