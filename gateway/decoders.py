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
from enum import IntFlag
from typing import TypeVar

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
from gateway.ieee11073 import SFLOAT_VALUES, Numeric, decode_float, decode_sfloat
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


# Plain-int copies of the flag bits: `int & IntFlag` builds an IntFlag (about 1 µs) per test.
_BloodPressureFlags_MEASUREMENT_STATUS_PRESENT = BloodPressureFlags.MEASUREMENT_STATUS_PRESENT.value
_BloodPressureFlags_PULSE_RATE_PRESENT = BloodPressureFlags.PULSE_RATE_PRESENT.value
_BloodPressureFlags_TIME_STAMP_PRESENT = BloodPressureFlags.TIME_STAMP_PRESENT.value
_BloodPressureFlags_UNITS_KPA = BloodPressureFlags.UNITS_KPA.value
_BloodPressureFlags_USER_ID_PRESENT = BloodPressureFlags.USER_ID_PRESENT.value
_GlucoseFlags_CONCENTRATION_TYPE_LOCATION_PRESENT = (
    GlucoseFlags.CONCENTRATION_TYPE_LOCATION_PRESENT.value
)
_GlucoseFlags_CONTEXT_INFORMATION_FOLLOWS = GlucoseFlags.CONTEXT_INFORMATION_FOLLOWS.value
_GlucoseFlags_SENSOR_STATUS_PRESENT = GlucoseFlags.SENSOR_STATUS_PRESENT.value
_GlucoseFlags_TIME_OFFSET_PRESENT = GlucoseFlags.TIME_OFFSET_PRESENT.value
_GlucoseFlags_UNITS_MOL_PER_L = GlucoseFlags.UNITS_MOL_PER_L.value
_HeartRateFlags_ENERGY_EXPENDED_PRESENT = HeartRateFlags.ENERGY_EXPENDED_PRESENT.value
_HeartRateFlags_RR_INTERVALS_PRESENT = HeartRateFlags.RR_INTERVALS_PRESENT.value
_HeartRateFlags_SENSOR_CONTACT_DETECTED = HeartRateFlags.SENSOR_CONTACT_DETECTED.value
_HeartRateFlags_SENSOR_CONTACT_SUPPORTED = HeartRateFlags.SENSOR_CONTACT_SUPPORTED.value
_HeartRateFlags_VALUE_UINT16 = HeartRateFlags.VALUE_UINT16.value
_PlxContinuousFlags_DEVICE_SENSOR_STATUS_PRESENT = (
    PlxContinuousFlags.DEVICE_SENSOR_STATUS_PRESENT.value
)
_PlxContinuousFlags_MEASUREMENT_STATUS_PRESENT = PlxContinuousFlags.MEASUREMENT_STATUS_PRESENT.value
_PlxContinuousFlags_PULSE_AMPLITUDE_INDEX_PRESENT = (
    PlxContinuousFlags.PULSE_AMPLITUDE_INDEX_PRESENT.value
)
_PlxContinuousFlags_SPO2PR_FAST_PRESENT = PlxContinuousFlags.SPO2PR_FAST_PRESENT.value
_PlxContinuousFlags_SPO2PR_SLOW_PRESENT = PlxContinuousFlags.SPO2PR_SLOW_PRESENT.value
_PlxSpotCheckFlags_DEVICE_CLOCK_NOT_SET = PlxSpotCheckFlags.DEVICE_CLOCK_NOT_SET.value
_PlxSpotCheckFlags_DEVICE_SENSOR_STATUS_PRESENT = (
    PlxSpotCheckFlags.DEVICE_SENSOR_STATUS_PRESENT.value
)
_PlxSpotCheckFlags_MEASUREMENT_STATUS_PRESENT = PlxSpotCheckFlags.MEASUREMENT_STATUS_PRESENT.value
_PlxSpotCheckFlags_PULSE_AMPLITUDE_INDEX_PRESENT = (
    PlxSpotCheckFlags.PULSE_AMPLITUDE_INDEX_PRESENT.value
)
_PlxSpotCheckFlags_TIME_STAMP_PRESENT = PlxSpotCheckFlags.TIME_STAMP_PRESENT.value
_PlxSupportedFeatures_DEVICE_SENSOR_STATUS_SUPPORTED = (
    PlxSupportedFeatures.DEVICE_SENSOR_STATUS_SUPPORTED.value
)
_PlxSupportedFeatures_MEASUREMENT_STATUS_SUPPORTED = (
    PlxSupportedFeatures.MEASUREMENT_STATUS_SUPPORTED.value
)
_TemperatureFlags_TEMPERATURE_TYPE_PRESENT = TemperatureFlags.TEMPERATURE_TYPE_PRESENT.value
_TemperatureFlags_TIME_STAMP_PRESENT = TemperatureFlags.TIME_STAMP_PRESENT.value
_TemperatureFlags_UNITS_FAHRENHEIT = TemperatureFlags.UNITS_FAHRENHEIT.value
_WeightFlags_BMI_AND_HEIGHT_PRESENT = WeightFlags.BMI_AND_HEIGHT_PRESENT.value
_WeightFlags_TIME_STAMP_PRESENT = WeightFlags.TIME_STAMP_PRESENT.value
_WeightFlags_UNITS_IMPERIAL = WeightFlags.UNITS_IMPERIAL.value
_WeightFlags_USER_ID_PRESENT = WeightFlags.USER_ID_PRESENT.value

