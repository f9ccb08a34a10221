"""A virtual patient's true vitals over time: baseline, circadian swing, drift, episodes (pure).

Deterioration episodes raise heart rate and temperature and lower SpO2 and blood pressure,
so the scoring work has something to find; `simulator` adds the devices' noise and bytes.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Episode:
    """A deterioration: ramps in over a third of its length, holds, then recovers."""

    start: datetime
    duration: timedelta
    severity: float = 1.0  # 1.0: HR +35/min, SpO2 -7 %, temp +1.8 C, SBP -25 mmHg


@dataclass(frozen=True, slots=True)
class Physiology:
    """A patient's baseline vitals and episodes."""

    heart_rate_bpm: float = 72.0
    spo2_pct: float = 97.0
    systolic_mmhg: float = 124.0
    diastolic_mmhg: float = 79.0
    temperature_c: float = 36.8
    weight_kg: float = 78.0
    height_m: float = 1.74
    glucose_mg_dl: float = 105.0
    episodes: tuple[Episode, ...] = ()


@dataclass(frozen=True, slots=True)
class Vitals:
    """The true vitals at one instant (before device noise)."""

    heart_rate_bpm: float
    spo2_pct: float
    systolic_mmhg: float
    diastolic_mmhg: float
    temperature_c: float
    weight_kg: float
    glucose_mg_dl: float


def _episode_level(episodes: Sequence[Episode], moment: datetime) -> float:
    level = 0.0
    for episode in episodes:
        elapsed = (moment - episode.start).total_seconds()
        total = episode.duration.total_seconds()
        if not 0 <= elapsed <= total or total <= 0:
            continue
        ramp = total / 3
        if elapsed < ramp:
            share = elapsed / ramp
        elif elapsed > total - ramp:
            share = (total - elapsed) / ramp
        else:
            share = 1.0
        level = max(level, share * episode.severity)
    return level


@functools.lru_cache(maxsize=256)
def _phases(seed: int) -> tuple[float, ...]:
    rng = random.Random(seed)
    return tuple(rng.uniform(0, 2 * math.pi) for _ in range(6))


def vitals_at(physiology: Physiology, moment: datetime, seed: int) -> Vitals:
    """True vitals at an instant: baseline, circadian swing, smooth drift and episodes."""
    t = moment.timestamp()
    day_phase = 2 * math.pi * ((t / 86400.0) % 1.0)
    circadian = math.sin(day_phase - 2.0)  # lowest in the small hours
    phases = _phases(seed)
    drift = [
        math.sin(t / 1700.0 + phases[i]) * 0.6 + math.sin(t / 430.0 + phases[i + 3]) * 0.4
        for i in range(3)
    ]
    level = _episode_level(physiology.episodes, moment)
    return Vitals(
        heart_rate_bpm=physiology.heart_rate_bpm + 6 * circadian + 4 * drift[0] + 35 * level,
        spo2_pct=min(100.0, physiology.spo2_pct + 0.8 * drift[1] - 7 * level),
        systolic_mmhg=physiology.systolic_mmhg + 7 * circadian + 5 * drift[2] - 25 * level,
        diastolic_mmhg=physiology.diastolic_mmhg + 4 * circadian + 3 * drift[2] - 12 * level,
        temperature_c=physiology.temperature_c + 0.3 * circadian + 0.1 * drift[1] + 1.8 * level,
        weight_kg=physiology.weight_kg + 0.4 * circadian,
        glucose_mg_dl=physiology.glucose_mg_dl
        + 20 * max(0.0, math.sin(day_phase * 3))
        + 8 * drift[0],
    )
