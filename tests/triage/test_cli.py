"""`carebot triage`: one-shot, plain text or one JSON object."""

from __future__ import annotations

import argparse
import json

import pytest

from bot import cli_triage


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="carebot")
    sub = parser.add_subparsers(dest="command", required=True)
    cli_triage.register(sub)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_json_has_level_reasons_red_flags_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["triage", "--json", "crushing chest pain and sweating, BP 90/60"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["level"] == "emergency_ambulance"
    assert out["red_flags"] and out["reasons"]
    codes = {f["snomed"] for f in out["findings"] if f["present"]}
    assert {"29857009", "415690000"} <= codes  # chest pain, sweating
    assert {v["loinc"] for v in out["vitals"]} == {"8480-6", "8462-4"}


def test_french_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["triage", "--lang", "fr", "nez", "qui", "coule,", "pas", "de", "fièvre"]) == 0
    out = capsys.readouterr().out
    assert "level: self_care" in out
    assert "- fièvre" in out


def test_patient_with_unreachable_store_warns_and_goes_on(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREBOT_FHIR_URL", "http://127.0.0.1:9/fhir")  # discard port: refused
    monkeypatch.setenv("CAREBOT_FHIR_TOKEN", "t")
    assert _run(["triage", "--json", "--patient", "123", "sore throat"]) == 0
    captured = capsys.readouterr()
    assert "device vitals not read" in captured.err
    out = json.loads(captured.out)
    assert (out["level"], out["vitals_source"]) == ("self_care", "unavailable")


def test_empty_text_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["triage", " "]) == cli_triage.EXIT_BAD_INPUT
    assert "no text" in capsys.readouterr().err
