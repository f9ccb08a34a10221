"""L9: a GATT frame is decoded only if its flags account for every byte and its values can be.

On main at 615cd3a, 60,000 zero bytes decoded as a blood pressure of 0/0 mmHg and an all-FF
PLX Continuous frame as SpO2 -0.1 %. Both must be a `DecodeError` (exit status 2 in the
CLI), while the spec vectors and IEEE 11073 special values keep decoding as before.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.cli import main
from gateway.codes import CharacteristicUuid, SpecialValue
from gateway.decoders import DecodeError, decode
from gateway.frames import DeviceBinding, Frame
from gateway.mapping import frames_to_observations
from gateway.measurements import PlxSpotCheckMeasurement
from tests.corpora import corpus

C = CharacteristicUuid


def _valid_vectors() -> list[tuple[CharacteristicUuid, bytes]]:
    data: dict[str, Any] = json.loads(corpus("ble_gatt", "gatt_vectors_nordic.json").read_text())
    return [
        (C(int(v["uuid16"], 16)), bytes.fromhex(v["payload_hex"]))
        for v in data["vectors"]
        if v["valid"] and int(v["uuid16"], 16) in C._value2member_map_
    ]


VALID = _valid_vectors()


def _cli_decode(uuid: str, frame: bytes, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(["gateway", "decode", "--uuid", uuid, frame.hex()])
    captured = capsys.readouterr()
    assert captured.out == "" or status == 0
    return status, captured.err


def test_sixty_thousand_zero_bytes_are_not_a_blood_pressure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = bytes(60_000)
    with pytest.raises(DecodeError, match="59993 bytes after the last field of 7"):
        decode(C.BLOOD_PRESSURE_MEASUREMENT, frame)
    status, err = _cli_decode("2A35", frame, capsys)
    assert status == 2
    assert err.startswith("error: invalid frame: 0x2A35:")
    assert len(err.strip().splitlines()) == 1
    assert len(err) < 300  # the message names the frame's start and size, not 120,000 hex digits


def test_all_ff_plx_continuous_frame_is_not_spo2_minus_0_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Flags 0xFF announce every optional field: 20 bytes, all of them 0xFF.
    frame = b"\xff" * 20
    with pytest.raises(DecodeError, match=r"SpO2 -0\.1 %: not a percentage"):
        decode(C.PLX_CONTINUOUS_MEASUREMENT, frame)
    status, err = _cli_decode("2A5F", frame, capsys)
    assert status == 2 and "not a percentage" in err
    # Longer all-FF frames: refused for their trailing bytes.
    with pytest.raises(DecodeError, match="bytes after the last field"):
        decode(C.PLX_CONTINUOUS_MEASUREMENT, b"\xff" * 30)


@pytest.mark.parametrize(
    ("uuid", "frame", "what"),
    [
        (C.PLX_SPOT_CHECK_MEASUREMENT, "00ffff4800", "SpO2"),
        (C.PLX_SPOT_CHECK_MEASUREMENT, "006200ffff", "pulse rate"),
        (C.PLX_SPOT_CHECK_MEASUREMENT, "0862004800ffff", "pulse amplitude index"),
        (C.PLX_SPOT_CHECK_MEASUREMENT, "0065004800", "SpO2"),  # 101 %
        (C.PLX_CONTINUOUS_MEASUREMENT, "0162004800ffff4800", "SpO2 \\(fast\\)"),
        (C.BLOOD_PRESSURE_MEASUREMENT, "00ffff58007800", "systolic"),
        (C.BLOOD_PRESSURE_MEASUREMENT, "048a0058007800ffff", "pulse rate"),
        (C.INTERMEDIATE_CUFF_PRESSURE, "00ffffff07ff07", "cuff pressure"),
        (C.GLUCOSE_MEASUREMENT, "020100e307021b0b1e00ffff11", "glucose concentration"),
    ],
)
def test_sfloat_ffff_in_a_field_that_cannot_be_negative_is_refused(
    uuid: CharacteristicUuid, frame: str, what: str
) -> None:
    with pytest.raises(DecodeError, match=what):
        decode(uuid, bytes.fromhex(frame))


def test_ieee_special_values_still_decode_and_map_to_data_absent() -> None:
    # SpO2 NaN (0x07FF), pulse rate NRes (0x0800): kept, then dataAbsentReason.
    frame = bytes.fromhex("00ff070008")
    decoded = decode(C.PLX_SPOT_CHECK_MEASUREMENT, frame)
    assert decoded == PlxSpotCheckMeasurement(SpecialValue.NAN, SpecialValue.NRES)
    binding = DeviceBinding("C0:FF:EE:00:00:01", "pat-1", "dev-1")
    received = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    records = frames_to_observations(
        [Frame(binding.address, C.PLX_SPOT_CHECK_MEASUREMENT, frame, received, 1)], binding
    )
    reasons = [json.loads(r.resource_json)["dataAbsentReason"]["coding"][0] for r in records]
    assert [r["code"] for r in reasons] == ["not-a-number", "error"]
    assert all("valueQuantity" not in json.loads(r.resource_json) for r in records)


@pytest.mark.parametrize(("uuid", "frame"), VALID, ids=[f"{u:04X}-{f.hex()}" for u, f in VALID])
def test_a_spec_vector_with_one_byte_more_is_refused(
    uuid: CharacteristicUuid, frame: bytes
) -> None:
    decode(uuid, frame)  # the vector itself decodes
    with pytest.raises(DecodeError) as error:
        decode(uuid, frame + b"\x00")
    assert error.value.uuid == uuid


def test_the_spec_vectors_cover_four_characteristics() -> None:
    assert {uuid for uuid, _ in VALID} == {
        C.BLOOD_PRESSURE_MEASUREMENT,
        C.HEART_RATE_MEASUREMENT,
        C.TEMPERATURE_MEASUREMENT,
        C.GLUCOSE_MEASUREMENT,
    }


def test_a_heart_rate_frame_longer_than_an_attribute_is_refused() -> None:
    # Flags 0x10: RR-intervals fill the rest; 256 intervals is more than any attribute holds.
    frame = bytes([0x10, 72]) + b"\x00\x04" * 256
    with pytest.raises(DecodeError, match="longer than an attribute value"):
        decode(C.HEART_RATE_MEASUREMENT, frame)
