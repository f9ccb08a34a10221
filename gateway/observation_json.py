"""Observation JSON on the R4 vital-signs profiles: codes, quantities, identifiers (pure).

Codes and UCUM units follow DESIGN.md and the R4 vital-signs profiles (FHIR R4 §6.1.0.x
"Vital Signs"). `effectiveDateTime` is the device's own time stamp when it has one,
otherwise the gateway's receipt time; an extension says which. IEEE-11073 special values
become `dataAbsentReason`, never numbers. Every Observation carries a deterministic
identifier (device, kind, measurement time and, for spot readings, a digest of the frame),
so that uploads are idempotent conditional creates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntFlag, StrEnum
from typing import Any

from gateway.codes import (
    DATA_ABSENT_REASON_SYSTEM,
    EFFECTIVE_TIME_EXTENSION,
    GATEWAY_CODE_SYSTEM,
    LOINC,
    OBSERVATION_CATEGORY_SYSTEM,
    OBSERVATION_IDENTIFIER_SYSTEM,
    PULSE_OXIMETRY_LOINC,
    UCUM,
    VITAL_SIGNS_PROFILE,
    EffectiveTimeSource,
    SpecialValue,
    VitalCode,
)
from gateway.frames import DeviceBinding, Frame, ObservationRecord
from gateway.ieee11073 import Numeric
from gateway.measurements import GattDateTime

MEASUREMENT_STATUS_EXTENSION = f"{GATEWAY_CODE_SYSTEM}/measurement-status"
# data-absent-reason codes (http://terminology.hl7.org/CodeSystem/data-absent-reason)
_ABSENT: dict[SpecialValue, tuple[str, str]] = {
    SpecialValue.NAN: ("not-a-number", "Not a Number (NaN)"),
    SpecialValue.NRES: ("error", "Error"),
    SpecialValue.POSITIVE_INFINITY: ("positive-infinity", "Positive Infinity (PINF)"),
    SpecialValue.NEGATIVE_INFINITY: ("negative-infinity", "Negative Infinity (NINF)"),
    SpecialValue.RESERVED: ("error", "Error"),
    SpecialValue.UNSUCCESSFUL: ("error", "Error"),
}

Json = dict[str, Any]  # mapping-internal: resources are built as JSON and leave as text


class Kind(StrEnum):
    """The kinds of Observation we emit; part of the deterministic identifier."""

    HEART_RATE = "heart-rate"
    HEART_RATE_MINUTE = "heart-rate-1min"
    SPO2 = "spo2"
    SPO2_MINUTE = "spo2-1min"
    PULSE_RATE_MINUTE = "pulse-rate-1min"
    BLOOD_PRESSURE = "blood-pressure"
    BODY_TEMPERATURE = "body-temperature"
    BODY_WEIGHT = "body-weight"
    BODY_HEIGHT = "body-height"
    BMI = "bmi"
    GLUCOSE = "glucose"


def iso(moment: datetime) -> str:
    """An instant as FHIR dateTime text in UTC, with `Z`."""
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def coding(system: str, code: str, display: str) -> Json:
    """A Coding."""
    return {"system": system, "code": code, "display": display}


def vital_code(vital: VitalCode, extra: Sequence[Json] = ()) -> Json:
    """The CodeableConcept of a vital sign: its LOINC code, then any extra codings."""
    return {"coding": [coding(LOINC, vital.loinc, vital.display), *extra], "text": vital.display}


def quantity(value: float, unit: str, ucum: str) -> Json:
    """A UCUM Quantity, rounded to 6 decimals."""
    return {"value": round(value, 6), "unit": unit, "system": UCUM, "code": ucum}


def absent(special: SpecialValue) -> Json:
    """The dataAbsentReason for an IEEE 11073 special value."""
    code, display = _ABSENT[special]
    return {"coding": [coding(DATA_ABSENT_REASON_SYSTEM, code, display)], "text": special.value}


def value_fields(value: Numeric | None, unit: str, ucum: str, scale: float = 1.0) -> Json:
    """valueQuantity for a number, dataAbsentReason for a special value or nothing."""
    if value is None:
        return {"dataAbsentReason": absent(SpecialValue.UNSUCCESSFUL)}
    if isinstance(value, SpecialValue):
        return {"dataAbsentReason": absent(value)}
    return {"valueQuantity": quantity(value * scale, unit, ucum)}


def flag_codings(*flag_sets: IntFlag | None) -> list[Json]:
    """One gateway Coding per flag set in each of the flag sets given."""
    out: list[Json] = []
    for flags in flag_sets:
        if flags is None:
            continue
        for member in type(flags):
            if member.name and member in flags:
                name = member.name.lower().replace("_", "-")
                out.append(coding(GATEWAY_CODE_SYSTEM, name, name.replace("-", " ")))
    return out


@dataclass(frozen=True, slots=True)
class Effective:
    """When a spot reading was taken, and whose clock says so."""

    moment: datetime
    source: EffectiveTimeSource


def effective_of(stamp: GattDateTime | None, received_at: datetime) -> Effective:
    """The device's time stamp when it has a whole one, else the receipt time."""
    moment = stamp.to_datetime() if stamp is not None else None
    if moment is not None:
        return Effective(moment, EffectiveTimeSource.DEVICE)
    return Effective(received_at, EffectiveTimeSource.RECEIPT)


