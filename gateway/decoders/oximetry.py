"""Decoders of the pulse oximeter's frames (Pulse Oximeter Service, GSS v8 3.172-3.174).

SpO2 and the pulse amplitude index are percentages (0-100) and pulse rates are never
negative: an SFLOAT outside that (0xFFFF, an all-ones frame, reads -0.1) is a `DecodeError`;
IEEE 11073 special values (NaN, NRes, infinities) are kept, for the mapping to turn into
`dataAbsentReason`.
"""

from __future__ import annotations

from gateway.codes import (
    CharacteristicUuid,
    PlxDeviceSensorStatus,
    PlxMeasurementStatus,
    PlxSupportedFeatures,
)
from gateway.decoders import layouts as lay
from gateway.decoders.framing import (
    DATE_TIME_SIZE,
    NEGATIVE_SFLOAT,
    NOT_PERCENT_SFLOAT,
    U16,
    U16X2,
    date_time,
    exact,
    flagged_frame,
    flags_of,
    need,
    negative,
    not_percent,
    sfloat_percentage,
)
from gateway.ieee11073 import SFLOAT_VALUES, Numeric
from gateway.measurements import (
    GattDateTime,
    PlxContinuousMeasurement,
    PlxFeatures,
    PlxSpotCheckMeasurement,
)

_SPOT = CharacteristicUuid.PLX_SPOT_CHECK_MEASUREMENT
_CONT = CharacteristicUuid.PLX_CONTINUOUS_MEASUREMENT
_PLXF = CharacteristicUuid.PLX_FEATURES


def _u24(data: bytes, offset: int) -> int:
    return data[offset] | (data[offset + 1] << 8) | (data[offset + 2] << 16)


def _spo2_pr(
    data: bytes, offset: int, uuid: CharacteristicUuid, which: str
) -> tuple[Numeric, Numeric]:
    """An SpO2 and pulse-rate pair of SFLOATs, checked for range."""
    raw_spo2, raw_pulse = U16X2.unpack_from(data, offset)
    if NOT_PERCENT_SFLOAT[raw_spo2]:
        raise not_percent(uuid, data, f"SpO2{which}", raw_spo2)
    if NEGATIVE_SFLOAT[raw_pulse]:
        raise negative(uuid, data, f"pulse rate{which}", raw_pulse, "/min")
    return SFLOAT_VALUES[raw_spo2], SFLOAT_VALUES[raw_pulse]


def _status_sensor_pai(
    data: bytes,
    offset: int,
    uuid: CharacteristicUuid,
    has_status: bool,
    has_sensor: bool,
    has_pai: bool,
) -> tuple[PlxMeasurementStatus | None, PlxDeviceSensorStatus | None, Numeric | None]:
    """The optional fields both PLX measurements end with, in order: Measurement Status,
    Device and Sensor Status, Pulse Amplitude Index."""
    status: PlxMeasurementStatus | None = None
    if has_status:
        status = flags_of(PlxMeasurementStatus, U16.unpack_from(data, offset)[0])
        offset += 2
    sensor: PlxDeviceSensorStatus | None = None
    if has_sensor:
        sensor = flags_of(PlxDeviceSensorStatus, _u24(data, offset))
        offset += 3
    pai: Numeric | None = None
    if has_pai:
        pai = sfloat_percentage(
            U16.unpack_from(data, offset)[0], uuid, data, "pulse amplitude index"
        )
    return status, sensor, pai


def decode_plx_spot_check(data: bytes) -> PlxSpotCheckMeasurement:
    """PLX Spot-check Measurement 0x2A5E (GSS 3.174)."""
    flags = flagged_frame(_SPOT, data, lay.PLX_SPOT_CHECK_SIZES)
    spo2, pulse = _spo2_pr(data, 1, _SPOT, "")
    offset = 5
    timestamp: GattDateTime | None = None
    if flags & lay.PLXS_TIME_STAMP_PRESENT:
        timestamp = date_time(data, offset, _SPOT)
        offset += DATE_TIME_SIZE
    status, sensor, pai = _status_sensor_pai(
        data,
        offset,
        _SPOT,
        bool(flags & lay.PLXS_MEASUREMENT_STATUS_PRESENT),
        bool(flags & lay.PLXS_DEVICE_SENSOR_STATUS_PRESENT),
        bool(flags & lay.PLXS_PULSE_AMPLITUDE_INDEX_PRESENT),
    )
    return PlxSpotCheckMeasurement(
        spo2, pulse, timestamp, status, sensor, pai, bool(flags & lay.PLXS_DEVICE_CLOCK_NOT_SET)
    )


def decode_plx_continuous(data: bytes) -> PlxContinuousMeasurement:
    """PLX Continuous Measurement 0x2A5F (GSS 3.173)."""
    flags = flagged_frame(_CONT, data, lay.PLX_CONTINUOUS_SIZES)
    spo2, pulse = _spo2_pr(data, 1, _CONT, "")
    offset = 5
    fast: tuple[Numeric | None, Numeric | None] = (None, None)
    if flags & lay.PLXC_SPO2PR_FAST_PRESENT:
        fast = _spo2_pr(data, offset, _CONT, " (fast)")
        offset += 4
    slow: tuple[Numeric | None, Numeric | None] = (None, None)
    if flags & lay.PLXC_SPO2PR_SLOW_PRESENT:
        slow = _spo2_pr(data, offset, _CONT, " (slow)")
        offset += 4
    status, sensor, pai = _status_sensor_pai(
        data,
        offset,
        _CONT,
        bool(flags & lay.PLXC_MEASUREMENT_STATUS_PRESENT),
        bool(flags & lay.PLXC_DEVICE_SENSOR_STATUS_PRESENT),
        bool(flags & lay.PLXC_PULSE_AMPLITUDE_INDEX_PRESENT),
    )
    return PlxContinuousMeasurement(
        spo2, pulse, fast[0], fast[1], slow[0], slow[1], status, sensor, pai
    )


def decode_plx_features(data: bytes) -> PlxFeatures:
    """PLX Features 0x2A60 (GSS 3.172): supported features, then optional support masks."""
    need(data, 2, _PLXF, "supported features")
    raw_supported = U16.unpack_from(data, 0)[0]
    supported = PlxSupportedFeatures(raw_supported)
    size = (
        2
        + (2 if raw_supported & lay.PLXF_MEASUREMENT_STATUS_SUPPORTED else 0)
        + (3 if raw_supported & lay.PLXF_DEVICE_SENSOR_STATUS_SUPPORTED else 0)
    )
    exact(_PLXF, data, size, f"fields flagged by 0x{raw_supported:04X}")
    offset = 2
    status: PlxMeasurementStatus | None = None
    if raw_supported & lay.PLXF_MEASUREMENT_STATUS_SUPPORTED:
        status = flags_of(PlxMeasurementStatus, U16.unpack_from(data, offset)[0])
        offset += 2
    sensor: PlxDeviceSensorStatus | None = None
    if raw_supported & lay.PLXF_DEVICE_SENSOR_STATUS_SUPPORTED:
        sensor = flags_of(PlxDeviceSensorStatus, _u24(data, offset))
    return PlxFeatures(supported, status, sensor)
