"""NEWS2, the Royal College of Physicians' National Early Warning Score 2 (2017 chart).

A pure function: `news2(News2Inputs(...)) -> News2Score`. Each parameter is optional:
home monitoring often lacks respiratory rate and consciousness, so what is present is
scored and what is missing is named. A reading older than `max_age` at `at` is stale,
and a score that rests on a stale reading says so.

Bands are closed at the chart's upper bounds ("<= 8", "9-11", ...): a value belongs to
the first band whose upper bound it does not exceed, so readings between the chart's
printed values (36.05 degC, a per-minute mean heart rate of 90.5) fall in a band, never
in a gap: 36.05 is above 36.0 and so in 36.1-38.0.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_MAX_AGE = timedelta(hours=4)
"""A reading older than this (at scoring time) makes the score stale."""


class Parameter(enum.StrEnum):
    """The chart's seven parameters, in its order."""

    RESPIRATION_RATE = "respiration_rate"
    SPO2 = "spo2"
    AIR_OR_OXYGEN = "air_or_oxygen"
    SYSTOLIC_BP = "systolic_bp"
    PULSE = "pulse"
    CONSCIOUSNESS = "consciousness"
    TEMPERATURE = "temperature"


class Consciousness(enum.StrEnum):
    """ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive."""

    ALERT = "A"
    CONFUSION = "C"
    VOICE = "V"
    PAIN = "P"
    UNRESPONSIVE = "U"


class Risk(enum.StrEnum):
    """The chart's clinical risk from the aggregate score and the single-parameter rule."""

    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


# (upper bound inclusive, points), last band open-ended with upper bound None.
Bands = Sequence[tuple[float | None, int]]
RESPIRATION_BANDS: Bands = ((8, 3), (11, 1), (20, 0), (24, 2), (None, 3))
SPO2_SCALE1_BANDS: Bands = ((91, 3), (93, 2), (95, 1), (None, 0))
# Scale 2 (hypercapnic respiratory failure, prescribed by a clinician): up to 92 the same
# for air and oxygen; from 93 on, 0 on air, and 1/2/3 on oxygen.
SPO2_SCALE2_LOW_BANDS: Bands = ((83, 3), (85, 2), (87, 1), (92, 0))
SPO2_SCALE2_OXYGEN_BANDS: Bands = ((94, 1), (96, 2), (None, 3))
SYSTOLIC_BANDS: Bands = ((90, 3), (100, 2), (110, 1), (219, 0), (None, 3))
PULSE_BANDS: Bands = ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2), (None, 3))
TEMPERATURE_BANDS: Bands = ((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1), (None, 2))
OXYGEN_POINTS = 2
NOT_ALERT_POINTS = 3


def band_points(value: float, bands: Bands) -> int:
    """The points of the first band whose upper bound VALUE does not exceed."""
    for upper, points in bands:
        if upper is None or value <= upper:
            return points
    raise ValueError("bands must end with an open band")


def spo2_points(spo2: float, *, scale: int, on_oxygen: bool | None) -> int:
    """SpO2 points on scale 1 or 2 (scale 2 above 92% needs to know air or oxygen; unknown
    is scored as air, and `air_or_oxygen` is then reported missing)."""
    if scale == 1:
        return band_points(spo2, SPO2_SCALE1_BANDS)
    if scale != 2:
        raise ValueError("SpO2 scale must be 1 or 2")
    if spo2 <= 92:
        return band_points(spo2, SPO2_SCALE2_LOW_BANDS)
    return band_points(spo2, SPO2_SCALE2_OXYGEN_BANDS) if on_oxygen else 0


@dataclass(frozen=True)
class Reading:
    """One parameter's value and when it was measured."""

    value: float
    at: datetime


@dataclass(frozen=True)
class News2Inputs:
    """What is known of the patient; None for what is not."""

    respiration_rate: Reading | None = None
    spo2: Reading | None = None
    on_oxygen: bool | None = None
    on_oxygen_at: datetime | None = None
    systolic_bp: Reading | None = None
    pulse: Reading | None = None
    consciousness: Consciousness | None = None
    consciousness_at: datetime | None = None
    temperature: Reading | None = None
    spo2_scale: int = 1


@dataclass(frozen=True)
class News2Score:
    """The aggregate, each present parameter's points, and what it rests on."""

    total: int
    points: dict[Parameter, int]
    missing: tuple[Parameter, ...]
    stale: tuple[Parameter, ...]
    spo2_scale: int
    risk: Risk
    any_parameter_3: bool
    complete: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "complete", not self.missing)

    @property
    def is_stale(self) -> bool:
        """True when a reading it rests on is older than the configured age."""
        return bool(self.stale)


def clinical_risk(total: int, any_parameter_3: bool) -> Risk:
    """The chart's risk: 7+ high, 5-6 medium, a 3 in one parameter low-medium, else low."""
    if total >= 7:
        return Risk.HIGH
    if total >= 5:
        return Risk.MEDIUM
    if any_parameter_3:
        return Risk.LOW_MEDIUM
    return Risk.LOW


def news2(
    inputs: News2Inputs, *, at: datetime | None = None, max_age: timedelta = DEFAULT_MAX_AGE
) -> News2Score:
    """Score INPUTS; with AT, readings older than MAX_AGE at AT are listed as stale."""
    points: dict[Parameter, int] = {}
    missing: list[Parameter] = []
    stale: list[Parameter] = []

    def seen(parameter: Parameter, when: datetime | None) -> None:
        if at is not None and when is not None and at - when > max_age:
            stale.append(parameter)

    def numeric(parameter: Parameter, reading: Reading | None, bands: Bands) -> None:
        if reading is None:
            missing.append(parameter)
            return
        points[parameter] = band_points(reading.value, bands)
        seen(parameter, reading.at)

    numeric(Parameter.RESPIRATION_RATE, inputs.respiration_rate, RESPIRATION_BANDS)
    if inputs.spo2 is None:
        missing.append(Parameter.SPO2)
    else:
        points[Parameter.SPO2] = spo2_points(
            inputs.spo2.value, scale=inputs.spo2_scale, on_oxygen=inputs.on_oxygen
        )
        seen(Parameter.SPO2, inputs.spo2.at)
    if inputs.on_oxygen is None:
        missing.append(Parameter.AIR_OR_OXYGEN)
    else:
        points[Parameter.AIR_OR_OXYGEN] = OXYGEN_POINTS if inputs.on_oxygen else 0
        seen(Parameter.AIR_OR_OXYGEN, inputs.on_oxygen_at)
    numeric(Parameter.SYSTOLIC_BP, inputs.systolic_bp, SYSTOLIC_BANDS)
    numeric(Parameter.PULSE, inputs.pulse, PULSE_BANDS)
    if inputs.consciousness is None:
        missing.append(Parameter.CONSCIOUSNESS)
    else:
        alert = inputs.consciousness is Consciousness.ALERT
        points[Parameter.CONSCIOUSNESS] = 0 if alert else NOT_ALERT_POINTS
        seen(Parameter.CONSCIOUSNESS, inputs.consciousness_at)
    numeric(Parameter.TEMPERATURE, inputs.temperature, TEMPERATURE_BANDS)

    total = sum(points.values())
    any3 = any(p == 3 for p in points.values())
    return News2Score(
        total=total,
        points=points,
        missing=tuple(missing),
        stale=tuple(stale),
        spo2_scale=inputs.spo2_scale,
        risk=clinical_risk(total, any3),
        any_parameter_3=any3,
    )