_U16 = struct.Struct("<H")
_U16X2 = struct.Struct("<HH")
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


_FLAG_CACHES: dict[type[IntFlag], dict[int, IntFlag]] = {}
_F = TypeVar("_F", bound=IntFlag)


def _flags(kind: type[_F], raw: int) -> _F:
    """`kind(raw)`, memoised: constructing an IntFlag costs about a microsecond."""
    cache = _FLAG_CACHES.get(kind)
    if cache is None:
        cache = _FLAG_CACHES[kind] = {}
    cached = cache.get(raw)
    if cached is None:
        if len(cache) > 4096:  # values are few in practice; never grow without bound
            cache.clear()
        cached = cache[raw] = kind(raw)
    return cached  # type: ignore[return-value]


def _size_table(base: int, *fields: tuple[int, int]) -> tuple[int, ...]:
    """Frame length for each flags byte: base plus every flagged field (one lookup)."""
    return tuple(base + sum(n for bit, n in fields if flags & bit) for flags in range(256))


_BLOODPRESSUREFLAGS_SIZES = _size_table(
    7,
    (_BloodPressureFlags_TIME_STAMP_PRESENT, _DATE_TIME_SIZE),
    (_BloodPressureFlags_PULSE_RATE_PRESENT, 2),
    (_BloodPressureFlags_USER_ID_PRESENT, 1),
    (_BloodPressureFlags_MEASUREMENT_STATUS_PRESENT, 2),
)
_TEMPERATUREFLAGS_SIZES = _size_table(
    5,
    (_TemperatureFlags_TIME_STAMP_PRESENT, _DATE_TIME_SIZE),
    (_TemperatureFlags_TEMPERATURE_TYPE_PRESENT, 1),
)
_WEIGHTFLAGS_SIZES = _size_table(
    3,
    (_WeightFlags_TIME_STAMP_PRESENT, _DATE_TIME_SIZE),
    (_WeightFlags_USER_ID_PRESENT, 1),
    (_WeightFlags_BMI_AND_HEIGHT_PRESENT, 4),
)
_GLUCOSEFLAGS_SIZES = _size_table(
    10,
    (_GlucoseFlags_TIME_OFFSET_PRESENT, 2),
    (_GlucoseFlags_CONCENTRATION_TYPE_LOCATION_PRESENT, 3),
    (_GlucoseFlags_SENSOR_STATUS_PRESENT, 2),
)
_PLXSPOTCHECKFLAGS_SIZES = _size_table(
    5,
    (_PlxSpotCheckFlags_TIME_STAMP_PRESENT, _DATE_TIME_SIZE),
    (_PlxSpotCheckFlags_MEASUREMENT_STATUS_PRESENT, 2),
    (_PlxSpotCheckFlags_DEVICE_SENSOR_STATUS_PRESENT, 3),
    (_PlxSpotCheckFlags_PULSE_AMPLITUDE_INDEX_PRESENT, 2),
)
_PLXCONTINUOUSFLAGS_SIZES = _size_table(
    5,
    (_PlxContinuousFlags_SPO2PR_FAST_PRESENT, 4),
    (_PlxContinuousFlags_SPO2PR_SLOW_PRESENT, 4),
    (_PlxContinuousFlags_MEASUREMENT_STATUS_PRESENT, 2),
    (_PlxContinuousFlags_DEVICE_SENSOR_STATUS_PRESENT, 3),
    (_PlxContinuousFlags_PULSE_AMPLITUDE_INDEX_PRESENT, 2),
)


