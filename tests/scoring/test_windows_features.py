"""Windows and window features from FHIR Observation JSON as the gateway writes it."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scoring.features import hourly_means, news2_inputs, on_oxygen, window_features
from scoring.news2 import Parameter, news2
from scoring.windows import (
    Vital,
    VitalSample,
    latest_complete_set,
    latest_sets_before,
    samples_from_observation,
    tumbling_windows,
)

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def obs(oid: str, code: str, value: float | None, at: datetime, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": at.isoformat().replace("+00:00", "Z"),
    }
    if value is None:
        resource["dataAbsentReason"] = {"coding": [{"code": "error"}]}
    else:
        resource["valueQuantity"] = {"value": value, "unit": "/min"}
    resource.update(extra)
    return resource


def bp(oid: str, systolic: float, diastolic: float, at: datetime) -> dict[str, Any]:
    panel = obs(oid, "85354-9", None, at)
    del panel["dataAbsentReason"]
    panel["component"] = [
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
         "valueQuantity": {"value": systolic}},
        {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
         "valueQuantity": {"value": diastolic}},
    ]  # fmt: skip
    return panel


def test_samples_from_the_profiles() -> None:
    assert samples_from_observation(obs("1", "8867-4", 72, T0)) == [
        VitalSample(T0, Vital.HEART_RATE, 72.0, "Observation/1")
    ]
    assert samples_from_observation(bp("2", 121, 79, T0)) == [
        VitalSample(T0, Vital.SYSTOLIC, 121.0, "Observation/2"),
        VitalSample(T0, Vital.DIASTOLIC, 79.0, "Observation/2"),
    ]
    spo2 = obs("3", "2708-6", 97, T0)
    spo2["code"]["coding"].append({"system": "http://loinc.org", "code": "59408-5"})
    assert samples_from_observation(spo2)[0].vital is Vital.SPO2
    period = obs("4", "8867-4", 80.5, T0)
    del period["effectiveDateTime"]
    period["effectivePeriod"] = {"start": "2026-12-02T10:01:00Z", "end": "2026-12-02T10:02:00Z"}
    assert samples_from_observation(period)[0].at == T0 + timedelta(minutes=1)


@pytest.mark.parametrize(
    "resource",
    [
        obs("5", "8867-4", None, T0),  # dataAbsentReason: never a number
        obs("6", "8867-4", 70, T0, status="entered-in-error"),
        obs("7", "1234-5", 70, T0),  # not a vital we score
        {k: v for k, v in obs("8", "8867-4", 70, T0).items() if k != "effectiveDateTime"},
    ],
)
def test_no_sample_from_absent_or_unusable_observations(resource: dict[str, Any]) -> None:
    assert samples_from_observation(resource) == []


def samples() -> list[VitalSample]:
    found = []
    for minute, hr in [(0, 80), (20, 90), (40, 100), (59, 110), (61, 70)]:
        found += samples_from_observation(
            obs(f"hr{minute}", "8867-4", hr, T0 + timedelta(minutes=minute))
        )
    found += samples_from_observation(obs("t", "8310-5", 38.2, T0 + timedelta(minutes=30)))
    return found


def test_tumbling_hour_windows() -> None:
    windows = tumbling_windows("p1", samples())
    assert [(w.start, w.end, len(w.samples)) for w in windows] == [
        (T0, T0 + timedelta(hours=1), 5),
        (T0 + timedelta(hours=1), T0 + timedelta(hours=2), 1),
    ]
    assert windows[0].sources == (
        "Observation/hr0",
        "Observation/hr20",
        "Observation/t",
        "Observation/hr40",
        "Observation/hr59",
    )
    half = tumbling_windows("p1", samples(), width=timedelta(minutes=30))
    assert [len(w.samples) for w in half] == [2, 3, 1]


def test_window_features_and_missingness() -> None:
    features = window_features(tumbling_windows("p1", samples())[0])
    hr = features.vitals[Vital.HEART_RATE]
    assert (hr.count, hr.last, hr.minimum, hr.maximum, hr.mean) == (4, 110.0, 80.0, 110.0, 95.0)
    assert hr.sd == pytest.approx(math.sqrt(125.0))
    # least squares of (0, 80), (1/3, 90), (2/3, 100), (59/60, 110) in hours
    assert hr.slope_per_h == pytest.approx(30.5, rel=0.02)
    assert hr.seconds_since_last == 60.0
    assert features.vitals[Vital.TEMPERATURE].slope_per_h is None
    assert features.missing == (
        Vital.SPO2,
        Vital.SYSTOLIC,
        Vital.MEAN_PRESSURE,
        Vital.DIASTOLIC,
        Vital.RESPIRATION_RATE,
    )
    row = hourly_means([features])[0]
    assert row[0] == 95.0 and math.isnan(row[1]) and row[2] == 38.2


def test_latest_set_feeds_news2_with_missing_parameters_named() -> None:
    latest = latest_complete_set(samples())
    assert latest[Vital.HEART_RATE].value == 70.0
    score = news2(news2_inputs(latest), at=T0 + timedelta(hours=6))
    assert score.points == {Parameter.PULSE: 0, Parameter.TEMPERATURE: 1}
    assert score.missing == (Parameter.RESPIRATION_RATE, Parameter.SPO2, Parameter.AIR_OR_OXYGEN,
                             Parameter.SYSTOLIC_BP, Parameter.CONSCIOUSNESS)  # fmt: skip
    assert score.stale == (Parameter.PULSE, Parameter.TEMPERATURE)


@pytest.mark.parametrize(("fio2", "oxygen"), [(21, False), (0.21, False), (28, True), (0.4, True)])
def test_fio2_above_room_air_is_oxygen(fio2: float, oxygen: bool) -> None:
    assert on_oxygen(fio2) is oxygen


def test_latest_sets_before_each_end_match_the_latest_set_of_what_came_before() -> None:
    # readings out of order, two at one instant (the later one listed wins), gaps of hours
    vitals = [Vital.HEART_RATE, Vital.SYSTOLIC, Vital.SPO2]
    readings = [
        VitalSample(T0 + timedelta(minutes=(37 * i) % 600), vitals[i % 3], float(i), f"O/{i}")
        for i in range(60)
    ]
    readings.append(VitalSample(readings[4].at, readings[4].vital, 999.0, "O/tie"))
    ends = [T0 + timedelta(hours=h) for h in (0, 1, 2, 5, 9, 11)]
    expected = [latest_complete_set([r for r in readings if r.at < end]) for end in ends]
    assert latest_sets_before(readings, ends) == expected
    assert expected[0] == {} and len(expected[-1]) == 3
