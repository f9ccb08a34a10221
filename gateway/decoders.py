"""Pure GATT decoders: bytes as received in a notification or indication -> measurement.

Each decoder follows its characteristic's layout in the GATT Specification Supplement
(GSS v8, section cited per function). Fields are little-endian (Core Spec Vol 3 Part G
3.3.3.1). Trailing bytes beyond the last flagged field are ignored, as the GSS asks of
clients (fields may be appended in later versions); a frame shorter than its flags
announce, or a Date Time outside its ranges, raises `DecodeError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from gateway.codes import (
    BloodPressureFlags,
    BloodPressureStatus,
    CharacteristicUuid,
    GlucoseFlags,
    GlucoseSensorStatus,
    GlucoseUnit,
    HeartRateFlags,
    PlxContinuousFlags,
    PlxDeviceSensorStatus,
    PlxMeasurementStatus,
    PlxSpotCheckFlags,
    PlxSupportedFeatures,
    PressureUnit,
    TemperatureFlags,
    TemperatureUnit,
    WeightFlags,
    WeightScaleFeatures,
    WeightUnit,
)
from gateway.ieee11073 import Numeric, decode_float, decode_sfloat
from gateway.measurements import (
    BloodPressureMeasurement,
    Decoded,
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


class DecodeError(ValueError):
    """A GATT frame that does not match its characteristic's layout."""

    def __init__(self, uuid: CharacteristicUuid | None, reason: str, data: bytes) -> None:
        self.uuid = uuid
        self.reason = reason
        self.data = bytes(data)
        name = f"0x{uuid:04X}" if uuid is not None else "frame"
        super().__init__(f"{name}: {reason} ({self.data.hex()})")


_U16 = struct.Struct("<H")
_S16 = struct.Struct("<h")
_U32 = struct.Struct("<I")
_DATE_TIME = struct.Struct("<HBBBBB")  # Date Time 0x2A08, 7 bytes
_BP_VALUES = struct.Struct("<HHH")
_DATE_TIME_SIZE = 7

_HR = CharacteristicUuid.HEART_RATE_MEASUREMENT
_BPM = CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT
_ICP = CharacteristicUuid.INTERMEDIATE_CUFF_PRESSURE
_TEMP = CharacteristicUuid.TEMPERATURE_MEASUREMENT
_WEIGHT = CharacteristicUuid.WEIGHT_MEASUREMENT
_WSF = CharacteristicUuid.WEIGHT_SCALE_FEATURE
_GLUCOSE = CharacteristicUuid.GLUCOSE_MEASUREMENT
_SPOT = CharacteristicUuid.PLX_SPOT_CHECK_MEASUREMENT
_CONT = CharacteristicUuid.PLX_CONTINUOUS_MEASUREMENT
_PLXF = CharacteristicUuid.PLX_FEATURES


def _need(data: bytes, size: int, uuid: CharacteristicUuid, what: str) -> None:
    if len(data) < size:
        raise DecodeError(uuid, f"{what}: need {size} bytes, got {len(data)}", data)


def _date_time(data: bytes, offset: int, uuid: CharacteristicUuid) -> GattDateTime:
    """Date Time 0x2A08 (GSS 3.70): year 1582-9999 or 0, month 0-12, day 0-31, h/m/s."""
    year, month, day, hour, minute, second = _DATE_TIME.unpack_from(data, offset)
    if (
        (year != 0 and not 1582 <= year <= 9999)
        or month > 12
        or day > 31
        or hour > 23
        or minute > 59
        or second > 59
    ):
        raise DecodeError(uuid, "date time out of range", data)
    return GattDateTime(year or None, month or None, day or None, hour, minute, second)


