"""`carebot gateway decode`: JSON on stdout, or one error line and exit status 2."""

from __future__ import annotations

import json

import pytest

from bot.cli import main


def test_decode_blood_pressure(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["gateway", "decode", "--uuid", "2A35", "1e8a00580078000000041114293b3c00012700"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["systolic_mmhg"] == 138.0
    assert out["diastolic_mmhg"] == 88.0
    assert out["mean_arterial_pressure_mmhg"] == 120.0
    assert out["pulse_rate_bpm"] == 60.0
    assert out["user_id"] == 1
    assert out["timestamp"]["year"] is None
    assert out["status"]["raw"] == 0x27


def test_decode_special_values(capsys: pytest.CaptureFixture[str]) -> None:
    # systolic NaN, diastolic NRes, MAP +INF
    assert main(["gateway", "decode", "--uuid", "0x2a35", "00ff070008fe07"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["systolic_mmhg"], out["diastolic_mmhg"], out["mean_arterial_pressure_mmhg"]) == (
        "nan",
        "nres",
        "+inf",
    )


def test_decode_kpa_names_carry_the_unit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "decode", "--uuid", "2A35", "15bdf00b009ff03c001200"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["systolic_kpa"] == 18.9


def test_invalid_frame_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "decode", "--uuid", "2A35", "010203040506"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("error: invalid frame")


def test_bad_hex_and_unknown_uuid_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "decode", "--uuid", "2A35", "zz"]) == 2
    assert main(["gateway", "decode", "--uuid", "FFFF", "00"]) == 2


def test_gateway_simulate_flag_and_subcommands_parse() -> None:
    from bot.cli import build_parser
    from gateway.cli import _cmd_gateway, _cmd_run, _cmd_status

    args = build_parser().parse_args(["gateway", "--simulate", "--speed", "5", "--patient", "p1"])
    assert args.func is _cmd_gateway and args.simulate and args.speed == 5.0
    assert args.patient == ["p1"]
    args = build_parser().parse_args(["gateway", "run", "--simulate", "--schedule", "fast"])
    assert args.func is _cmd_run and args.schedule == "fast"
    args = build_parser().parse_args(["gateway", "status", "--json"])
    assert args.func is _cmd_status and args.json


def test_gateway_without_command_explains(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway"]) == 2
    assert "usage" in capsys.readouterr().err


def test_heart_rate_json_keeps_raw_rr(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "decode", "--uuid", "2A37", "1f0101320101000201ffff"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["heart_rate_bpm"] == 257
    assert out["sensor_contact"] is True
    assert out["energy_expended_kj"] == 306
    assert out["rr_intervals_raw_1_1024s"] == [1, 258, 65535]
