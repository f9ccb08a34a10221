"""Decoders of the heart-rate, blood-pressure, thermometer, weight-scale and glucose frames.

Each follows its characteristic's layout in the GATT Specification Supplement (GSS v8,
section cited per function); fields are little-endian (Core Spec Vol 3 Part G 3.3.3.1).
"""

from __future__ import annotations

import struct

from gateway.codes import (
    BloodPressureStatus,
    CharacteristicUuid,
    GlucoseSensorStatus,
    GlucoseUnit,
    PressureUnit,
    TemperatureUnit,
    WeightScaleFeatures,
    WeightUnit,
)
from gateway.decoders import layouts as lay
from gateway.decoders.framing import (
    DATE_TIME_SIZE,
    NEGATIVE_SFLOAT,
    S16,
    U16,
    U16X2,
    U32,
    DecodeError,
    date_time,
    exact,
    flagged_frame,
    flags_of,
    need,
    negative,
    not_oversized,
    sfloat_non_negative,
)
from gateway.ieee11073 import SFLOAT_VALUES, Numeric, decode_float
from gateway.measurements import (
    BloodPressureMeasurement,
    GattDateTime,
    GlucoseMeasurement,
    HeartRateMeasurement,
    IntermediateCuffPressure,
    TemperatureMeasurement,
    WeightMeasurement,
    WeightScaleFeature,
)

_HR = CharacteristicUuid.HEART_RATE_MEASUREMENT
_BPM = CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT
_ICP = CharacteristicUuid.INTERMEDIATE_CUFF_PRESSURE
_TEMP = CharacteristicUuid.TEMPERATURE_MEASUREMENT
_WEIGHT = CharacteristicUuid.WEIGHT_MEASUREMENT
_WSF = CharacteristicUuid.WEIGHT_SCALE_FEATURE
_GLUCOSE = CharacteristicUuid.GLUCOSE_MEASUREMENT
_BP_VALUES = struct.Struct("<HHH")
_PRESSURE_UNITS = {PressureUnit.MMHG: "mmHg", PressureUnit.KPA: "kPa"}
_GLUCOSE_UNITS = {GlucoseUnit.KG_PER_L: "kg/L", GlucoseUnit.MOL_PER_L: "mol/L"}


def decode_heart_rate(data: bytes) -> HeartRateMeasurement:
    """Heart Rate Measurement 0x2A37 (GSS 3.113)."""
    if not data:
        raise DecodeError(_HR, "empty frame", data)
    not_oversized(_HR, data)
    flags = data[0]
    if flags & lay.HR_VALUE_UINT16:
        need(data, 3, _HR, "uint16 heart rate")
        bpm = data[1] | (data[2] << 8)
        offset = 3
    else:
        need(data, 2, _HR, "uint8 heart rate")
        bpm = data[1]
        offset = 2
    contact: bool | None = None
    if flags & lay.HR_SENSOR_CONTACT_SUPPORTED:
        contact = bool(flags & lay.HR_SENSOR_CONTACT_DETECTED)
    energy: int | None = None
    if flags & lay.HR_ENERGY_EXPENDED_PRESENT:
        need(data, offset + 2, _HR, "energy expended")
        energy = data[offset] | (data[offset + 1] << 8)
        offset += 2
    rr: tuple[float, ...] = ()
    if not flags & lay.HR_RR_INTERVALS_PRESENT:
        exact(_HR, data, offset, f"fields flagged by 0x{flags:02X}")
    else:
        if len(data) == offset:
            raise DecodeError(_HR, "RR-interval flag set but no RR-interval", data)
        if (len(data) - offset) % 2:
            raise DecodeError(_HR, "RR-intervals: an odd byte after the last interval", data)
        # RR-Interval: uint16 in 1/1024 s; exact in binary floating point.
        rr = tuple((data[i] | (data[i + 1] << 8)) / 1024 for i in range(offset, len(data), 2))
    return HeartRateMeasurement(bpm, contact, energy, rr)