def decode_heart_rate(data: bytes) -> HeartRateMeasurement:
    """Heart Rate Measurement 0x2A37 (GSS 3.113)."""
    if not data:
        raise DecodeError(_HR, "empty frame", data)
    flags = data[0]
    if flags & HeartRateFlags.VALUE_UINT16:
        _need(data, 3, _HR, "uint16 heart rate")
        bpm = data[1] | (data[2] << 8)
        offset = 3
    else:
        _need(data, 2, _HR, "uint8 heart rate")
        bpm = data[1]
        offset = 2
    contact: bool | None = None
    if flags & HeartRateFlags.SENSOR_CONTACT_SUPPORTED:
        contact = bool(flags & HeartRateFlags.SENSOR_CONTACT_DETECTED)
    energy: int | None = None
    if flags & HeartRateFlags.ENERGY_EXPENDED_PRESENT:
        _need(data, offset + 2, _HR, "energy expended")
        energy = data[offset] | (data[offset + 1] << 8)
        offset += 2
    rr: tuple[float, ...] = ()
    if flags & HeartRateFlags.RR_INTERVALS_PRESENT:
        rest = len(data) - offset
        if rest == 0 or rest % 2:
            raise DecodeError(_HR, "RR-interval field is not whole uint16 values", data)
        # RR-Interval: uint16 in 1/1024 s; exact in binary floating point.
        rr = tuple((data[i] | (data[i + 1] << 8)) / 1024 for i in range(offset, len(data), 2))
    return HeartRateMeasurement(bpm, contact, energy, rr)


def _pressure_fields(
    data: bytes, uuid: CharacteristicUuid
) -> tuple[
    int,
    Numeric,
    Numeric,
    Numeric,
    GattDateTime | None,
    Numeric | None,
    int | None,
    BloodPressureStatus | None,
]:
    """Shared layout of 0x2A35 and 0x2A36 (GSS 3.31 and 3.129)."""
    _need(data, 7, uuid, "flags and three SFLOAT pressures")
    flags = data[0]
    raw_sys, raw_dia, raw_map = _BP_VALUES.unpack_from(data, 1)
    size = (
        7
        + (_DATE_TIME_SIZE if flags & BloodPressureFlags.TIME_STAMP_PRESENT else 0)
        + (2 if flags & BloodPressureFlags.PULSE_RATE_PRESENT else 0)
        + (1 if flags & BloodPressureFlags.USER_ID_PRESENT else 0)
        + (2 if flags & BloodPressureFlags.MEASUREMENT_STATUS_PRESENT else 0)
    )
    _need(data, size, uuid, f"fields flagged by 0x{flags:02X}")
    offset = 7
    timestamp: GattDateTime | None = None
    if flags & BloodPressureFlags.TIME_STAMP_PRESENT:
        timestamp = _date_time(data, offset, uuid)
        offset += _DATE_TIME_SIZE
    pulse: Numeric | None = None
    if flags & BloodPressureFlags.PULSE_RATE_PRESENT:
        pulse = decode_sfloat(_U16.unpack_from(data, offset)[0])
        offset += 2
    user: int | None = None
    if flags & BloodPressureFlags.USER_ID_PRESENT:
        user = data[offset]
        offset += 1
    status: BloodPressureStatus | None = None
    if flags & BloodPressureFlags.MEASUREMENT_STATUS_PRESENT:
        status = BloodPressureStatus(_U16.unpack_from(data, offset)[0])
    return (
        flags,
        decode_sfloat(raw_sys),
        decode_sfloat(raw_dia),
        decode_sfloat(raw_map),
        timestamp,
        pulse,
        user,
        status,
    )


def _pressure_unit(flags: int) -> PressureUnit:
    return PressureUnit.KPA if flags & BloodPressureFlags.UNITS_KPA else PressureUnit.MMHG


def decode_blood_pressure(data: bytes) -> BloodPressureMeasurement:
    """Blood Pressure Measurement 0x2A35 (GSS 3.31); user id 255 is 'unknown user'."""
    flags, sys_, dia, mean, ts, pulse, user, status = _pressure_fields(data, _BPM)
    return BloodPressureMeasurement(sys_, dia, mean, _pressure_unit(flags), ts, pulse, user, status)


def decode_intermediate_cuff_pressure(data: bytes) -> IntermediateCuffPressure:
    """Intermediate Cuff Pressure 0x2A36 (GSS 3.129): current cuff pressure in 'systolic'."""
    flags, cuff, dia, mean, ts, pulse, user, status = _pressure_fields(data, _ICP)
    return IntermediateCuffPressure(cuff, _pressure_unit(flags), dia, mean, ts, pulse, user, status)