def _short(uuid: CharacteristicUuid, data: bytes, flags: int, size: int) -> DecodeError:
    return DecodeError(
        uuid, f"fields flagged by 0x{flags:02X}: need {size} bytes, got {len(data)}", data
    )


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
    if flags & _HeartRateFlags_VALUE_UINT16:
        _need(data, 3, _HR, "uint16 heart rate")
        bpm = data[1] | (data[2] << 8)
        offset = 3
    else:
        _need(data, 2, _HR, "uint8 heart rate")
        bpm = data[1]
        offset = 2
    contact: bool | None = None
    if flags & _HeartRateFlags_SENSOR_CONTACT_SUPPORTED:
        contact = bool(flags & _HeartRateFlags_SENSOR_CONTACT_DETECTED)
    energy: int | None = None
    if flags & _HeartRateFlags_ENERGY_EXPENDED_PRESENT:
        _need(data, offset + 2, _HR, "energy expended")
        energy = data[offset] | (data[offset + 1] << 8)
        offset += 2
    rr: tuple[float, ...] = ()
    if flags & _HeartRateFlags_RR_INTERVALS_PRESENT:
        end = offset + (len(data) - offset) // 2 * 2  # an odd trailing octet is ignored
        if end == offset:
            raise DecodeError(_HR, "RR-interval flag set but no RR-interval", data)
        # RR-Interval: uint16 in 1/1024 s; exact in binary floating point.
        rr = tuple((data[i] | (data[i + 1] << 8)) / 1024 for i in range(offset, end, 2))
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
    if not data:  # the size table below covers every other length
        raise DecodeError(uuid, "empty frame", data)
    flags = data[0]
    size = _BLOODPRESSUREFLAGS_SIZES[flags]
    if len(data) < size:
        raise _short(uuid, data, flags, size)
    raw_sys, raw_dia, raw_map = _BP_VALUES.unpack_from(data, 1)
    offset = 7
    timestamp: GattDateTime | None = None
    if flags & _BloodPressureFlags_TIME_STAMP_PRESENT:
        timestamp = _date_time(data, offset, uuid)
        offset += _DATE_TIME_SIZE
    pulse: Numeric | None = None
    if flags & _BloodPressureFlags_PULSE_RATE_PRESENT:
        pulse = decode_sfloat(_U16.unpack_from(data, offset)[0])
        offset += 2
    user: int | None = None
    if flags & _BloodPressureFlags_USER_ID_PRESENT:
        user = data[offset]
        offset += 1
    status: BloodPressureStatus | None = None
    if flags & _BloodPressureFlags_MEASUREMENT_STATUS_PRESENT:
        status = _flags(BloodPressureStatus, _U16.unpack_from(data, offset)[0])
    return (
        flags,
        SFLOAT_VALUES[raw_sys],
        SFLOAT_VALUES[raw_dia],
        SFLOAT_VALUES[raw_map],
        timestamp,
        pulse,
        user,
        status,
    )


def _pressure_unit(flags: int) -> PressureUnit:
    return PressureUnit.KPA if flags & _BloodPressureFlags_UNITS_KPA else PressureUnit.MMHG


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
    if not data:  # the size table below covers every other length
        raise DecodeError(_TEMP, "empty frame", data)
    flags = data[0]
    size = _TEMPERATUREFLAGS_SIZES[flags]
    if len(data) < size:
        raise _short(_TEMP, data, flags, size)
    value = decode_float(_U32.unpack_from(data, 1)[0])
    offset = 5
    timestamp: GattDateTime | None = None
    if flags & _TemperatureFlags_TIME_STAMP_PRESENT:
        timestamp = _date_time(data, offset, _TEMP)
        offset += _DATE_TIME_SIZE
    kind: int | None = data[offset] if flags & _TemperatureFlags_TEMPERATURE_TYPE_PRESENT else None
    unit = (
        TemperatureUnit.FAHRENHEIT
        if flags & _TemperatureFlags_UNITS_FAHRENHEIT
        else TemperatureUnit.CELSIUS
    )
    return TemperatureMeasurement(value, unit, timestamp, kind)


