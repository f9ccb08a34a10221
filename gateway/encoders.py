"""Measurements -> GATT bytes, the inverse of `gateway.decoders` (used by the simulator).

Layouts as in the GATT Specification Supplement; optional fields are written exactly when
the measurement carries them, and the flags byte says so.
"""

from __future__ import annotations

import struct

from gateway.codes import (
    BloodPressureFlags,
    GlucoseFlags,
    GlucoseUnit,
    HeartRateFlags,
    PlxContinuousFlags,
    PlxSpotCheckFlags,
    PlxSupportedFeatures,
    PressureUnit,
    TemperatureFlags,
    TemperatureUnit,
    WeightFlags,
    WeightUnit,
)
from gateway.ieee11073 import Numeric, encode_float, encode_sfloat
from gateway.measurements import (
    BloodPressureMeasurement,
    GattDateTime,
    GlucoseMeasurement,
    HeartRateMeasurement,
    IntermediateCuffPressure,
    PlxContinuousMeasurement,
    PlxFeatures,
    PlxSpotCheckMeasurement,
    TemperatureMeasurement,
    WeightMeasurement,
    WeightScaleFeature,
)


def _date_time(value: GattDateTime) -> bytes:
    return struct.pack(
        "<HBBBBB",
        value.year or 0,
        value.month or 0,
        value.day or 0,
        value.hour,
        value.minute,
        value.second,
    )


def _sfloat(value: Numeric, exponent: int) -> bytes:
    return struct.pack("<H", encode_sfloat(value, exponent))


def encode_heart_rate(m: HeartRateMeasurement) -> bytes:
    """Heart Rate Measurement 0x2A37 (GSS 3.113)."""
    flags = 0
    body = b""
    if m.bpm > 0xFF:
        flags |= HeartRateFlags.VALUE_UINT16
        body += struct.pack("<H", m.bpm)
    else:
        body += bytes([m.bpm])
    if m.sensor_contact is not None:
        flags |= HeartRateFlags.SENSOR_CONTACT_SUPPORTED
        if m.sensor_contact:
            flags |= HeartRateFlags.SENSOR_CONTACT_DETECTED
    if m.energy_expended_kj is not None:
        flags |= HeartRateFlags.ENERGY_EXPENDED_PRESENT
        body += struct.pack("<H", m.energy_expended_kj)
    if m.rr_intervals_s:
        flags |= HeartRateFlags.RR_INTERVALS_PRESENT
        for rr in m.rr_intervals_s:
            body += struct.pack("<H", min(0xFFFF, round(rr * 1024)))
    return bytes([flags]) + body


def _pressure(
    values: tuple[Numeric, Numeric, Numeric],
    unit: PressureUnit,
    timestamp: GattDateTime | None,
    pulse: Numeric | None,
    user_id: int | None,
    status: int | None,
) -> bytes:
    flags = BloodPressureFlags.UNITS_KPA if unit is PressureUnit.KPA else 0
    exponent = -1 if unit is PressureUnit.KPA else 0
    body = b"".join(_sfloat(v, exponent) for v in values)
    if timestamp is not None:
        flags |= BloodPressureFlags.TIME_STAMP_PRESENT
        body += _date_time(timestamp)
    if pulse is not None:
        flags |= BloodPressureFlags.PULSE_RATE_PRESENT
        body += _sfloat(pulse, 0)
    if user_id is not None:
        flags |= BloodPressureFlags.USER_ID_PRESENT
        body += bytes([user_id])
    if status is not None:
        flags |= BloodPressureFlags.MEASUREMENT_STATUS_PRESENT
        body += struct.pack("<H", status)
    return bytes([flags]) + body


def encode_blood_pressure(m: BloodPressureMeasurement) -> bytes:
    """Blood Pressure Measurement 0x2A35 (GSS 3.31); mmHg as integers, kPa to 0.1."""
    status = None if m.status is None else int(m.status)
    return _pressure(
        (m.systolic, m.diastolic, m.mean_arterial_pressure),
        m.unit,
        m.timestamp,
        m.pulse_rate_bpm,
        m.user_id,
        status,
    )


def encode_intermediate_cuff_pressure(m: IntermediateCuffPressure) -> bytes:
    """Intermediate Cuff Pressure 0x2A36 (GSS 3.129)."""
    status = None if m.status is None else int(m.status)
    return _pressure(
        (m.cuff_pressure, m.unused_diastolic, m.unused_mean_arterial_pressure),
        m.unit,
        m.timestamp,
        m.pulse_rate_bpm,
        m.user_id,
        status,
    )


def encode_temperature(m: TemperatureMeasurement) -> bytes:
    """Temperature Measurement 0x2A1C (GSS 3.216), FLOAT to 0.01 degree."""
    flags = TemperatureFlags.UNITS_FAHRENHEIT if m.unit is TemperatureUnit.FAHRENHEIT else 0
    body = struct.pack("<I", encode_float(m.temperature, -2))
    if m.timestamp is not None:
        flags |= TemperatureFlags.TIME_STAMP_PRESENT
        body += _date_time(m.timestamp)
    if m.temperature_type is not None:
        flags |= TemperatureFlags.TEMPERATURE_TYPE_PRESENT
        body += bytes([m.temperature_type])
    return bytes([flags]) + body