def decode_temperature(data: bytes) -> TemperatureMeasurement:
    """Temperature Measurement 0x2A1C (GSS 3.216): FLOAT temperature."""
    _need(data, 5, _TEMP, "flags and FLOAT temperature")
    flags = data[0]
    size = (
        5
        + (_DATE_TIME_SIZE if flags & TemperatureFlags.TIME_STAMP_PRESENT else 0)
        + (1 if flags & TemperatureFlags.TEMPERATURE_TYPE_PRESENT else 0)
    )
    _need(data, size, _TEMP, f"fields flagged by 0x{flags:02X}")
    value = decode_float(_U32.unpack_from(data, 1)[0])
    offset = 5
    timestamp: GattDateTime | None = None
    if flags & TemperatureFlags.TIME_STAMP_PRESENT:
        timestamp = _date_time(data, offset, _TEMP)
        offset += _DATE_TIME_SIZE
    kind: int | None = data[offset] if flags & TemperatureFlags.TEMPERATURE_TYPE_PRESENT else None
    unit = (
        TemperatureUnit.FAHRENHEIT
        if flags & TemperatureFlags.UNITS_FAHRENHEIT
        else TemperatureUnit.CELSIUS
    )
    return TemperatureMeasurement(value, unit, timestamp, kind)


def decode_weight(data: bytes) -> WeightMeasurement:
    """Weight Measurement 0x2A9D (GSS 3.252): uint16 weight, 0.005 kg or 0.01 lb steps."""
    _need(data, 3, _WEIGHT, "flags and weight")
    flags = data[0]
    size = (
        3
        + (_DATE_TIME_SIZE if flags & WeightFlags.TIME_STAMP_PRESENT else 0)
        + (1 if flags & WeightFlags.USER_ID_PRESENT else 0)
        + (4 if flags & WeightFlags.BMI_AND_HEIGHT_PRESENT else 0)
    )
    _need(data, size, _WEIGHT, f"fields flagged by 0x{flags:02X}")
    imperial = bool(flags & WeightFlags.UNITS_IMPERIAL)
    raw_weight = _U16.unpack_from(data, 1)[0]
    weight: float | None = None
    if raw_weight != 0xFFFF:  # 0xFFFF: "measurement unsuccessful"
        weight = raw_weight / 100 if imperial else raw_weight * 5 / 1000
    offset = 3
    timestamp: GattDateTime | None = None
    if flags & WeightFlags.TIME_STAMP_PRESENT:
        timestamp = _date_time(data, offset, _WEIGHT)
        offset += _DATE_TIME_SIZE
    user: int | None = None
    if flags & WeightFlags.USER_ID_PRESENT:
        user = data[offset]
        offset += 1
    bmi: float | None = None
    height: float | None = None
    if flags & WeightFlags.BMI_AND_HEIGHT_PRESENT:
        raw_bmi, raw_height = struct.unpack_from("<HH", data, offset)
        bmi = raw_bmi / 10  # 0.1 kg/m2
        height = raw_height / 10 if imperial else raw_height / 1000  # 0.1 in or 1 mm
    unit = WeightUnit.IMPERIAL if imperial else WeightUnit.SI
    return WeightMeasurement(weight, unit, timestamp, user, bmi, height)


def decode_weight_scale_feature(data: bytes) -> WeightScaleFeature:
    """Weight Scale Feature 0x2A9E (GSS 3.253): uint32 flags and resolutions."""
    _need(data, 4, _WSF, "uint32 features")
    raw = _U32.unpack_from(data, 0)[0]
    return WeightScaleFeature(
        WeightScaleFeatures(raw & 0x07), (raw >> 3) & 0x0F, (raw >> 7) & 0x07, raw
    )


