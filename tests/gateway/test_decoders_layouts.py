"""Frames laid out by hand from the GSS field tables, compared whole (no encoder involved)."""

from __future__ import annotations

import pytest

from gateway.codes import (
    CharacteristicUuid,
    PlxDeviceSensorStatus,
    PlxMeasurementStatus,
    PlxSupportedFeatures,
    PressureUnit,
    SpecialValue,
    TemperatureUnit,
    WeightScaleFeatures,
    WeightUnit,
)
from gateway.decoders import DecodeError, decode
from gateway.measurements import (
    GattDateTime,
    IntermediateCuffPressure,
    PlxContinuousMeasurement,
    PlxFeatures,
    PlxSpotCheckMeasurement,
    TemperatureMeasurement,
    WeightMeasurement,
    WeightScaleFeature,
)

C = CharacteristicUuid


def test_plx_spot_check_all_fields() -> None:
    # flags 0x0F | SpO2 98 | PR 72 | 2025-11-20 08:30:00 | status 0x0080 | sensor 0x000020 | PAI 4.5
    frame = bytes.fromhex("0f62004800e9070b14081e0080002000002df0")
    assert decode(C.PLX_SPOT_CHECK_MEASUREMENT, frame) == PlxSpotCheckMeasurement(
        98.0,
        72.0,
        GattDateTime(2025, 11, 20, 8, 30, 0),
        PlxMeasurementStatus.VALIDATED_DATA,
        PlxDeviceSensorStatus.LOW_PERFUSION,
        4.5,
        False,
    )


def test_plx_spot_check_clock_not_set() -> None:
    frame = bytes.fromhex("1061005000")
    assert decode(C.PLX_SPOT_CHECK_MEASUREMENT, frame) == PlxSpotCheckMeasurement(
        97.0, 80.0, device_clock_not_set=True
    )


def test_plx_continuous_all_fields() -> None:
    frame = bytes.fromhex("1f61004b0060004c0062004a000020008000ff07")
    assert decode(C.PLX_CONTINUOUS_MEASUREMENT, frame) == PlxContinuousMeasurement(
        97.0,
        75.0,
        96.0,
        76.0,
        98.0,
        74.0,
        PlxMeasurementStatus.MEASUREMENT_UNAVAILABLE,
        PlxDeviceSensorStatus.SENSOR_DISCONNECTED,
        SpecialValue.NAN,
    )


def test_plx_continuous_truncated() -> None:
    with pytest.raises(DecodeError):
        decode(C.PLX_CONTINUOUS_MEASUREMENT, bytes.fromhex("0161004b006000"))


def test_plx_features() -> None:
    frame = bytes.fromhex("0300e0ffffff00")
    assert decode(C.PLX_FEATURES, frame) == PlxFeatures(
        PlxSupportedFeatures.MEASUREMENT_STATUS_SUPPORTED
        | PlxSupportedFeatures.DEVICE_SENSOR_STATUS_SUPPORTED,
        PlxMeasurementStatus(0xFFE0),
        PlxDeviceSensorStatus(0xFFFF),
    )
    with pytest.raises(DecodeError):
        decode(C.PLX_FEATURES, bytes.fromhex("0300e0ff"))


def test_weight_si_with_everything() -> None:
    frame = bytes.fromhex("0e983aea07010203040502f500d606")
    assert decode(C.WEIGHT_MEASUREMENT, frame) == WeightMeasurement(
        75.0, WeightUnit.SI, GattDateTime(2026, 1, 2, 3, 4, 5), 2, 24.5, 1.75
    )


def test_weight_imperial_and_unsuccessful() -> None:
    assert decode(C.WEIGHT_MEASUREMENT, bytes.fromhex("017440")) == WeightMeasurement(
        165.0, WeightUnit.IMPERIAL
    )
    assert decode(C.WEIGHT_MEASUREMENT, bytes.fromhex("00ffff")) == WeightMeasurement(
        None, WeightUnit.SI
    )


def test_weight_scale_feature() -> None:
    feature = decode(C.WEIGHT_SCALE_FEATURE, bytes.fromhex("bd010000"))
    assert feature == WeightScaleFeature(
        WeightScaleFeatures.TIME_STAMP_SUPPORTED | WeightScaleFeatures.BMI_SUPPORTED, 7, 3, 0x01BD
    )
    assert isinstance(feature, WeightScaleFeature)
    assert feature.weight_resolution_kg == 0.005
    assert feature.height_resolution_m == 0.001


def test_intermediate_cuff_pressure() -> None:
    assert decode(C.INTERMEDIATE_CUFF_PRESSURE, bytes.fromhex("009600ff07ff07")) == (
        IntermediateCuffPressure(150.0, PressureUnit.MMHG, SpecialValue.NAN, SpecialValue.NAN)
    )


def test_temperature_fahrenheit() -> None:
    assert decode(C.TEMPERATURE_MEASUREMENT, bytes.fromhex("01da0300ff")) == (
        TemperatureMeasurement(98.6, TemperatureUnit.FAHRENHEIT)
    )
