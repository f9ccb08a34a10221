"""NEWS2 against the RCP 2017 chart (Chart 1: the NEWS scoring system), band edge by band edge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scoring.news2 import (
    Consciousness,
    News2Inputs,
    News2Score,
    Parameter,
    Reading,
    Risk,
    news2,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def r(value: float, age: timedelta = timedelta(0)) -> Reading:
    return Reading(value, NOW - age)


def only(parameter: Parameter, score: News2Score) -> int:
    return score.points[parameter]


# Each row: a value printed on the chart (both ends of every band) and its points.
RESPIRATION = [
    (0, 3),
    (8, 3),
    (9, 1),
    (11, 1),
    (12, 0),
    (20, 0),
    (21, 2),
    (24, 2),
    (25, 3),
    (60, 3),
]
SCALE1 = [(70, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
SCALE2_AIR = [
    (70, 3),
    (83, 3),
    (84, 2),
    (85, 2),
    (86, 1),
    (87, 1),
    (88, 0),
    (92, 0),
    (93, 0),
    (100, 0),
]
SCALE2_OXYGEN = [
    (83, 3),
    (84, 2),
    (85, 2),
    (86, 1),
    (87, 1),
    (88, 0),
    (92, 0),
    (93, 1),
    (94, 1),
    (95, 2),
    (96, 2),
    (97, 3),
    (100, 3),
]
SYSTOLIC = [(60, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)]
PULSE = [
    (30, 3),
    (40, 3),
    (41, 1),
    (50, 1),
    (51, 0),
    (90, 0),
    (91, 1),
    (110, 1),
    (111, 2),
    (130, 2),
    (131, 3),
]
TEMPERATURE = [
    (34.0, 3),
    (35.0, 3),
    (35.1, 1),
    (36.0, 1),
    (36.1, 0),
    (38.0, 0),
    (38.1, 1),
    (39.0, 1),
    (39.1, 2),
    (42.0, 2),
]


@pytest.mark.parametrize(("value", "points"), RESPIRATION)
def test_respiration_rate_bands(value: float, points: int) -> None:
    score = news2(News2Inputs(respiration_rate=r(value)))
    assert only(Parameter.RESPIRATION_RATE, score) == points


@pytest.mark.parametrize(("value", "points"), SCALE1)
@pytest.mark.parametrize("on_oxygen", [False, True])
def test_spo2_scale1_bands_ignore_oxygen(value: float, points: int, on_oxygen: bool) -> None:
    score = news2(News2Inputs(spo2=r(value), on_oxygen=on_oxygen))
    assert only(Parameter.SPO2, score) == points
    assert score.spo2_scale == 1


@pytest.mark.parametrize(("value", "points"), SCALE2_AIR)
def test_spo2_scale2_on_air(value: float, points: int) -> None:
    score = news2(News2Inputs(spo2=r(value), on_oxygen=False, spo2_scale=2))
    assert only(Parameter.SPO2, score) == points
    assert only(Parameter.AIR_OR_OXYGEN, score) == 0


@pytest.mark.parametrize(("value", "points"), SCALE2_OXYGEN)
def test_spo2_scale2_on_oxygen(value: float, points: int) -> None:
    score = news2(News2Inputs(spo2=r(value), on_oxygen=True, spo2_scale=2))
    assert only(Parameter.SPO2, score) == points
    assert only(Parameter.AIR_OR_OXYGEN, score) == 2


@pytest.mark.parametrize(("value", "points"), SYSTOLIC)
def test_systolic_bands(value: float, points: int) -> None:
    assert only(Parameter.SYSTOLIC_BP, news2(News2Inputs(systolic_bp=r(value)))) == points


@pytest.mark.parametrize(("value", "points"), PULSE)
def test_pulse_bands(value: float, points: int) -> None:
    assert only(Parameter.PULSE, news2(News2Inputs(pulse=r(value)))) == points


@pytest.mark.parametrize(("value", "points"), TEMPERATURE)
def test_temperature_bands(value: float, points: int) -> None:
    assert only(Parameter.TEMPERATURE, news2(News2Inputs(temperature=r(value)))) == points


@pytest.mark.parametrize(
    ("value", "points"),
    [
        (35.01, 1),
        (35.05, 1),
        (35.99, 1),
        (36.04, 0),
        (36.05, 0),
        (38.05, 1),
        (39.05, 2),
        (34.99, 3),
    ],
)
def test_two_decimal_temperatures_fall_in_a_band(value: float, points: int) -> None:
    assert only(Parameter.TEMPERATURE, news2(News2Inputs(temperature=r(value)))) == points


@pytest.mark.parametrize(
    ("inputs", "parameter", "points"),
    [
        (News2Inputs(pulse=r(90.5)), Parameter.PULSE, 1),
        (News2Inputs(respiration_rate=r(8.5)), Parameter.RESPIRATION_RATE, 1),
        (News2Inputs(respiration_rate=r(20.5)), Parameter.RESPIRATION_RATE, 2),
        (News2Inputs(spo2=r(95.5)), Parameter.SPO2, 0),
        (News2Inputs(systolic_bp=r(219.5)), Parameter.SYSTOLIC_BP, 3),
    ],
)
def test_means_between_integers_fall_in_a_band(
    inputs: News2Inputs, parameter: Parameter, points: int
) -> None:
    assert only(parameter, news2(inputs)) == points


@pytest.mark.parametrize(
    ("level", "points"),
    [(Consciousness.ALERT, 0)] + [(c, 3) for c in Consciousness if c is not Consciousness.ALERT],
)
def test_acvpu(level: Consciousness, points: int) -> None:
    assert only(Parameter.CONSCIOUSNESS, news2(News2Inputs(consciousness=level))) == points


def full(**changes: object) -> News2Inputs:
    values: dict[str, object] = {
        "respiration_rate": r(16),
        "spo2": r(97),
        "on_oxygen": False,
        "systolic_bp": r(125),
        "pulse": r(72),
        "consciousness": Consciousness.ALERT,
        "temperature": r(36.8),
    }
    values.update(changes)
    return News2Inputs(**values)  # type: ignore[arg-type]


def test_a_normal_complete_set_scores_zero_low() -> None:
    score = news2(full())
    assert (score.total, score.risk, score.missing, score.complete) == (0, Risk.LOW, (), True)


def test_worked_example_copd_patient_on_scale_2() -> None:
    # cliot's news2_score documentation, example 1 (citing RCP 2017): RR 22 (+2), SpO2 90%
    # on scale 2 (0), on oxygen (+2), SBP 130, HR 80, alert, 37.0 degC: 4.
    score = news2(
        full(respiration_rate=r(22), spo2=r(90), on_oxygen=True, systolic_bp=r(130),
             pulse=r(80), temperature=r(37.0), spo2_scale=2)
    )  # fmt: skip
    assert score.total == 4
    assert score.risk is Risk.LOW


def test_worked_example_spo2_89_on_scale_1_versus_2() -> None:
    # "SpO2 of 89% scores 0 instead of 3 on Scale 2" (a published common-error table).
    assert only(Parameter.SPO2, news2(full(spo2=r(89)))) == 3
    assert only(Parameter.SPO2, news2(full(spo2=r(89), spo2_scale=2))) == 0


def test_single_parameter_3_rule() -> None:
    # "RR of 25 (score 3) triggers medium risk even if total is only 3": the chart's
    # low-medium band (urgent ward-based response).
    score = news2(full(respiration_rate=r(25)))
    assert (score.total, score.any_parameter_3, score.risk) == (3, True, Risk.LOW_MEDIUM)
    not_three = news2(full(respiration_rate=r(22), temperature=r(38.5)))
    assert (not_three.total, not_three.any_parameter_3, not_three.risk) == (3, False, Risk.LOW)


@pytest.mark.parametrize(
    ("changes", "total", "risk"),
    [
        ({"respiration_rate": r(22), "pulse": r(95), "temperature": r(38.5), "spo2": r(95)}, 5, Risk.MEDIUM),
        ({"respiration_rate": r(22), "pulse": r(115), "temperature": r(38.5), "spo2": r(95)}, 6, Risk.MEDIUM),
        ({"respiration_rate": r(22), "pulse": r(115), "temperature": r(39.5), "spo2": r(95)}, 7, Risk.HIGH),
        ({"consciousness": Consciousness.VOICE, "on_oxygen": True, "systolic_bp": r(88)}, 8, Risk.HIGH),
    ],
)  # fmt: skip
def test_aggregate_risk_thresholds(changes: dict[str, object], total: int, risk: Risk) -> None:
    score = news2(full(**changes))
    assert (score.total, score.risk) == (total, risk)


def test_missing_parameters_are_named_and_the_rest_scored() -> None:
    score = news2(News2Inputs(spo2=r(93), pulse=r(112), systolic_bp=r(120), temperature=r(36.5)))
    assert score.total == 4
    assert score.missing == (
        Parameter.RESPIRATION_RATE,
        Parameter.AIR_OR_OXYGEN,
        Parameter.CONSCIOUSNESS,
    )
    assert not score.complete
    assert Parameter.RESPIRATION_RATE not in score.points


def test_stale_readings_are_marked() -> None:
    inputs = News2Inputs(
        spo2=r(97, timedelta(minutes=5)),
        pulse=r(70, timedelta(hours=5)),
        temperature=r(36.6, timedelta(hours=3, minutes=59)),
    )
    score = news2(inputs, at=NOW)
    assert score.stale == (Parameter.PULSE,)
    assert score.is_stale
    strict = news2(inputs, at=NOW, max_age=timedelta(hours=1))
    assert strict.stale == (Parameter.PULSE, Parameter.TEMPERATURE)
    assert news2(inputs).stale == ()


def test_scale_other_than_1_or_2_is_refused() -> None:
    with pytest.raises(ValueError, match="scale"):
        news2(News2Inputs(spo2=r(95), spo2_scale=3))
