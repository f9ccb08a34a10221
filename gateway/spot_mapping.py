"""Spot readings -> Observations: one mapper per measurement type, in one table (pure).

Blood pressure (a panel, plus the pulse rate as heart rate), body temperature, weight
(with BMI and height), glucose and PLX spot-checks; Intermediate Cuff Pressure is the
cuff inflating, progress and not a reading, so it has no mapper.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TypeVar, cast

from gateway.codes import (
    GATEWAY_CODE_SYSTEM,
    EffectiveTimeSource,
    GlucoseSampleLocation,
    GlucoseType,
    GlucoseUnit,
    PressureUnit,
    TemperatureType,
    TemperatureUnit,
    VitalCode,
    WeightUnit,
)
from gateway.frames import DeviceBinding, Frame, ObservationRecord
from gateway.ieee11073 import Numeric
from gateway.measurements import (
    BloodPressureMeasurement,
    Decoded,
    GlucoseMeasurement,
    Measurement,
    PlxSpotCheckMeasurement,
    TemperatureMeasurement,
    WeightMeasurement,
)
from gateway.observation_json import (
    SPO2_EXTRA,
    Effective,
    Json,
    Kind,
    coding,
    effective_of,
    flag_codings,
    frame_digest,
    observation,
    observation_identifier,
    value_fields,
    vital_code,
)

KPA_TO_MMHG = 7.500615758456563  # 1 kPa = 7.50062 mmHg


def _bp_component(vital: VitalCode, value: Numeric, unit: PressureUnit) -> Json:
    scale = KPA_TO_MMHG if unit is PressureUnit.KPA else 1.0
    return {"code": vital_code(vital), **value_fields(value, "mmHg", "mm[Hg]", scale)}


def _map_blood_pressure(
    frame: Frame, m: BloodPressureMeasurement, binding: DeviceBinding
) -> list[ObservationRecord]:
    effective = effective_of(m.timestamp, frame.received_at)
    digest = frame_digest(frame)
    body: Json = {
        "component": [
            _bp_component(VitalCode.SYSTOLIC, m.systolic, m.unit),
            _bp_component(VitalCode.DIASTOLIC, m.diastolic, m.unit),
            _bp_component(VitalCode.MEAN_ARTERIAL_PRESSURE, m.mean_arterial_pressure, m.unit),
        ]
    }
    status = flag_codings(m.status)
    if m.user_id is not None:
        status.append(coding(GATEWAY_CODE_SYSTEM, f"user-{m.user_id}", f"device user {m.user_id}"))
    out = [
        observation(
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
            observation(
                binding,
                Kind.HEART_RATE,
                observation_identifier(
                    binding.device_id, Kind.HEART_RATE, effective.moment, digest
                ),
                VitalCode.HEART_RATE,
                effective,
                value_fields(m.pulse_rate_bpm, "beats/minute", "/min"),
                status,
            )
        )
    return out


def _map_temperature(
    frame: Frame, m: TemperatureMeasurement, binding: DeviceBinding
) -> list[ObservationRecord]:
    effective = effective_of(m.timestamp, frame.received_at)
    unit, ucum = ("C", "Cel") if m.unit is TemperatureUnit.CELSIUS else ("F", "[degF]")
    body = value_fields(m.temperature, unit, ucum)
    if m.temperature_type is not None:
        try:
            name = TemperatureType(m.temperature_type).name.lower().replace("_", "-")
        except ValueError:
            name = f"reserved-{m.temperature_type}"
        body["bodySite"] = {
            "coding": [coding(GATEWAY_CODE_SYSTEM, f"temperature-type-{name}", name)],
            "text": name,
        }
    return [
        observation(
            binding,
            Kind.BODY_TEMPERATURE,
            observation_identifier(
                binding.device_id, Kind.BODY_TEMPERATURE, effective.moment, frame_digest(frame)
            ),
            VitalCode.BODY_TEMPERATURE,
            effective,
            body,
        )
    ]


def _map_weight(
    frame: Frame, m: WeightMeasurement, binding: DeviceBinding
) -> list[ObservationRecord]:
    effective = effective_of(m.timestamp, frame.received_at)
    digest = frame_digest(frame)
    si = m.unit is WeightUnit.SI
    status: list[Json] = []
    if m.user_id is not None:
        status.append(coding(GATEWAY_CODE_SYSTEM, f"user-{m.user_id}", f"device user {m.user_id}"))
    weight_body = (
        value_fields(m.weight, "kg", "kg") if si else value_fields(m.weight, "lb", "[lb_av]")
    )
    out = [
        observation(
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
            observation(
                binding,
                Kind.BMI,
                observation_identifier(binding.device_id, Kind.BMI, effective.moment, digest),
                VitalCode.BMI,
                effective,
                value_fields(m.bmi, "kg/m2", "kg/m2"),
                status,
            )
        )
    if m.height is not None:
        height_body = (
            value_fields(m.height, "cm", "cm", 100.0)
            if si
            else value_fields(m.height, "in", "[in_i]")
        )
        out.append(
            observation(
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
        Effective(base, EffectiveTimeSource.DEVICE)
        if base is not None
        else Effective(frame.received_at, EffectiveTimeSource.RECEIPT)
    )
    if m.unit is GlucoseUnit.MOL_PER_L:
        vital, body = (
            VitalCode.GLUCOSE_MOLAR,
            value_fields(m.concentration, "mmol/L", "mmol/L", 1000.0),
        )
    else:
        vital, body = VitalCode.GLUCOSE, value_fields(m.concentration, "mg/dL", "mg/dL", 100000.0)
    status = flag_codings(m.sensor_status)
    status.append(coding(GATEWAY_CODE_SYSTEM, f"sequence-{m.sequence_number}", "record number"))
    if m.glucose_type is not None:
        try:
            name = GlucoseType(m.glucose_type).name.lower().replace("_", "-")
        except ValueError:
            name = f"reserved-{m.glucose_type}"
        status.append(coding(GATEWAY_CODE_SYSTEM, f"glucose-type-{name}", name))
    if m.sample_location is not None:
        try:
            loc = GlucoseSampleLocation(m.sample_location).name.lower().replace("_", "-")
        except ValueError:
            loc = f"reserved-{m.sample_location}"
        status.append(coding(GATEWAY_CODE_SYSTEM, f"sample-location-{loc}", loc))
    return [
        observation(
            binding,
            Kind.GLUCOSE,
            observation_identifier(
                binding.device_id, Kind.GLUCOSE, effective.moment, frame_digest(frame)
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
    effective = effective_of(stamp, frame.received_at)
    digest = frame_digest(frame)
    status = flag_codings(m.measurement_status, m.device_sensor_status)
    return [
        observation(
            binding,
            Kind.SPO2,
            observation_identifier(binding.device_id, Kind.SPO2, effective.moment, digest),
            VitalCode.OXYGEN_SATURATION,
            effective,
            value_fields(m.spo2_pct, "%", "%"),
            status,
            SPO2_EXTRA,
        ),
        observation(
            binding,
            Kind.HEART_RATE,
            observation_identifier(binding.device_id, Kind.HEART_RATE, effective.moment, digest),
            VitalCode.HEART_RATE,
            effective,
            value_fields(m.pulse_rate_bpm, "beats/minute", "/min"),
            status,
        ),
    ]


SpotMapper = Callable[[Frame, Decoded, DeviceBinding], list[ObservationRecord]]
_M = TypeVar("_M", bound=Measurement)


def _entry(
    kind: type[_M], mapper: Callable[[Frame, _M, DeviceBinding], list[ObservationRecord]]
) -> tuple[type[Decoded], SpotMapper]:
    # Safe: the table is looked up by the measurement's exact type.
    return cast(type[Decoded], kind), cast(SpotMapper, mapper)


SPOT_MAPPERS: Mapping[type[Decoded], SpotMapper] = dict(
    [
        _entry(BloodPressureMeasurement, _map_blood_pressure),
        _entry(TemperatureMeasurement, _map_temperature),
        _entry(WeightMeasurement, _map_weight),
        _entry(GlucoseMeasurement, _map_glucose),
        _entry(PlxSpotCheckMeasurement, _map_spot_check),
    ]
)


def map_spot_frame(
    frame: Frame, measurement: Decoded, binding: DeviceBinding
) -> list[ObservationRecord]:
    """Observations for one stored (spot) measurement; [] for features and cuff pressure."""
    mapper = SPOT_MAPPERS.get(type(measurement))
    return mapper(frame, measurement, binding) if mapper is not None else []