def decode_weight(data: bytes) -> WeightMeasurement:
    """Weight Measurement 0x2A9D (GSS 3.252): uint16 weight, 0.005 kg or 0.01 lb steps."""
    if not data:  # the size table below covers every other length
        raise DecodeError(_WEIGHT, "empty frame", data)
    flags = data[0]
    size = _WEIGHTFLAGS_SIZES[flags]
    if len(data) < size:
        raise _short(_WEIGHT, data, flags, size)
    imperial = bool(flags & _WeightFlags_UNITS_IMPERIAL)
    raw_weight = _U16.unpack_from(data, 1)[0]
    weight: float | None = None
    if raw_weight != 0xFFFF:  # 0xFFFF: "measurement unsuccessful"
        weight = raw_weight / 100 if imperial else raw_weight * 5 / 1000
    offset = 3
    timestamp: GattDateTime | None = None
    if flags & _WeightFlags_TIME_STAMP_PRESENT:
        timestamp = _date_time(data, offset, _WEIGHT)
        offset += _DATE_TIME_SIZE
    user: int | None = None
    if flags & _WeightFlags_USER_ID_PRESENT:
        user = data[offset]
        offset += 1
    bmi: float | None = None
    height: float | None = None
    if flags & _WeightFlags_BMI_AND_HEIGHT_PRESENT:
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
    if not data:  # the size table below covers every other length
        raise DecodeError(_GLUCOSE, "empty frame", data)
    flags = data[0]
    size = _GLUCOSEFLAGS_SIZES[flags]
    if len(data) < size:
        raise _short(_GLUCOSE, data, flags, size)
    sequence = _U16.unpack_from(data, 1)[0]
    base_time = _date_time(data, 3, _GLUCOSE)
    offset = 10
    time_offset: int | None = None
    if flags & _GlucoseFlags_TIME_OFFSET_PRESENT:
        time_offset = _S16.unpack_from(data, offset)[0]
        offset += 2
    concentration: Numeric | None = None
    unit: GlucoseUnit | None = None
    kind: int | None = None
    location: int | None = None
    if flags & _GlucoseFlags_CONCENTRATION_TYPE_LOCATION_PRESENT:
        concentration = decode_sfloat(_U16.unpack_from(data, offset)[0])
        unit = (
            GlucoseUnit.MOL_PER_L if flags & _GlucoseFlags_UNITS_MOL_PER_L else GlucoseUnit.KG_PER_L
        )
        kind = data[offset + 2] & 0x0F
        location = data[offset + 2] >> 4
        offset += 3
    status: GlucoseSensorStatus | None = None
    if flags & _GlucoseFlags_SENSOR_STATUS_PRESENT:
        status = _flags(GlucoseSensorStatus, _U16.unpack_from(data, offset)[0])
    return GlucoseMeasurement(
        sequence,
        base_time,
        time_offset,
        concentration,
        unit,
        kind,
        location,
        status,
        bool(flags & _GlucoseFlags_CONTEXT_INFORMATION_FOLLOWS),
    )


def _u24(data: bytes, offset: int) -> int:
    return data[offset] | (data[offset + 1] << 8) | (data[offset + 2] << 16)


def decode_plx_spot_check(data: bytes) -> PlxSpotCheckMeasurement:
    """PLX Spot-check Measurement 0x2A5E (GSS 3.174)."""
    if not data:  # the size table below covers every other length
        raise DecodeError(_SPOT, "empty frame", data)
    flags = data[0]
    size = _PLXSPOTCHECKFLAGS_SIZES[flags]
    if len(data) < size:
        raise _short(_SPOT, data, flags, size)
    raw_spo2, raw_pulse = _U16X2.unpack_from(data, 1)
    spo2 = SFLOAT_VALUES[raw_spo2]
    pulse = SFLOAT_VALUES[raw_pulse]
    offset = 5
    timestamp: GattDateTime | None = None
    if flags & _PlxSpotCheckFlags_TIME_STAMP_PRESENT:
        timestamp = _date_time(data, offset, _SPOT)
        offset += _DATE_TIME_SIZE
    status: PlxMeasurementStatus | None = None
    if flags & _PlxSpotCheckFlags_MEASUREMENT_STATUS_PRESENT:
        status = _flags(PlxMeasurementStatus, _U16.unpack_from(data, offset)[0])
        offset += 2
    sensor: PlxDeviceSensorStatus | None = None
    if flags & _PlxSpotCheckFlags_DEVICE_SENSOR_STATUS_PRESENT:
        sensor = _flags(PlxDeviceSensorStatus, _u24(data, offset))
        offset += 3
    pai: Numeric | None = None
    if flags & _PlxSpotCheckFlags_PULSE_AMPLITUDE_INDEX_PRESENT:
        pai = decode_sfloat(_U16.unpack_from(data, offset)[0])
    return PlxSpotCheckMeasurement(
        spo2,
        pulse,
        timestamp,
        status,
        sensor,
        pai,
        bool(flags & _PlxSpotCheckFlags_DEVICE_CLOCK_NOT_SET),
    )


