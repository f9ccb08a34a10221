"""Measurements -> FHIR R4 Observations on the vital-signs profiles (pure).

Codes and UCUM units follow DESIGN.md and the R4 vital-signs profiles (FHIR R4 §6.1.0.x
"Vital Signs"). `effectiveDateTime` is the device's own time stamp when it has one,
otherwise the gateway's receipt time; an extension says which. IEEE-11073 special values
become `dataAbsentReason`, never numbers. Every Observation carries a deterministic
identifier (device, kind, measurement time and, for spot readings, a digest of the frame),
so that uploads are idempotent conditional creates.

Continuous streams (Heart Rate Measurement at ~1 Hz, PLX Continuous) are grouped per
minute of receipt time by `MinuteAggregator` into one Observation whose value is the mean,
with minimum, maximum and sample count as components; `GroupMode.SAMPLED_DATA` adds the
samples themselves as a SampledData component (FHIR R4 §2.24.0.x SampledData).
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
    CharacteristicUuid,
    EffectiveTimeSource,
    GlucoseSampleLocation,
    GlucoseType,
    GlucoseUnit,
    PressureUnit,
    SpecialValue,
    TemperatureType,
    TemperatureUnit,
    VitalCode,
    WeightUnit,
)
from gateway.decoders import decode
from gateway.frames import DeviceBinding, Frame, ObservationRecord
from gateway.ieee11073 import Numeric
from gateway.measurements import (
    BloodPressureMeasurement,
    GattDateTime,
    GlucoseMeasurement,
    HeartRateMeasurement,
    Measurement,
    PlxContinuousMeasurement,
    PlxSpotCheckMeasurement,
    TemperatureMeasurement,
    WeightMeasurement,
)

MEASUREMENT_STATUS_EXTENSION = f"{GATEWAY_CODE_SYSTEM}/measurement-status"
KPA_TO_MMHG = 7.500615758456563  # 1 kPa = 7.50062 mmHg
CONTINUOUS_UUIDS = frozenset(
    {CharacteristicUuid.HEART_RATE_MEASUREMENT, CharacteristicUuid.PLX_CONTINUOUS_MEASUREMENT}
)

# data-absent-reason codes (http://terminology.hl7.org/CodeSystem/data-absent-reason)
_ABSENT: dict[SpecialValue, tuple[str, str]] = {
    SpecialValue.NAN: ("not-a-number", "Not a Number (NaN)"),
    SpecialValue.NRES: ("error", "Error"),
    SpecialValue.POSITIVE_INFINITY: ("positive-infinity", "Positive Infinity (PINF)"),
    SpecialValue.NEGATIVE_INFINITY: ("negative-infinity", "Negative Infinity (NINF)"),
    SpecialValue.RESERVED: ("error", "Error"),
    SpecialValue.UNSUCCESSFUL: ("error", "Error"),
}

Json = dict[str, Any]  # module-internal: resources are built as JSON and leave as text


class GroupMode(StrEnum):
    """How a minute of continuous samples becomes one Observation."""

    SUMMARY = "summary"
    SAMPLED_DATA = "sampled-data"


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


def _iso(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def _coding(system: str, code: str, display: str) -> Json:
    return {"system": system, "code": code, "display": display}


def _vital_code(vital: VitalCode, extra: Sequence[Json] = ()) -> Json:
    return {"coding": [_coding(LOINC, vital.loinc, vital.display), *extra], "text": vital.display}


def _quantity(value: float, unit: str, ucum: str) -> Json:
    return {"value": round(value, 6), "unit": unit, "system": UCUM, "code": ucum}


def _absent(special: SpecialValue) -> Json:
    code, display = _ABSENT[special]
    return {"coding": [_coding(DATA_ABSENT_REASON_SYSTEM, code, display)], "text": special.value}


def _value_fields(value: Numeric | None, unit: str, ucum: str, scale: float = 1.0) -> Json:
    """valueQuantity for a number, dataAbsentReason for a special value or nothing."""
    if value is None:
        return {"dataAbsentReason": _absent(SpecialValue.UNSUCCESSFUL)}
    if isinstance(value, SpecialValue):
        return {"dataAbsentReason": _absent(value)}
    return {"valueQuantity": _quantity(value * scale, unit, ucum)}


def _flag_codings(*flag_sets: IntFlag | None) -> list[Json]:
    out: list[Json] = []
    for flags in flag_sets:
        if flags is None:
            continue
        for member in type(flags):
            if member.name and member in flags:
                name = member.name.lower().replace("_", "-")
                out.append(_coding(GATEWAY_CODE_SYSTEM, name, name.replace("-", " ")))
    return out


@dataclass(frozen=True, slots=True)
class _Effective:
    moment: datetime
    source: EffectiveTimeSource


def _effective(stamp: GattDateTime | None, received_at: datetime) -> _Effective:
    moment = stamp.to_datetime() if stamp is not None else None
    if moment is not None:
        return _Effective(moment, EffectiveTimeSource.DEVICE)
    return _Effective(received_at, EffectiveTimeSource.RECEIPT)


def _digest(frame: Frame) -> str:
    return hashlib.sha256(bytes([frame.uuid >> 8, frame.uuid & 0xFF]) + frame.data).hexdigest()[:12]


def observation_identifier(device_id: str, kind: str, moment: datetime, suffix: str = "") -> str:
    """The deterministic identifier value: device, kind, measurement time (and frame digest)."""
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{device_id}/{kind}/{stamp}" + (f"/{suffix}" if suffix else "")


def _observation(
    binding: DeviceBinding,
    kind: Kind,
    identifier: str,
    vital: VitalCode,
    effective: _Effective | tuple[datetime, datetime],
    body: Json,
    status_codings: Sequence[Json] = (),
    code_extra: Sequence[Json] = (),
) -> ObservationRecord:
    resource: Json = {"resourceType": "Observation"}
    profiles = [VITAL_SIGNS_PROFILE] + ([vital.profile] if vital.profile else [])
    resource["meta"] = {"profile": profiles}
    extensions: list[Json] = []
    if isinstance(effective, _Effective):
        extensions.append({"url": EFFECTIVE_TIME_EXTENSION, "valueCode": effective.source.value})
        moment = effective.moment
    else:
        extensions.append(
            {"url": EFFECTIVE_TIME_EXTENSION, "valueCode": EffectiveTimeSource.RECEIPT.value}
        )
        moment = effective[0]
    extensions.extend(
        {"url": MEASUREMENT_STATUS_EXTENSION, "valueCoding": coding} for coding in status_codings
    )
    resource["extension"] = extensions
    resource["identifier"] = [{"system": OBSERVATION_IDENTIFIER_SYSTEM, "value": identifier}]
    resource["status"] = "final"
    resource["category"] = [
        {
            "coding": [_coding(OBSERVATION_CATEGORY_SYSTEM, "vital-signs", "Vital Signs")],
            "text": "Vital Signs",
        }
    ]
    resource["code"] = _vital_code(vital, code_extra)
    resource["subject"] = {"reference": f"Patient/{binding.patient_id}"}
    if isinstance(effective, _Effective):
        resource["effectiveDateTime"] = _iso(effective.moment)
    else:
        resource["effectivePeriod"] = {"start": _iso(effective[0]), "end": _iso(effective[1])}
    resource["device"] = {"reference": f"Device/{binding.device_id}"}
    resource.update(body)
    return ObservationRecord(
        identifier, kind.value, moment, json.dumps(resource, separators=(",", ":"))
    )


# ---- spot readings ------------------------------------------------------------------

_SPO2_EXTRA = (
    _coding(LOINC, PULSE_OXIMETRY_LOINC, "Oxygen saturation in Arterial blood by Pulse oximetry"),
)


def _bp_component(vital: VitalCode, value: Numeric, unit: PressureUnit) -> Json:
    scale = KPA_TO_MMHG if unit is PressureUnit.KPA else 1.0
    return {"code": _vital_code(vital), **_value_fields(value, "mmHg", "mm[Hg]", scale)}


def _map_blood_pressure(
    frame: Frame, m: BloodPressureMeasurement, binding: DeviceBinding
) -> list[ObservationRecord]:
    effective = _effective(m.timestamp, frame.received_at)
    digest = _digest(frame)
    body: Json = {
        "component": [
            _bp_component(VitalCode.SYSTOLIC, m.systolic, m.unit),
            _bp_component(VitalCode.DIASTOLIC, m.diastolic, m.unit),
            _bp_component(VitalCode.MEAN_ARTERIAL_PRESSURE, m.mean_arterial_pressure, m.unit),
        ]
    }
    status = _flag_codings(m.status)
    if m.user_id is not None:
        status.append(_coding(GATEWAY_CODE_SYSTEM, f"user-{m.user_id}", f"device user {m.user_id}"))
    out = [
        _observation(
            binding,
            Kind.BLOOD_PRESSURE,
            observation_identifier(
                binding.device_id, Kind.BLOOD_PRESSURE, effective.moment, digest
            ),
            VitalCode.BLOOD_PRESSURE_PANEL,
            effective,
            body,
            status,
        )
    ]
    if m.pulse_rate_bpm is not None:
        out.append(
            _observation(
                binding,
                Kind.HEART_RATE,
                observation_identifier(
                    binding.device_id, Kind.HEART_RATE, effective.moment, digest
                ),
                VitalCode.HEART_RATE,
                effective,
                _value_fields(m.pulse_rate_bpm, "beats/minute", "/min"),
                status,
            )
        )
    return out


def _map_temperature(
    frame: Frame, m: TemperatureMeasurement, binding: DeviceBinding
) -> list[ObservationRecord]:
    effective = _effective(m.timestamp, frame.received_at)
    unit, ucum = ("C", "Cel") if m.unit is TemperatureUnit.CELSIUS else ("F", "[degF]")
    body = _value_fields(m.temperature, unit, ucum)
    if m.temperature_type is not None:
        try:
            name = TemperatureType(m.temperature_type).name.lower().replace("_", "-")
        except ValueError:
            name = f"reserved-{m.temperature_type}"
        body["bodySite"] = {
            "coding": [_coding(GATEWAY_CODE_SYSTEM, f"temperature-type-{name}", name)],
            "text": name,
        }
    return [
        _observation(
            binding,
            Kind.BODY_TEMPERATURE,
            observation_identifier(
                binding.device_id, Kind.BODY_TEMPERATURE, effective.moment, _digest(frame)
            ),
            VitalCode.BODY_TEMPERATURE,
            effective,
            body,
        )
    ]


def _map_weight(
    frame: Frame, m: WeightMeasurement, binding: DeviceBinding
) -> list[ObservationRecord]:
    effective = _effective(m.timestamp, frame.received_at)
    digest = _digest(frame)
    si = m.unit is WeightUnit.SI
    status: list[Json] = []
    if m.user_id is not None:
        status.append(_coding(GATEWAY_CODE_SYSTEM, f"user-{m.user_id}", f"device user {m.user_id}"))
    weight_body = (
        _value_fields(m.weight, "kg", "kg") if si else _value_fields(m.weight, "lb", "[lb_av]")
    )
    out = [
        _observation(
            binding,
            Kind.BODY_WEIGHT,
            observation_identifier(binding.device_id, Kind.BODY_WEIGHT, effective.moment, digest),
            VitalCode.BODY_WEIGHT,
            effective,
            weight_body,
            status,
        )
    ]
    if m.bmi is not None:
        out.append(
            _observation(
                binding,
                Kind.BMI,
                observation_identifier(binding.device_id, Kind.BMI, effective.moment, digest),
                VitalCode.BMI,
                effective,
                _value_fields(m.bmi, "kg/m2", "kg/m2"),
                status,
            )
        )
    if m.height is not None:
        height_body = (
            _value_fields(m.height, "cm", "cm", 100.0)
            if si
            else _value_fields(m.height, "in", "[in_i]")
        )
        out.append(
            _observation(
                binding,
                Kind.BODY_HEIGHT,
                observation_identifier(
                    binding.device_id, Kind.BODY_HEIGHT, effective.moment, digest
                ),
                VitalCode.BODY_HEIGHT,
                effective,
                height_body,
                status,
            )
        )
    return out


def _map_glucose(
    frame: Frame, m: GlucoseMeasurement, binding: DeviceBinding
) -> list[ObservationRecord]:
    if m.concentration is None:
        return []  # a record with no concentration carries only context; nothing to chart
    base = m.base_time.to_datetime()
    if base is not None and m.time_offset_minutes is not None:
        base = base + timedelta(minutes=m.time_offset_minutes)
    effective = (
        _Effective(base, EffectiveTimeSource.DEVICE)
        if base is not None
        else _Effective(frame.received_at, EffectiveTimeSource.RECEIPT)
    )
    if m.unit is GlucoseUnit.MOL_PER_L:
        vital, body = (
            VitalCode.GLUCOSE_MOLAR,
            _value_fields(m.concentration, "mmol/L", "mmol/L", 1000.0),
        )
    else:
        vital, body = VitalCode.GLUCOSE, _value_fields(m.concentration, "mg/dL", "mg/dL", 100000.0)
    status = _flag_codings(m.sensor_status)
    status.append(_coding(GATEWAY_CODE_SYSTEM, f"sequence-{m.sequence_number}", "record number"))
    if m.glucose_type is not None:
        try:
            name = GlucoseType(m.glucose_type).name.lower().replace("_", "-")
        except ValueError:
            name = f"reserved-{m.glucose_type}"
        status.append(_coding(GATEWAY_CODE_SYSTEM, f"glucose-type-{name}", name))
    if m.sample_location is not None:
        try:
            loc = GlucoseSampleLocation(m.sample_location).name.lower().replace("_", "-")
        except ValueError:
            loc = f"reserved-{m.sample_location}"
        status.append(_coding(GATEWAY_CODE_SYSTEM, f"sample-location-{loc}", loc))
    return [
        _observation(
            binding,
            Kind.GLUCOSE,
            observation_identifier(
                binding.device_id, Kind.GLUCOSE, effective.moment, _digest(frame)
            ),
            vital,
            effective,
            body,
            status,
        )
    ]


def _map_spot_check(
    frame: Frame, m: PlxSpotCheckMeasurement, binding: DeviceBinding
) -> list[ObservationRecord]:
    stamp = None if m.device_clock_not_set else m.timestamp
    effective = _effective(stamp, frame.received_at)
    digest = _digest(frame)
    status = _flag_codings(m.measurement_status, m.device_sensor_status)
    return [
        _observation(
            binding,
            Kind.SPO2,
            observation_identifier(binding.device_id, Kind.SPO2, effective.moment, digest),
            VitalCode.OXYGEN_SATURATION,
            effective,
            _value_fields(m.spo2_pct, "%", "%"),
            status,
            _SPO2_EXTRA,
        ),
        _observation(
            binding,
            Kind.HEART_RATE,
            observation_identifier(binding.device_id, Kind.HEART_RATE, effective.moment, digest),
            VitalCode.HEART_RATE,
            effective,
            _value_fields(m.pulse_rate_bpm, "beats/minute", "/min"),
            status,
        ),
    ]


def map_spot_frame(
    frame: Frame, measurement: Measurement, binding: DeviceBinding
) -> list[ObservationRecord]:
    """Observations for one stored (spot) measurement; [] for Intermediate Cuff Pressure."""
    if isinstance(measurement, BloodPressureMeasurement):
        return _map_blood_pressure(frame, measurement, binding)
    if isinstance(measurement, TemperatureMeasurement):
        return _map_temperature(frame, measurement, binding)
    if isinstance(measurement, WeightMeasurement):
        return _map_weight(frame, measurement, binding)
    if isinstance(measurement, GlucoseMeasurement):
        return _map_glucose(frame, measurement, binding)
    if isinstance(measurement, PlxSpotCheckMeasurement):
        return _map_spot_check(frame, measurement, binding)
    # Intermediate Cuff Pressure is the cuff inflating: progress, not a reading.
    return []


# ---- continuous streams, grouped per minute -------------------------------------------


@dataclass(slots=True)
class MinuteGroup:
    """The samples of one continuous characteristic of one device in one minute."""

    device: str
    uuid: CharacteristicUuid
    minute: datetime
    frames: list[tuple[Frame, HeartRateMeasurement | PlxContinuousMeasurement]] = field(
        default_factory=list
    )


def minute_of(moment: datetime) -> datetime:
    """The start of the UTC minute holding a moment."""
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _summary(
    binding: DeviceBinding,
    group: MinuteGroup,
    kind: Kind,
    vital: VitalCode,
    unit: str,
    ucum: str,
    samples: Sequence[float | None],
    mode: GroupMode,
    status: Sequence[Json],
    code_extra: Sequence[Json] = (),
) -> ObservationRecord:
    values = [s for s in samples if s is not None]
    period = (group.minute, group.minute + timedelta(minutes=1))
    body: Json
    if values:
        body = {"valueQuantity": _quantity(statistics.fmean(values), unit, ucum)}
        components: list[Json] = [
            {
                "code": {"coding": [_coding(GATEWAY_CODE_SYSTEM, "minimum", "minimum")]},
                "valueQuantity": _quantity(min(values), unit, ucum),
            },
            {
                "code": {"coding": [_coding(GATEWAY_CODE_SYSTEM, "maximum", "maximum")]},
                "valueQuantity": _quantity(max(values), unit, ucum),
            },
        ]
    else:
        body = {"dataAbsentReason": _absent(SpecialValue.NAN)}
        components = []
    components.append(
        {
            "code": {"coding": [_coding(GATEWAY_CODE_SYSTEM, "sample-count", "sample count")]},
            "valueInteger": len(samples),
        }
    )
    if mode is GroupMode.SAMPLED_DATA:
        # One slot per second of the minute; "E" marks seconds with no usable sample.
        slots = ["E"] * 60
        for (frame, _), sample in zip(group.frames, samples, strict=True):
            if sample is not None:
                slots[min(59, frame.received_at.astimezone(UTC).second)] = f"{sample:g}"
        components.append(
            {
                "code": _vital_code(vital, code_extra),
                "valueSampledData": {
                    "origin": {"value": 0, "unit": unit, "system": UCUM, "code": ucum},
                    "period": 1000,
                    "dimensions": 1,
                    "data": " ".join(slots),
                },
            }
        )
    body["component"] = components
    return _observation(
        binding,
        kind,
        observation_identifier(binding.device_id, kind, group.minute),
        vital,
        period,
        body,
        status,
        code_extra,
    )


def _number(value: Numeric | None) -> float | None:
    return None if value is None or isinstance(value, SpecialValue) else float(value)


def map_minute_group(
    group: MinuteGroup, binding: DeviceBinding, mode: GroupMode = GroupMode.SUMMARY
) -> list[ObservationRecord]:
    """Observations summarising one minute of a continuous stream."""
    if group.uuid is CharacteristicUuid.HEART_RATE_MEASUREMENT:
        samples: list[float | None] = []
        no_contact = 0
        for _, m in group.frames:
            assert isinstance(m, HeartRateMeasurement)
            # A strap that reports no skin contact gives no usable beat rate.
            if m.sensor_contact is False:
                no_contact += 1
                samples.append(None)
            else:
                samples.append(float(m.bpm))
        status = (
            [
                _coding(
                    GATEWAY_CODE_SYSTEM,
                    "sensor-contact-lost",
                    f"no contact in {no_contact} samples",
                )
            ]
            if no_contact
            else []
        )
        return [
            _summary(
                binding,
                group,
                Kind.HEART_RATE_MINUTE,
                VitalCode.HEART_RATE,
                "beats/minute",
                "/min",
                samples,
                mode,
                status,
            )
        ]
    spo2: list[float | None] = []
    pulse: list[float | None] = []
    flags: list[Json] = []
    seen: set[str] = set()
    for _, m in group.frames:
        assert isinstance(m, PlxContinuousMeasurement)
        spo2.append(_number(m.spo2_pct))
        pulse.append(_number(m.pulse_rate_bpm))
        for coding in _flag_codings(m.measurement_status, m.device_sensor_status):
            if coding["code"] not in seen:
                seen.add(coding["code"])
                flags.append(coding)
    return [
        _summary(
            binding,
            group,
            Kind.SPO2_MINUTE,
            VitalCode.OXYGEN_SATURATION,
            "%",
            "%",
            spo2,
            mode,
            flags,
            _SPO2_EXTRA,
        ),
        _summary(
            binding,
            group,
            Kind.PULSE_RATE_MINUTE,
            VitalCode.HEART_RATE,
            "beats/minute",
            "/min",
            pulse,
            mode,
            flags,
        ),
    ]


class MinuteAggregator:
    """Collects continuous frames per (device, characteristic, minute); hands back closed minutes."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, CharacteristicUuid], MinuteGroup] = {}

    def add(
        self, frame: Frame, measurement: HeartRateMeasurement | PlxContinuousMeasurement
    ) -> list[MinuteGroup]:
        """Add a frame; returns the group it closed, if it starts a new minute."""
        key = (frame.device, frame.uuid)
        minute = minute_of(frame.received_at)
        group = self._open.get(key)
        closed: list[MinuteGroup] = []
        if group is not None and group.minute != minute:
            closed.append(group)
            group = None
        if group is None:
            group = MinuteGroup(frame.device, frame.uuid, minute)
            self._open[key] = group
        group.frames.append((frame, measurement))
        return closed

    def close_before(self, moment: datetime) -> list[MinuteGroup]:
        """Close every group whose minute ended at or before `moment`."""
        closed = [g for g in self._open.values() if g.minute + timedelta(minutes=1) <= moment]
        for group in closed:
            del self._open[(group.device, group.uuid)]
        return closed

    def open_seqs(self) -> list[int]:
        """Buffer row ids still held in open minutes (not yet mapped)."""
        return [frame.seq for group in self._open.values() for frame, _ in group.frames]


def frames_to_observations(
    frames: Iterable[Frame],
    binding: DeviceBinding,
    mode: GroupMode = GroupMode.SUMMARY,
) -> list[ObservationRecord]:
    """Every Observation a finished sequence of frames yields (all minutes closed); pure."""
    aggregator = MinuteAggregator()
    out: list[ObservationRecord] = []
    for frame in frames:
        measurement = decode(frame.uuid, frame.data)
        if isinstance(measurement, HeartRateMeasurement | PlxContinuousMeasurement):
            for group in aggregator.add(frame, measurement):
                out.extend(map_minute_group(group, binding, mode))
        elif frame.uuid in CONTINUOUS_UUIDS or not isinstance(
            measurement,
            BloodPressureMeasurement
            | TemperatureMeasurement
            | WeightMeasurement
            | GlucoseMeasurement
            | PlxSpotCheckMeasurement,
        ):
            continue  # features and cuff pressure carry no reading
        else:
            out.extend(map_spot_frame(frame, measurement, binding))
    for group in aggregator.close_before(datetime.max.replace(tzinfo=UTC)):
        out.extend(map_minute_group(group, binding, mode))
    return out
