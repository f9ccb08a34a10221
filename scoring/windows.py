"""Vital-sign samples out of FHIR Observations, and the windows they are scored in.

Pure: `samples_from_observation(json)` reads the R4 vital-signs profiles (DESIGN.md's
LOINC codes; a blood-pressure panel gives its components; `dataAbsentReason` gives no
sample), `tumbling_windows(samples)` groups them into fixed windows (default one hour,
aligned to the hour), and `latest_complete_set(samples)` is each vital's newest reading.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

LOINC = "http://loinc.org"
DEFAULT_WIDTH = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Vital(enum.StrEnum):
    """The vitals scored, with the order the model's hourly matrix uses for the first seven."""

    HEART_RATE = "heart_rate"
    SPO2 = "spo2"
    TEMPERATURE = "temperature"
    SYSTOLIC = "systolic"
    MEAN_PRESSURE = "mean_pressure"
    DIASTOLIC = "diastolic"
    RESPIRATION_RATE = "respiration_rate"
    WEIGHT = "weight"
    GLUCOSE = "glucose"
    FIO2 = "fio2"


MODEL_VITALS: tuple[Vital, ...] = tuple(Vital)[:7]
"""The vitals of the deterioration model, in the order of the challenge's columns."""

LOINC_VITALS: Mapping[str, Vital] = {
    "8867-4": Vital.HEART_RATE,
    "59408-5": Vital.SPO2,
    "2708-6": Vital.SPO2,
    "8310-5": Vital.TEMPERATURE,
    "8480-6": Vital.SYSTOLIC,
    "8478-0": Vital.MEAN_PRESSURE,
    "8462-4": Vital.DIASTOLIC,
    "9279-1": Vital.RESPIRATION_RATE,
    "29463-7": Vital.WEIGHT,
    "2339-0": Vital.GLUCOSE,
    "3150-0": Vital.FIO2,  # Inhaled oxygen concentration (%): above 21 means oxygen
}
BLOOD_PRESSURE_PANEL = "85354-9"

DISPLAY: Mapping[Vital, str] = {
    Vital.HEART_RATE: "heart rate",
    Vital.SPO2: "SpO2",
    Vital.TEMPERATURE: "temperature",
    Vital.SYSTOLIC: "systolic pressure",
    Vital.MEAN_PRESSURE: "mean pressure",
    Vital.DIASTOLIC: "diastolic pressure",
    Vital.RESPIRATION_RATE: "respiratory rate",
    Vital.WEIGHT: "weight",
    Vital.GLUCOSE: "glucose",
    Vital.FIO2: "inspired oxygen",
}


@dataclass(frozen=True, order=True)
class VitalSample:
    """One value of one vital at one time, and the Observation it came from."""

    at: datetime
    vital: Vital
    value: float
    source: str
    """`Observation/<id>`."""


@dataclass(frozen=True)
class Window:
    """The samples of one patient in [start, end)."""

    patient: str
    start: datetime
    end: datetime
    samples: tuple[VitalSample, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        """The Observations the window rests on, each once, in first-seen order."""
        return tuple(dict.fromkeys(s.source for s in self.samples))


def parse_instant(text: str) -> datetime:
    """A FHIR dateTime/instant with a zone; a date alone is its midnight UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _codes(concept: Any) -> list[str]:
    if not isinstance(concept, dict):
        return []
    codings = concept.get("coding")
    return [
        str(c.get("code"))
        for c in (codings if isinstance(codings, list) else [])
        if isinstance(c, dict) and c.get("system") == LOINC
    ]


def _vital(concept: Any) -> Vital | None:
    return next((LOINC_VITALS[c] for c in _codes(concept) if c in LOINC_VITALS), None)


def _number(element: Mapping[str, Any]) -> float | None:
    if "dataAbsentReason" in element:
        return None
    quantity = element.get("valueQuantity")
    if not isinstance(quantity, dict):
        return None
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def observation_time(resource: Mapping[str, Any]) -> datetime | None:
    """`effectiveDateTime`, else the start of `effectivePeriod` (a summary's first minute)."""
    when = resource.get("effectiveDateTime") or resource.get("effectiveInstant")
    if not when:
        period = resource.get("effectivePeriod")
        when = period.get("start") if isinstance(period, dict) else None
    return parse_instant(str(when)) if when else None


def samples_from_observation(resource: Mapping[str, Any]) -> list[VitalSample]:
    """The vital samples of one Observation's JSON (none for other codes, absent values,
    a status other than final/amended/corrected, or no time)."""
    if resource.get("status") not in ("final", "amended", "corrected", "preliminary"):
        return []
    at = observation_time(resource)
    if at is None:
        return []
    source = f"Observation/{resource.get('id', '')}"
    code = resource.get("code")
    if BLOOD_PRESSURE_PANEL in _codes(code):
        found = []
        components = resource.get("component")
        for component in components if isinstance(components, list) else []:
            vital = _vital(component.get("code")) if isinstance(component, dict) else None
            value = _number(component) if vital is not None else None
            if vital is not None and value is not None:
                found.append(VitalSample(at, vital, value, source))
        return found
    vital = _vital(code)
    value = _number(resource) if vital is not None else None
    return [] if vital is None or value is None else [VitalSample(at, vital, value, source)]


def window_start(moment: datetime, width: timedelta = DEFAULT_WIDTH) -> datetime:
    """The start of the tumbling window holding MOMENT (windows aligned to the epoch)."""
    steps = (moment - EPOCH) // width
    return EPOCH + steps * width


def tumbling_windows(
    patient: str, samples: Iterable[VitalSample], width: timedelta = DEFAULT_WIDTH
) -> list[Window]:
    """PATIENT's samples in consecutive [start, start + WIDTH) windows, oldest first; only
    windows that hold a sample."""
    groups: dict[datetime, list[VitalSample]] = {}
    for sample in samples:
        groups.setdefault(window_start(sample.at, width), []).append(sample)
    return [
        Window(patient, start, start + width, tuple(sorted(groups[start])))
        for start in sorted(groups)
    ]


def latest_complete_set(
    samples: Iterable[VitalSample], vitals: Sequence[Vital] = MODEL_VITALS
) -> dict[Vital, VitalSample]:
    """The newest sample of each of VITALS (those never seen are absent from the result)."""
    latest: dict[Vital, VitalSample] = {}
    for sample in samples:
        if sample.vital in vitals:
            seen = latest.get(sample.vital)
            if seen is None or sample.at >= seen.at:
                latest[sample.vital] = sample
    return latest


def latest_sets_before(
    samples: Iterable[VitalSample], ends: Sequence[datetime], vitals: Sequence[Vital] = MODEL_VITALS
) -> list[dict[Vital, VitalSample]]:
    """For each of ENDS (ascending), `latest_complete_set` of the samples before it: one pass
    over the samples, not one per end (a stable sort keeps the later of two readings taken
    at one instant, as `latest_complete_set` does)."""
    in_time = sorted(samples, key=lambda s: s.at)
    latest: dict[Vital, VitalSample] = {}
    sets: list[dict[Vital, VitalSample]] = []
    seen = 0
    for end in ends:
        before = bisect_left(in_time, end, lo=seen, key=lambda s: s.at)
        latest.update(latest_complete_set(in_time[seen:before], vitals))
        seen = before
        sets.append(dict(latest))
    return sets