def decode_glucose(data: bytes) -> GlucoseMeasurement:
    """Glucose Measurement 0x2A18 (GSS 3.106)."""
    _need(data, 10, _GLUCOSE, "flags, sequence number and base time")
    flags = data[0]
    size = (
        10
        + (2 if flags & GlucoseFlags.TIME_OFFSET_PRESENT else 0)
        + (3 if flags & GlucoseFlags.CONCENTRATION_TYPE_LOCATION_PRESENT else 0)
        + (2 if flags & GlucoseFlags.SENSOR_STATUS_PRESENT else 0)
    )
    _need(data, size, _GLUCOSE, f"fields flagged by 0x{flags:02X}")
    sequence = _U16.unpack_from(data, 1)[0]
    base_time = _date_time(data, 3, _GLUCOSE)
    offset = 10
    time_offset: int | None = None
    if flags & GlucoseFlags.TIME_OFFSET_PRESENT:
        time_offset = _S16.unpack_from(data, offset)[0]
        offset += 2
    concentration: Numeric | None = None
    unit: GlucoseUnit | None = None
    kind: int | None = None
    location: int | None = None
    if flags & GlucoseFlags.CONCENTRATION_TYPE_LOCATION_PRESENT:
        concentration = decode_sfloat(_U16.unpack_from(data, offset)[0])
        unit = (
            GlucoseUnit.MOL_PER_L if flags & GlucoseFlags.UNITS_MOL_PER_L else GlucoseUnit.KG_PER_L
        )
        kind = data[offset + 2] & 0x0F
        location = data[offset + 2] >> 4
        offset += 3
    status: GlucoseSensorStatus | None = None
    if flags & GlucoseFlags.SENSOR_STATUS_PRESENT:
        status = GlucoseSensorStatus(_U16.unpack_from(data, offset)[0])
    return GlucoseMeasurement(
        sequence,
        base_time,
        time_offset,
        concentration,
        unit,
        kind,
        location,
        status,
        bool(flags & GlucoseFlags.CONTEXT_INFORMATION_FOLLOWS),
    )


def _u24(data: bytes, offset: int) -> int:
    return data[offset] | (data[offset + 1] << 8) | (data[offset + 2] << 16)


def decode_plx_spot_check(data: bytes) -> PlxSpotCheckMeasurement:
    """PLX Spot-check Measurement 0x2A5E (GSS 3.174)."""
    _need(data, 5, _SPOT, "flags and SpO2PR-Spot-Check")
    flags = data[0]
    size = (
        5
        + (_DATE_TIME_SIZE if flags & PlxSpotCheckFlags.TIME_STAMP_PRESENT else 0)
        + (2 if flags & PlxSpotCheckFlags.MEASUREMENT_STATUS_PRESENT else 0)
        + (3 if flags & PlxSpotCheckFlags.DEVICE_SENSOR_STATUS_PRESENT else 0)
        + (2 if flags & PlxSpotCheckFlags.PULSE_AMPLITUDE_INDEX_PRESENT else 0)
    )
    _need(data, size, _SPOT, f"fields flagged by 0x{flags:02X}")
    spo2 = decode_sfloat(_U16.unpack_from(data, 1)[0])
    pulse = decode_sfloat(_U16.unpack_from(data, 3)[0])
    offset = 5
    timestamp: GattDateTime | None = None
    if flags & PlxSpotCheckFlags.TIME_STAMP_PRESENT:
        timestamp = _date_time(data, offset, _SPOT)
        offset += _DATE_TIME_SIZE
    status: PlxMeasurementStatus | None = None
    if flags & PlxSpotCheckFlags.MEASUREMENT_STATUS_PRESENT:
        status = PlxMeasurementStatus(_U16.unpack_from(data, offset)[0])
        offset += 2
    sensor: PlxDeviceSensorStatus | None = None
    if flags & PlxSpotCheckFlags.DEVICE_SENSOR_STATUS_PRESENT:
        sensor = PlxDeviceSensorStatus(_u24(data, offset))
        offset += 3
    pai: Numeric | None = None
    if flags & PlxSpotCheckFlags.PULSE_AMPLITUDE_INDEX_PRESENT:
        pai = decode_sfloat(_U16.unpack_from(data, offset)[0])
    return PlxSpotCheckMeasurement(
        spo2,
        pulse,
        timestamp,
        status,
        sensor,
        pai,
        bool(flags & PlxSpotCheckFlags.DEVICE_CLOCK_NOT_SET),
    )