def frame_digest(frame: Frame) -> str:
    """A short digest of the characteristic and bytes: tells apart readings at one instant."""
    return hashlib.sha256(bytes([frame.uuid >> 8, frame.uuid & 0xFF]) + frame.data).hexdigest()[:12]


def observation_identifier(device_id: str, kind: str, moment: datetime, suffix: str = "") -> str:
    """The deterministic identifier value: device, kind, measurement time (and frame digest)."""
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{device_id}/{kind}/{stamp}" + (f"/{suffix}" if suffix else "")


def observation(
    binding: DeviceBinding,
    kind: Kind,
    identifier: str,
    vital: VitalCode,
    effective: Effective | tuple[datetime, datetime],
    body: Json,
    status_codings: Sequence[Json] = (),
    code_extra: Sequence[Json] = (),
) -> ObservationRecord:
    """One Observation on the vital-signs profile: a spot instant or a period, as JSON text."""
    resource: Json = {"resourceType": "Observation"}
    profiles = [VITAL_SIGNS_PROFILE] + ([vital.profile] if vital.profile else [])
    resource["meta"] = {"profile": profiles}
    extensions: list[Json] = []
    if isinstance(effective, Effective):
        extensions.append({"url": EFFECTIVE_TIME_EXTENSION, "valueCode": effective.source.value})
        moment = effective.moment
    else:
        extensions.append(
            {"url": EFFECTIVE_TIME_EXTENSION, "valueCode": EffectiveTimeSource.RECEIPT.value}
        )
        moment = effective[0]
    extensions.extend(
        {"url": MEASUREMENT_STATUS_EXTENSION, "valueCoding": status} for status in status_codings
    )
    resource["extension"] = extensions
    resource["identifier"] = [{"system": OBSERVATION_IDENTIFIER_SYSTEM, "value": identifier}]
    resource["status"] = "final"
    resource["category"] = [
        {
            "coding": [coding(OBSERVATION_CATEGORY_SYSTEM, "vital-signs", "Vital Signs")],
            "text": "Vital Signs",
        }
    ]
    resource["code"] = vital_code(vital, code_extra)
    resource["subject"] = {"reference": f"Patient/{binding.patient_id}"}
    if isinstance(effective, Effective):
        resource["effectiveDateTime"] = iso(effective.moment)
    else:
        resource["effectivePeriod"] = {"start": iso(effective[0]), "end": iso(effective[1])}
    resource["device"] = {"reference": f"Device/{binding.device_id}"}
    resource.update(body)
    return ObservationRecord(
        identifier, kind.value, moment, json.dumps(resource, separators=(",", ":"))
    )


SPO2_EXTRA = (
    coding(LOINC, PULSE_OXIMETRY_LOINC, "Oxygen saturation in Arterial blood by Pulse oximetry"),
)