def _pressure_fields(
    data: bytes, uuid: CharacteristicUuid
) -> tuple[
    int,
    tuple[int, int, int],
    GattDateTime | None,
    Numeric | None,
    int | None,
    BloodPressureStatus | None,
]:
    """Shared layout of 0x2A35 and 0x2A36 (GSS 3.31 and 3.129); the three raw SFLOATs."""
    flags = flagged_frame(uuid, data, lay.BLOOD_PRESSURE_SIZES)
    raw_a, raw_b, raw_c = _BP_VALUES.unpack_from(data, 1)
    offset = 1 + _BP_VALUES.size
    timestamp: GattDateTime | None = None
    if flags & lay.BP_TIME_STAMP_PRESENT:
        timestamp = date_time(data, offset, uuid)
        offset += DATE_TIME_SIZE
    pulse: Numeric | None = None
    if flags & lay.BP_PULSE_RATE_PRESENT:
        raw_pulse = U16.unpack_from(data, offset)[0]
        pulse = sfloat_non_negative(raw_pulse, uuid, data, "pulse rate", "/min")
        offset += 2
    user: int | None = None
    if flags & lay.BP_USER_ID_PRESENT:
        user = data[offset]
        offset += 1
    status: BloodPressureStatus | None = None
    if flags & lay.BP_MEASUREMENT_STATUS_PRESENT:
        status = flags_of(BloodPressureStatus, U16.unpack_from(data, offset)[0])
    return flags, (raw_a, raw_b, raw_c), timestamp, pulse, user, status


def _pressure_unit(flags: int) -> PressureUnit:
    return PressureUnit.KPA if flags & lay.BP_UNITS_KPA else PressureUnit.MMHG


def decode_blood_pressure(data: bytes) -> BloodPressureMeasurement:
    """Blood Pressure Measurement 0x2A35 (GSS 3.31); user id 255 is 'unknown user'."""
    flags, (raw_sys, raw_dia, raw_map), ts, pulse, user, status = _pressure_fields(data, _BPM)
    unit = _pressure_unit(flags)
    if NEGATIVE_SFLOAT[raw_sys] or NEGATIVE_SFLOAT[raw_dia] or NEGATIVE_SFLOAT[raw_map]:
        what, raw = next(
            (what, raw)
            for what, raw in (
                ("systolic", raw_sys),
                ("diastolic", raw_dia),
                ("mean arterial pressure", raw_map),
            )
            if NEGATIVE_SFLOAT[raw]
        )
        raise negative(_BPM, data, what, raw, _PRESSURE_UNITS[unit])
    return BloodPressureMeasurement(
        SFLOAT_VALUES[raw_sys],
        SFLOAT_VALUES[raw_dia],
        SFLOAT_VALUES[raw_map],
        unit,
        ts,
        pulse,
        user,
        status,
    )


def decode_intermediate_cuff_pressure(data: bytes) -> IntermediateCuffPressure:
    """Intermediate Cuff Pressure 0x2A36 (GSS 3.129): current cuff pressure in 'systolic'."""
    flags, (raw_cuff, raw_dia, raw_map), ts, pulse, user, status = _pressure_fields(data, _ICP)
    unit = _pressure_unit(flags)
    return IntermediateCuffPressure(
        sfloat_non_negative(raw_cuff, _ICP, data, "cuff pressure", _PRESSURE_UNITS[unit]),
        unit,
        SFLOAT_VALUES[raw_dia],  # unused: NaN by the GSS, kept as sent
        SFLOAT_VALUES[raw_map],
        ts,
        pulse,
        user,
        status,
    )


def decode_temperature(data: bytes) -> TemperatureMeasurement:
    """Temperature Measurement 0x2A1C (GSS 3.216): FLOAT temperature."""
    flags = flagged_frame(_TEMP, data, lay.TEMPERATURE_SIZES)
    value = decode_float(U32.unpack_from(data, 1)[0])
    offset = 5
    timestamp: GattDateTime | None = None
    if flags & lay.TEMP_TIME_STAMP_PRESENT:
        timestamp = date_time(data, offset, _TEMP)
        offset += DATE_TIME_SIZE
    kind: int | None = data[offset] if flags & lay.TEMP_TEMPERATURE_TYPE_PRESENT else None
    unit = (
        TemperatureUnit.FAHRENHEIT if flags & lay.TEMP_UNITS_FAHRENHEIT else TemperatureUnit.CELSIUS
    )
    return TemperatureMeasurement(value, unit, timestamp, kind)