def decode_plx_continuous(data: bytes) -> PlxContinuousMeasurement:
    """PLX Continuous Measurement 0x2A5F (GSS 3.173)."""
    _need(data, 5, _CONT, "flags and SpO2PR-Normal")
    flags = data[0]
    size = (
        5
        + (4 if flags & PlxContinuousFlags.SPO2PR_FAST_PRESENT else 0)
        + (4 if flags & PlxContinuousFlags.SPO2PR_SLOW_PRESENT else 0)
        + (2 if flags & PlxContinuousFlags.MEASUREMENT_STATUS_PRESENT else 0)
        + (3 if flags & PlxContinuousFlags.DEVICE_SENSOR_STATUS_PRESENT else 0)
        + (2 if flags & PlxContinuousFlags.PULSE_AMPLITUDE_INDEX_PRESENT else 0)
    )
    _need(data, size, _CONT, f"fields flagged by 0x{flags:02X}")
    spo2 = decode_sfloat(_U16.unpack_from(data, 1)[0])
    pulse = decode_sfloat(_U16.unpack_from(data, 3)[0])
    offset = 5
    fast: tuple[Numeric | None, Numeric | None] = (None, None)
    if flags & PlxContinuousFlags.SPO2PR_FAST_PRESENT:
        a, b = struct.unpack_from("<HH", data, offset)
        fast = (decode_sfloat(a), decode_sfloat(b))
        offset += 4
    slow: tuple[Numeric | None, Numeric | None] = (None, None)
    if flags & PlxContinuousFlags.SPO2PR_SLOW_PRESENT:
        a, b = struct.unpack_from("<HH", data, offset)
        slow = (decode_sfloat(a), decode_sfloat(b))
        offset += 4
    status: PlxMeasurementStatus | None = None
    if flags & PlxContinuousFlags.MEASUREMENT_STATUS_PRESENT:
        status = PlxMeasurementStatus(_U16.unpack_from(data, offset)[0])
        offset += 2
    sensor: PlxDeviceSensorStatus | None = None
    if flags & PlxContinuousFlags.DEVICE_SENSOR_STATUS_PRESENT:
        sensor = PlxDeviceSensorStatus(_u24(data, offset))
        offset += 3
    pai: Numeric | None = None
    if flags & PlxContinuousFlags.PULSE_AMPLITUDE_INDEX_PRESENT:
        pai = decode_sfloat(_U16.unpack_from(data, offset)[0])
    return PlxContinuousMeasurement(
        spo2, pulse, fast[0], fast[1], slow[0], slow[1], status, sensor, pai
    )


def decode_plx_features(data: bytes) -> PlxFeatures:
    """PLX Features 0x2A60 (GSS 3.172): supported features, then optional support masks."""
    _need(data, 2, _PLXF, "supported features")
    supported = PlxSupportedFeatures(_U16.unpack_from(data, 0)[0])
    size = (
        2
        + (2 if supported & PlxSupportedFeatures.MEASUREMENT_STATUS_SUPPORTED else 0)
        + (3 if supported & PlxSupportedFeatures.DEVICE_SENSOR_STATUS_SUPPORTED else 0)
    )
    _need(data, size, _PLXF, f"fields flagged by 0x{int(supported):04X}")
    offset = 2
    status: PlxMeasurementStatus | None = None
    if supported & PlxSupportedFeatures.MEASUREMENT_STATUS_SUPPORTED:
        status = PlxMeasurementStatus(_U16.unpack_from(data, offset)[0])
        offset += 2
    sensor: PlxDeviceSensorStatus | None = None
    if supported & PlxSupportedFeatures.DEVICE_SENSOR_STATUS_SUPPORTED:
        sensor = PlxDeviceSensorStatus(_u24(data, offset))
    return PlxFeatures(supported, status, sensor)


DECODERS: dict[CharacteristicUuid, Callable[[bytes], Decoded]] = {
    _HR: decode_heart_rate,
    _BPM: decode_blood_pressure,
    _ICP: decode_intermediate_cuff_pressure,
    _TEMP: decode_temperature,
    _WEIGHT: decode_weight,
    _WSF: decode_weight_scale_feature,
    _GLUCOSE: decode_glucose,
    _SPOT: decode_plx_spot_check,
    _CONT: decode_plx_continuous,
    _PLXF: decode_plx_features,
}


def decode(uuid: CharacteristicUuid, data: bytes) -> Decoded:
    """Decode a frame of any supported characteristic; `DecodeError` if it is malformed."""
    decoder = DECODERS.get(uuid)
    if decoder is None:
        raise DecodeError(uuid, "no decoder for this characteristic", data)
    return decoder(bytes(data))