def decode_plx_continuous(data: bytes) -> PlxContinuousMeasurement:
    """PLX Continuous Measurement 0x2A5F (GSS 3.173)."""
    if not data:  # the size table below covers every other length
        raise DecodeError(_CONT, "empty frame", data)
    flags = data[0]
    size = _PLXCONTINUOUSFLAGS_SIZES[flags]
    if len(data) < size:
        raise _short(_CONT, data, flags, size)
    raw_spo2, raw_pulse = _U16X2.unpack_from(data, 1)
    spo2 = SFLOAT_VALUES[raw_spo2]
    pulse = SFLOAT_VALUES[raw_pulse]
    offset = 5
    fast: tuple[Numeric | None, Numeric | None] = (None, None)
    if flags & _PlxContinuousFlags_SPO2PR_FAST_PRESENT:
        a, b = _U16X2.unpack_from(data, offset)
        fast = (SFLOAT_VALUES[a], SFLOAT_VALUES[b])
        offset += 4
    slow: tuple[Numeric | None, Numeric | None] = (None, None)
    if flags & _PlxContinuousFlags_SPO2PR_SLOW_PRESENT:
        a, b = _U16X2.unpack_from(data, offset)
        slow = (SFLOAT_VALUES[a], SFLOAT_VALUES[b])
        offset += 4
    status: PlxMeasurementStatus | None = None
    if flags & _PlxContinuousFlags_MEASUREMENT_STATUS_PRESENT:
        status = _flags(PlxMeasurementStatus, _U16.unpack_from(data, offset)[0])
        offset += 2
    sensor: PlxDeviceSensorStatus | None = None
    if flags & _PlxContinuousFlags_DEVICE_SENSOR_STATUS_PRESENT:
        sensor = _flags(PlxDeviceSensorStatus, _u24(data, offset))
        offset += 3
    pai: Numeric | None = None
    if flags & _PlxContinuousFlags_PULSE_AMPLITUDE_INDEX_PRESENT:
        pai = decode_sfloat(_U16.unpack_from(data, offset)[0])
    return PlxContinuousMeasurement(
        spo2, pulse, fast[0], fast[1], slow[0], slow[1], status, sensor, pai
    )


def decode_plx_features(data: bytes) -> PlxFeatures:
    """PLX Features 0x2A60 (GSS 3.172): supported features, then optional support masks."""
    _need(data, 2, _PLXF, "supported features")
    raw_supported = _U16.unpack_from(data, 0)[0]
    supported = PlxSupportedFeatures(raw_supported)
    size = (
        2
        + (2 if raw_supported & _PlxSupportedFeatures_MEASUREMENT_STATUS_SUPPORTED else 0)
        + (3 if raw_supported & _PlxSupportedFeatures_DEVICE_SENSOR_STATUS_SUPPORTED else 0)
    )
    _need(data, size, _PLXF, f"fields flagged by 0x{raw_supported:04X}")
    offset = 2
    status: PlxMeasurementStatus | None = None
    if raw_supported & _PlxSupportedFeatures_MEASUREMENT_STATUS_SUPPORTED:
        status = _flags(PlxMeasurementStatus, _U16.unpack_from(data, offset)[0])
        offset += 2
    sensor: PlxDeviceSensorStatus | None = None
    if raw_supported & _PlxSupportedFeatures_DEVICE_SENSOR_STATUS_SUPPORTED:
        sensor = _flags(PlxDeviceSensorStatus, _u24(data, offset))
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
    return decoder(data if type(data) is bytes else bytes(data))
