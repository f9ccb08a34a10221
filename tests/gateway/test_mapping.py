"""Measurement -> Observation mapping: codes checked against the R4 vital-signs profiles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fhir.resources.R4B.observation import Observation

from gateway.codes import (
    DATA_ABSENT_REASON_SYSTEM,
    EFFECTIVE_TIME_EXTENSION,
    VITAL_SIGNS_PROFILE,
    CharacteristicUuid,
    PressureUnit,
    SpecialValue,
)
from gateway.encoders import encode_blood_pressure, encode_heart_rate
from gateway.frames import DeviceBinding, Frame
from gateway.history import week_of_readings
from gateway.mapping import GroupMode, frames_to_observations, observation_identifier
from gateway.measurements import BloodPressureMeasurement, GattDateTime, HeartRateMeasurement
from gateway.simulator import Profile, VirtualDevice
from tests.gateway.profiles import check_against_profile, profiles

BINDING = DeviceBinding("C0:FF:EE:00:00:01", "pat-1", "dev-1")
T0 = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)

# LOINC and UCUM pairs from DESIGN.md: every code we emit must be one of these.
DESIGN_CODES = {
    "8867-4": "/min",
    "59408-5": "%",
    "2708-6": "%",
    "85354-9": None,
    "8480-6": "mm[Hg]",
    "8462-4": "mm[Hg]",
    "8478-0": "mm[Hg]",
    "8310-5": "Cel",
    "29463-7": "kg",
    "2339-0": "mg/dL",
    "8302-2": "cm",
    "39156-5": "kg/m2",
}


def _frame(uuid: CharacteristicUuid, data: bytes, at: datetime = T0) -> Frame:
    return Frame(BINDING.address, uuid, data, at)


def _all_profile_observations() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, profile in enumerate(Profile):
        device = VirtualDevice(f"C0:FF:EE:00:01:0{index}", profile, seed=index)
        records = week_of_readings(device, BINDING, T0, days=2)
        assert records, profile
        out.extend(json.loads(r.resource_json) for r in records)
    return out


def test_every_observation_is_valid_r4_and_matches_its_profile() -> None:
    resources = _all_profile_observations()
    seen_profiles: set[str] = set()
    for resource in resources:
        Observation.model_validate(resource)  # a valid R4(B) Observation
        assert VITAL_SIGNS_PROFILE in resource["meta"]["profile"]
        assert check_against_profile(resource, VITAL_SIGNS_PROFILE) == []
        for url in resource["meta"]["profile"]:
            assert url in profiles(), url
            assert check_against_profile(resource, url) == [], (url, resource["code"])
            seen_profiles.add(url)
        for coding in resource["code"]["coding"]:
            if coding["system"] == "http://loinc.org":
                assert coding["code"] in DESIGN_CODES
        if "valueQuantity" in resource:
            loinc = resource["code"]["coding"][0]["code"]
            assert resource["valueQuantity"]["code"] == DESIGN_CODES[loinc]
        for component in resource.get("component", []):
            for coding in component["code"]["coding"]:
                if coding["system"] == "http://loinc.org" and "valueQuantity" in component:
                    assert component["valueQuantity"]["code"] == DESIGN_CODES[coding["code"]]
    assert seen_profiles >= {
        "http://hl7.org/fhir/StructureDefinition/heartrate",
        "http://hl7.org/fhir/StructureDefinition/oxygensat",
        "http://hl7.org/fhir/StructureDefinition/bp",
        "http://hl7.org/fhir/StructureDefinition/bodytemp",
        "http://hl7.org/fhir/StructureDefinition/bodyweight",
    }


def test_profile_checker_catches_a_wrong_code() -> None:
    """The checker itself fails on the mistake STYLE.md warns about."""
    frame = _frame(
        CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT,
        bytes.fromhex("1e8a00580078000000041114293b3c00012700"),
    )
    bp = json.loads(frames_to_observations([frame], BINDING)[0].resource_json)
    bp["component"][1]["code"]["coding"][0]["code"] = "8867-4"  # diastolic coded as heart rate
    assert check_against_profile(bp, "http://hl7.org/fhir/StructureDefinition/bp")


def test_blood_pressure_panel_uses_the_device_time_stamp() -> None:
    m = BloodPressureMeasurement(
        128.0, 82.0, 97.0, PressureUnit.MMHG, GattDateTime(2026, 11, 20, 7, 55, 10), 71.0, 1
    )
    frame = _frame(CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT, encode_blood_pressure(m))
    panel, pulse = (json.loads(r.resource_json) for r in frames_to_observations([frame], BINDING))
    assert panel["effectiveDateTime"] == "2026-11-20T07:55:10Z"
    assert {"url": EFFECTIVE_TIME_EXTENSION, "valueCode": "device-clock"} in panel["extension"]
    assert [c["valueQuantity"]["value"] for c in panel["component"]] == [128.0, 82.0, 97.0]
    assert panel["subject"] == {"reference": "Patient/pat-1"}
    assert panel["device"] == {"reference": "Device/dev-1"}
    assert pulse["code"]["coding"][0]["code"] == "8867-4"
    assert pulse["valueQuantity"]["value"] == 71.0


def test_receipt_time_when_the_device_has_no_clock() -> None:
    m = BloodPressureMeasurement(120.0, 80.0, 93.0, PressureUnit.MMHG)
    frame = _frame(CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT, encode_blood_pressure(m))
    (panel,) = (json.loads(r.resource_json) for r in frames_to_observations([frame], BINDING))
    assert panel["effectiveDateTime"] == "2026-11-20T08:00:00Z"
    assert {"url": EFFECTIVE_TIME_EXTENSION, "valueCode": "gateway-receipt"} in panel["extension"]


def test_kpa_is_converted_to_mmhg() -> None:
    frame = _frame(
        CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT, bytes.fromhex("15bdf00b009ff03c001200")
    )
    panel = json.loads(frames_to_observations([frame], BINDING)[0].resource_json)
    systolic = panel["component"][0]["valueQuantity"]
    assert systolic["code"] == "mm[Hg]"
    assert systolic["value"] == pytest.approx(141.76, abs=0.01)


@pytest.mark.parametrize(
    ("special", "reason"),
    [
        (SpecialValue.NAN, "not-a-number"),
        (SpecialValue.NRES, "error"),
        (SpecialValue.POSITIVE_INFINITY, "positive-infinity"),
        (SpecialValue.NEGATIVE_INFINITY, "negative-infinity"),
    ],
)
def test_special_values_become_data_absent_reason(special: SpecialValue, reason: str) -> None:
    m = BloodPressureMeasurement(special, 80.0, 93.0, PressureUnit.MMHG)
    frame = _frame(CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT, encode_blood_pressure(m))
    panel = json.loads(frames_to_observations([frame], BINDING)[0].resource_json)
    systolic = panel["component"][0]
    assert "valueQuantity" not in systolic
    assert systolic["dataAbsentReason"]["coding"][0] == {
        "system": DATA_ABSENT_REASON_SYSTEM,
        "code": reason,
        "display": systolic["dataAbsentReason"]["coding"][0]["display"],
    }
    Observation.model_validate(panel)


def _hr_minute(bpms: list[int | None]) -> list[Frame]:
    frames = []
    for second, bpm in enumerate(bpms):
        m = HeartRateMeasurement(bpm or 60, sensor_contact=bpm is not None)
        frames.append(
            _frame(
                CharacteristicUuid.HEART_RATE_MEASUREMENT,
                encode_heart_rate(m),
                T0 + timedelta(seconds=second),
            )
        )
    return frames


def test_heart_rate_stream_grouped_per_minute_summary() -> None:
    frames = _hr_minute([70, 72, None, 74] + [72] * 56) + _hr_minute([80])[:0]
    (record,) = frames_to_observations(frames, BINDING)
    resource = json.loads(record.resource_json)
    assert resource["effectivePeriod"] == {
        "start": "2026-11-20T08:00:00Z",
        "end": "2026-11-20T08:01:00Z",
    }
    assert resource["valueQuantity"]["value"] == pytest.approx(72.0)
    comps = {c["code"]["coding"][0]["code"]: c for c in resource["component"]}
    assert comps["minimum"]["valueQuantity"]["value"] == 70
    assert comps["maximum"]["valueQuantity"]["value"] == 74
    assert comps["sample-count"]["valueInteger"] == 60
    assert record.identifier == observation_identifier("dev-1", "heart-rate-1min", T0)
    Observation.model_validate(resource)


def test_heart_rate_stream_sampled_data_mode() -> None:
    (record,) = frames_to_observations(_hr_minute([70, None, 71]), BINDING, GroupMode.SAMPLED_DATA)
    resource = json.loads(record.resource_json)
    sampled = next(c for c in resource["component"] if "valueSampledData" in c)
    assert sampled["code"]["coding"][0]["code"] == "8867-4"
    data = sampled["valueSampledData"]["data"].split()
    assert data[:3] == ["70", "E", "71"] and len(data) == 60
    assert sampled["valueSampledData"]["period"] == 1000
    Observation.model_validate(resource)


def test_identifiers_are_deterministic_and_unique() -> None:
    device = VirtualDevice("C0:FF:EE:00:02:01", Profile.BLOOD_PRESSURE, seed=4)
    first = week_of_readings(device, BINDING, T0, days=3)
    second = week_of_readings(device, BINDING, T0, days=3)
    assert [r.identifier for r in first] == [r.identifier for r in second]
    assert len({r.identifier for r in first}) == len(first)
