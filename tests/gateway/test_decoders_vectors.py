"""Decoders against Nordic's Android-BLE-Common-Library vectors and the specs' examples."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from gateway.codes import (
    BloodPressureStatus,
    CharacteristicUuid,
    GlucoseSensorStatus,
    GlucoseUnit,
    PressureUnit,
    TemperatureUnit,
)
from gateway.decoders import DecodeError, decode
from gateway.measurements import (
    BloodPressureMeasurement,
    GattDateTime,
    GlucoseMeasurement,
    HeartRateMeasurement,
    TemperatureMeasurement,
)
from tests.corpora import corpus

VECTORS = corpus("ble_gatt", "gatt_vectors_nordic.json")


def _vectors() -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads(VECTORS.read_text())
    vectors: list[dict[str, Any]] = data["vectors"]
    return vectors


def _id(vector: dict[str, Any]) -> str:
    return f"{vector['uuid16']}-{vector['payload_hex']}"


def _close(actual: object, expected: float | None, tolerance: float = 1e-9) -> bool:
    if expected is None:
        return actual is None
    assert isinstance(actual, float | int), actual
    return math.isclose(actual, expected, abs_tol=tolerance)


def _check_timestamp(actual: GattDateTime | None, expected: dict[str, Any] | None) -> None:
    if expected is None:
        assert actual is None
        return
    assert actual is not None
    for key in ("year", "month", "day", "hour", "minute", "second"):
        assert getattr(actual, key) == expected[key], key


_BP_STATUS = {
    "body_movement_detected": BloodPressureStatus.BODY_MOVEMENT_DETECTED,
    "cuff_too_loose": BloodPressureStatus.CUFF_TOO_LOOSE,
    "irregular_pulse_detected": BloodPressureStatus.IRREGULAR_PULSE_DETECTED,
    "pulse_rate_exceeds_upper_limit": BloodPressureStatus.PULSE_RATE_EXCEEDS_UPPER_LIMIT,
    "pulse_rate_below_lower_limit": BloodPressureStatus.PULSE_RATE_BELOW_LOWER_LIMIT,
    "improper_measurement_position": BloodPressureStatus.IMPROPER_MEASUREMENT_POSITION,
}


@pytest.mark.parametrize("vector", _vectors(), ids=_id)
def test_nordic_vector(vector: dict[str, Any]) -> None:
    uuid = CharacteristicUuid(int(vector["uuid16"], 16))
    data = bytes.fromhex(vector["payload_hex"])
    if not vector["valid"]:
        with pytest.raises(DecodeError):
            decode(uuid, data)
        return
    expected = vector["expected"]
    tolerance = expected.get("tolerance", 1e-9)
    result = decode(uuid, data)
    if isinstance(result, HeartRateMeasurement):
        assert result.bpm == expected["heart_rate_bpm"]
        assert result.sensor_contact == expected["sensor_contact"]
        assert result.energy_expended_kj == expected["energy_expended_kJ"]
        raw = expected["rr_intervals_raw_1_1024s"] or []
        assert result.rr_intervals_s == tuple(r / 1024 for r in raw)
    elif isinstance(result, BloodPressureMeasurement):
        assert _close(result.systolic, expected["systolic"], tolerance)
        assert _close(result.diastolic, expected["diastolic"], tolerance)
        assert _close(result.mean_arterial_pressure, expected["mean_arterial_pressure"], tolerance)
        unit = PressureUnit.KPA if expected["unit"] == "kPa" else PressureUnit.MMHG
        assert result.unit is unit
        assert _close(result.pulse_rate_bpm, expected["pulse_rate_bpm"], tolerance)
        assert result.user_id == expected["user_id"]
        _check_timestamp(result.timestamp, expected["timestamp"])
        if expected["status"] is None:
            assert result.status is None
        else:
            assert result.status is not None
            assert int(result.status) == expected["status_raw"]
            for name, flag in _BP_STATUS.items():
                assert (flag in result.status) == expected["status"][name], name
            in_range = not result.status & (
                BloodPressureStatus.PULSE_RATE_EXCEEDS_UPPER_LIMIT
                | BloodPressureStatus.PULSE_RATE_BELOW_LOWER_LIMIT
            )
            assert in_range == expected["status"]["pulse_rate_in_range"]
    elif isinstance(result, TemperatureMeasurement):
        assert _close(result.temperature, expected["temperature"], tolerance)
        assert result.unit is TemperatureUnit.CELSIUS
        assert expected["unit"] == "Celsius"
        _check_timestamp(result.timestamp, expected["timestamp"])
        assert result.temperature_type == expected["temperature_type"]
    elif isinstance(result, GlucoseMeasurement):
        assert result.sequence_number == expected["sequence_number"]
        assert result.base_time.to_datetime() is not None
        assert result.base_time.to_datetime().isoformat()[:19] == expected["base_time"]  # type: ignore[union-attr]
        assert result.time_offset_minutes == expected["time_offset_minutes"]
        assert _close(result.concentration, expected["glucose_concentration"])
        assert result.unit is GlucoseUnit.KG_PER_L
        assert result.glucose_type == expected["type"]
        assert result.sample_location == expected["sample_location"]
        assert result.sensor_status is not None
        assert int(result.sensor_status) == expected["sensor_status_raw"]
        assert (GlucoseSensorStatus.DEVICE_BATTERY_LOW in result.sensor_status) == expected[
            "device_battery_low"
        ]
        assert (GlucoseSensorStatus.GENERAL_DEVICE_FAULT in result.sensor_status) == expected[
            "general_device_fault"
        ]
        assert result.context_information_follows == expected["context_information_follows"]
    else:  # pragma: no cover - the corpus has only these four
        pytest.fail(f"unexpected result {result!r}")


def test_heart_rate_whole_result() -> None:
    """The STYLE.md example, compared whole."""
    assert decode(
        CharacteristicUuid.HEART_RATE_MEASUREMENT, bytes.fromhex("1e5532002100")
    ) == HeartRateMeasurement(
        bpm=85, sensor_contact=True, energy_expended_kj=50, rr_intervals_s=(33 / 1024,)
    )


def test_blood_pressure_whole_result() -> None:
    result = decode(
        CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT,
        bytes.fromhex("1e8a00580078000000041114293b3c00012700"),
    )
    assert result == BloodPressureMeasurement(
        systolic=138.0,
        diastolic=88.0,
        mean_arterial_pressure=120.0,
        unit=PressureUnit.MMHG,
        timestamp=GattDateTime(None, 4, 17, 20, 41, 59),
        pulse_rate_bpm=60.0,
        user_id=1,
        status=BloodPressureStatus(0x27),
    )


def test_heart_rate_rr_flag_edge_cases() -> None:
    uuid = CharacteristicUuid.HEART_RATE_MEASUREMENT
    with pytest.raises(DecodeError):
        decode(uuid, bytes.fromhex("1048"))  # RR flag, no interval at all
    assert decode(uuid, bytes.fromhex("10480004")) == HeartRateMeasurement(
        bpm=72, rr_intervals_s=(1.0,)
    )
    # A trailing odd octet after whole intervals is refused: no field is half an interval.
    with pytest.raises(DecodeError, match="odd byte"):
        decode(uuid, bytes.fromhex("10480004ff"))


@pytest.mark.parametrize(
    ("uuid", "frame"),
    [
        (CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT, "028a005800780000000d0114293b"),  # month 13
        (CharacteristicUuid.TEMPERATURE_MEASUREMENT, "02b00e00fedc070c0518321b"),  # hour 24
        (CharacteristicUuid.GLUCOSE_MEASUREMENT, "000100e307021b0b3c1e"),  # minute 60
    ],
)
def test_date_time_out_of_range_is_a_decode_error(uuid: CharacteristicUuid, frame: str) -> None:
    with pytest.raises(DecodeError, match="date time"):
        decode(uuid, bytes.fromhex(frame))
