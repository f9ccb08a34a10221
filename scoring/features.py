"""Features of one window: per vital last, min, max, mean, slope, variability, time since last.

Pure. A vital with no sample in the window is listed in `missing` and has no features:
nothing is imputed in what is shown. `news2_inputs` turns a window and the latest set into
NEWS2's inputs (the window's last reading of each parameter; FiO2 above 21% as oxygen).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from scoring.news2 import News2Inputs, Reading
from scoring.windows import MODEL_VITALS, Vital, VitalSample, Window

ROOM_AIR_FIO2_PERCENT = 21.0


@dataclass(frozen=True)
class VitalFeatures:
    """One vital over one window. `slope_per_h` is the least-squares slope (None for fewer
    than two distinct times); `sd` the population standard deviation."""

    vital: Vital
    count: int
    last: float
    last_at: datetime
    minimum: float
    maximum: float
    mean: float
    slope_per_h: float | None
    sd: float
    seconds_since_last: float


@dataclass(frozen=True)
class WindowFeatures:
    """The features of every vital present, and the vitals expected but absent."""

    patient: str
    start: datetime
    end: datetime
    vitals: Mapping[Vital, VitalFeatures]
    missing: tuple[Vital, ...]
    sources: tuple[str, ...]


def vital_features(vital: Vital, samples: Sequence[VitalSample], end: datetime) -> VitalFeatures:
    """The features of SAMPLES (one vital, at least one sample) for a window ending at END."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    values = [s.value for s in ordered]
    n = len(values)
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / n)
    origin = ordered[0].at
    hours = [(s.at - origin).total_seconds() / 3600.0 for s in ordered]
    mean_t = math.fsum(hours) / n
    sxx = math.fsum((t - mean_t) ** 2 for t in hours)
    slope = (
        math.fsum((t - mean_t) * (v - mean) for t, v in zip(hours, values, strict=True)) / sxx
        if sxx > 0
        else None
    )
    last = ordered[-1]
    return VitalFeatures(
        vital=vital,
        count=n,
        last=last.value,
        last_at=last.at,
        minimum=min(values),
        maximum=max(values),
        mean=mean,
        slope_per_h=slope,
        sd=sd,
        seconds_since_last=max(0.0, (end - last.at).total_seconds()),
    )


def window_features(window: Window, expected: Sequence[Vital] = MODEL_VITALS) -> WindowFeatures:
    """The features of WINDOW; vitals of EXPECTED with no sample are `missing`."""
    by_vital: dict[Vital, list[VitalSample]] = {}
    for sample in window.samples:
        by_vital.setdefault(sample.vital, []).append(sample)
    vitals = {v: vital_features(v, s, window.end) for v, s in sorted(by_vital.items())}
    return WindowFeatures(
        patient=window.patient,
        start=window.start,
        end=window.end,
        vitals=vitals,
        missing=tuple(v for v in expected if v not in vitals),
        sources=window.sources,
    )


def on_oxygen(fio2_percent: float) -> bool:
    """Supplemental oxygen: inspired oxygen above room air's 21% (a fraction <= 1 is read as
    a fraction)."""
    percent = fio2_percent * 100 if fio2_percent <= 1 else fio2_percent
    return percent > ROOM_AIR_FIO2_PERCENT


def news2_inputs(latest: Mapping[Vital, VitalSample], spo2_scale: int = 1) -> News2Inputs:
    """NEWS2's inputs from each vital's newest sample (consciousness is not measured by
    devices, so it stays missing)."""

    def reading(vital: Vital) -> Reading | None:
        sample = latest.get(vital)
        return None if sample is None else Reading(sample.value, sample.at)

    fio2 = latest.get(Vital.FIO2)
    return News2Inputs(
        respiration_rate=reading(Vital.RESPIRATION_RATE),
        spo2=reading(Vital.SPO2),
        on_oxygen=None if fio2 is None else on_oxygen(fio2.value),
        on_oxygen_at=None if fio2 is None else fio2.at,
        systolic_bp=reading(Vital.SYSTOLIC),
        pulse=reading(Vital.HEART_RATE),
        temperature=reading(Vital.TEMPERATURE),
        spo2_scale=spo2_scale,
    )


def hourly_means(windows: Iterable[WindowFeatures]) -> list[list[float]]:
    """One row per window of the model's vitals' means, NaN where a vital is missing: the
    layout of the challenge's hourly rows (the model handles NaN itself)."""
    return [
        [w.vitals[v].mean if v in w.vitals else math.nan for v in MODEL_VITALS] for w in windows
    ]