def encode_weight(m: WeightMeasurement) -> bytes:
    """Weight Measurement 0x2A9D (GSS 3.252)."""
    imperial = m.unit is WeightUnit.IMPERIAL
    flags = WeightFlags.UNITS_IMPERIAL if imperial else 0
    if m.weight is None:
        raw = 0xFFFF
    else:
        raw = round(m.weight * 100) if imperial else round(m.weight * 200)
    body = struct.pack("<H", raw)
    if m.timestamp is not None:
        flags |= WeightFlags.TIME_STAMP_PRESENT
        body += _date_time(m.timestamp)
    if m.user_id is not None:
        flags |= WeightFlags.USER_ID_PRESENT
        body += bytes([m.user_id])
    if m.bmi is not None and m.height is not None:
        flags |= WeightFlags.BMI_AND_HEIGHT_PRESENT
        height = round(m.height * 10) if imperial else round(m.height * 1000)
        body += struct.pack("<HH", round(m.bmi * 10), height)
    return bytes([flags]) + body


def encode_weight_scale_feature(m: WeightScaleFeature) -> bytes:
    """Weight Scale Feature 0x2A9E (GSS 3.253)."""
    raw = int(m.features) | (m.weight_resolution_index << 3) | (m.height_resolution_index << 7)
    return struct.pack("<I", raw)


def encode_glucose(m: GlucoseMeasurement) -> bytes:
    """Glucose Measurement 0x2A18 (GSS 3.106); kg/L at exponent -5 (mg/dL integers)."""
    flags = 0
    body = struct.pack("<H", m.sequence_number) + _date_time(m.base_time)
    if m.time_offset_minutes is not None:
        flags |= GlucoseFlags.TIME_OFFSET_PRESENT
        body += struct.pack("<h", m.time_offset_minutes)
    if m.concentration is not None:
        flags |= GlucoseFlags.CONCENTRATION_TYPE_LOCATION_PRESENT
        exponent = -5
        if m.unit is GlucoseUnit.MOL_PER_L:
            flags |= GlucoseFlags.UNITS_MOL_PER_L
            exponent = -4
        body += _sfloat(m.concentration, exponent)
        body += bytes([((m.sample_location or 0) << 4) | ((m.glucose_type or 0) & 0x0F)])
    if m.sensor_status is not None:
        flags |= GlucoseFlags.SENSOR_STATUS_PRESENT
        body += struct.pack("<H", int(m.sensor_status))
    if m.context_information_follows:
        flags |= GlucoseFlags.CONTEXT_INFORMATION_FOLLOWS
    return bytes([flags]) + body


def _u24(value: int) -> bytes:
    return struct.pack("<I", value)[:3]


def encode_plx_spot_check(m: PlxSpotCheckMeasurement) -> bytes:
    """PLX Spot-check Measurement 0x2A5E (GSS 3.174)."""
    flags = PlxSpotCheckFlags.DEVICE_CLOCK_NOT_SET if m.device_clock_not_set else 0
    body = _sfloat(m.spo2_pct, 0) + _sfloat(m.pulse_rate_bpm, 0)
    if m.timestamp is not None:
        flags |= PlxSpotCheckFlags.TIME_STAMP_PRESENT
        body += _date_time(m.timestamp)
    if m.measurement_status is not None:
        flags |= PlxSpotCheckFlags.MEASUREMENT_STATUS_PRESENT
        body += struct.pack("<H", int(m.measurement_status))
    if m.device_sensor_status is not None:
        flags |= PlxSpotCheckFlags.DEVICE_SENSOR_STATUS_PRESENT
        body += _u24(int(m.device_sensor_status))
    if m.pulse_amplitude_index_pct is not None:
        flags |= PlxSpotCheckFlags.PULSE_AMPLITUDE_INDEX_PRESENT
        body += _sfloat(m.pulse_amplitude_index_pct, -1)
    return bytes([flags]) + body


def encode_plx_continuous(m: PlxContinuousMeasurement) -> bytes:
    """PLX Continuous Measurement 0x2A5F (GSS 3.173)."""
    flags = 0
    body = _sfloat(m.spo2_pct, 0) + _sfloat(m.pulse_rate_bpm, 0)
    if m.spo2_fast_pct is not None and m.pulse_rate_fast_bpm is not None:
        flags |= PlxContinuousFlags.SPO2PR_FAST_PRESENT
        body += _sfloat(m.spo2_fast_pct, 0) + _sfloat(m.pulse_rate_fast_bpm, 0)
    if m.spo2_slow_pct is not None and m.pulse_rate_slow_bpm is not None:
        flags |= PlxContinuousFlags.SPO2PR_SLOW_PRESENT
        body += _sfloat(m.spo2_slow_pct, 0) + _sfloat(m.pulse_rate_slow_bpm, 0)
    if m.measurement_status is not None:
        flags |= PlxContinuousFlags.MEASUREMENT_STATUS_PRESENT
        body += struct.pack("<H", int(m.measurement_status))
    if m.device_sensor_status is not None:
        flags |= PlxContinuousFlags.DEVICE_SENSOR_STATUS_PRESENT
        body += _u24(int(m.device_sensor_status))
    if m.pulse_amplitude_index_pct is not None:
        flags |= PlxContinuousFlags.PULSE_AMPLITUDE_INDEX_PRESENT
        body += _sfloat(m.pulse_amplitude_index_pct, -1)
    return bytes([flags]) + body


def encode_plx_features(m: PlxFeatures) -> bytes:
    """PLX Features 0x2A60 (GSS 3.172)."""
    body = struct.pack("<H", int(m.supported))
    if m.supported & PlxSupportedFeatures.MEASUREMENT_STATUS_SUPPORTED:
        body += struct.pack("<H", int(m.measurement_status_support or 0))
    if m.supported & PlxSupportedFeatures.DEVICE_SENSOR_STATUS_SUPPORTED:
        body += _u24(int(m.device_sensor_status_support or 0))
    return body