def decode_weight(data: bytes) -> WeightMeasurement:
    """Weight Measurement 0x2A9D (GSS 3.252): uint16 weight, 0.005 kg or 0.01 lb steps."""
    flags = flagged_frame(_WEIGHT, data, lay.WEIGHT_SIZES)
    imperial = bool(flags & lay.WEIGHT_UNITS_IMPERIAL)
    raw_weight = U16.unpack_from(data, 1)[0]
    weight: float | None = None
    if raw_weight != 0xFFFF:  # 0xFFFF: "measurement unsuccessful"
        weight = raw_weight / 100 if imperial else raw_weight * 5 / 1000
    offset = 3
    timestamp: GattDateTime | None = None
    if flags & lay.WEIGHT_TIME_STAMP_PRESENT:
        timestamp = date_time(data, offset, _WEIGHT)
        offset += DATE_TIME_SIZE
    user: int | None = None
    if flags & lay.WEIGHT_USER_ID_PRESENT:
        user = data[offset]
        offset += 1
    bmi: float | None = None
    height: float | None = None
    if flags & lay.WEIGHT_BMI_AND_HEIGHT_PRESENT:
        raw_bmi, raw_height = U16X2.unpack_from(data, offset)
        bmi = raw_bmi / 10  # 0.1 kg/m2
        height = raw_height / 10 if imperial else raw_height / 1000  # 0.1 in or 1 mm
    unit = WeightUnit.IMPERIAL if imperial else WeightUnit.SI
    return WeightMeasurement(weight, unit, timestamp, user, bmi, height)


def decode_weight_scale_feature(data: bytes) -> WeightScaleFeature:
    """Weight Scale Feature 0x2A9E (GSS 3.253): uint32 flags and resolutions."""
    exact(_WSF, data, 4, "uint32 features")
    raw = U32.unpack_from(data, 0)[0]
    return WeightScaleFeature(
        WeightScaleFeatures(raw & 0x07), (raw >> 3) & 0x0F, (raw >> 7) & 0x07, raw
    )


def decode_glucose(data: bytes) -> GlucoseMeasurement:
    """Glucose Measurement 0x2A18 (GSS 3.106)."""
    flags = flagged_frame(_GLUCOSE, data, lay.GLUCOSE_SIZES)
    sequence = U16.unpack_from(data, 1)[0]
    base_time = date_time(data, 3, _GLUCOSE)
    offset = 3 + DATE_TIME_SIZE
    time_offset: int | None = None
    if flags & lay.GLUCOSE_TIME_OFFSET_PRESENT:
        time_offset = S16.unpack_from(data, offset)[0]
        offset += 2
    concentration: Numeric | None = None
    unit: GlucoseUnit | None = None
    kind: int | None = None
    location: int | None = None
    if flags & lay.GLUCOSE_CONCENTRATION_TYPE_LOCATION_PRESENT:
        unit = (
            GlucoseUnit.MOL_PER_L if flags & lay.GLUCOSE_UNITS_MOL_PER_L else GlucoseUnit.KG_PER_L
        )
        concentration = sfloat_non_negative(
            U16.unpack_from(data, offset)[0],
            _GLUCOSE,
            data,
            "glucose concentration",
            _GLUCOSE_UNITS[unit],
        )
        kind = data[offset + 2] & 0x0F
        location = data[offset + 2] >> 4
        offset += 3
    status: GlucoseSensorStatus | None = None
    if flags & lay.GLUCOSE_SENSOR_STATUS_PRESENT:
        status = flags_of(GlucoseSensorStatus, U16.unpack_from(data, offset)[0])
    return GlucoseMeasurement(
        sequence,
        base_time,
        time_offset,
        concentration,
        unit,
        kind,
        location,
        status,
        bool(flags & lay.GLUCOSE_CONTEXT_INFORMATION_FOLLOWS),
    )
