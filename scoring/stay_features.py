"""The deterioration model's features: each hour of a stay, with what came before it.

Pure numpy over hourly rows: `stay_features(hours)` takes one or many stays concatenated
(rows of a stay consecutive, one per hour, in order) and returns one feature row per hour
built from that hour and the earlier hours of the same stay only: the values this hour,
the last value carried forward and the hours since it, rolling means, minima, maxima,
standard deviations and least-squares slopes over 6, 12 and 24 hours, the change from the
stay's own mean so far, shock index, pulse pressure, a partial NEWS2, and age, sex and
hours since monitoring began. The model handles NaN itself; nothing is imputed.

The same function serves training on the challenge's rows and the worker's hourly windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.news2 import (
    PULSE_BANDS,
    RESPIRATION_BANDS,
    SPO2_SCALE1_BANDS,
    SYSTOLIC_BANDS,
    TEMPERATURE_BANDS,
    Bands,
)
from scoring.windows import MODEL_VITALS, Vital

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

SHORT = {
    Vital.HEART_RATE: "hr",
    Vital.SPO2: "spo2",
    Vital.TEMPERATURE: "temp",
    Vital.SYSTOLIC: "sbp",
    Vital.MEAN_PRESSURE: "map",
    Vital.DIASTOLIC: "dbp",
    Vital.RESPIRATION_RATE: "resp",
}
ROLLING_HOURS = (6, 12, 24)
_PER_VITAL = (
    "now",
    "last",
    "hours_since",
    "count_24h",
    "mean_stay",
    "change_from_stay_mean",
    *(f"{stat}_{h}h" for h in ROLLING_HOURS for stat in ("mean", "min", "max", "sd", "slope")),
)
_DERIVED = ("shock_index", "pulse_pressure", "news2_partial", "age", "sex", "hours_monitored")
FEATURE_NAMES: tuple[str, ...] = (
    *(f"{SHORT[v]}_{stat}" for v in MODEL_VITALS for stat in _PER_VITAL),
    *_DERIVED,
)


@dataclass(frozen=True)
class StayRows:
    """Hourly rows: `values[:, j]` is MODEL_VITALS[j] (NaN when not measured that hour);
    `position` the hour's index within its stay (0 for the first); `age` in years, `sex`
    1 male 0 female (NaN unknown), `hours_monitored` since monitoring began (ICULOS)."""

    values: Floats
    position: Ints
    age: Floats
    sex: Floats
    hours_monitored: Floats

    def __post_init__(self) -> None:
        n = self.values.shape[0]
        if self.values.shape != (n, len(MODEL_VITALS)):
            raise ValueError(f"values must have {len(MODEL_VITALS)} columns")
        for name in ("position", "age", "sex", "hours_monitored"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"{name} must have one value per row")


def _lagged(x: Floats, position: Ints, k: int) -> Floats:
    """X shifted K rows down within each stay (NaN where the stay has no row K hours back)."""
    if k == 0:
        return x
    out = np.full_like(x, np.nan)
    out[k:] = x[:-k]
    out[position < k] = np.nan
    return out


def carried_forward(x: Floats, position: Ints) -> tuple[Floats, Floats]:
    """The last value so far in the stay, and the hours since it (NaN before the first)."""
    index = np.arange(x.shape[0])
    seen = np.where(np.isnan(x), -1, index)
    last = np.maximum.accumulate(seen) if x.shape[0] else seen
    valid = last >= index - position
    safe = np.where(valid, last, 0)
    value = np.where(valid, x[safe], np.nan)
    hours = np.where(valid, (index - safe).astype(np.float64), np.nan)
    return value, hours


def _stay_mean(x: Floats, position: Ints) -> Floats:
    """The mean of the stay's measured values so far (NaN before the first)."""
    index = np.arange(x.shape[0])
    start = index - position
    measured = ~np.isnan(x)
    sums = np.concatenate([[0.0], np.cumsum(np.where(measured, x, 0.0))])
    counts = np.concatenate([[0.0], np.cumsum(measured.astype(np.float64))])
    total = sums[index + 1] - sums[start]
    n = counts[index + 1] - counts[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


def _rolling(x: Floats, position: Ints) -> dict[str, Floats]:
    """Mean, min, max, sd and slope (per hour) over the last 6, 12 and 24 hours."""
    n = x.shape[0]
    count, total, squares = np.zeros(n), np.zeros(n), np.zeros(n)
    t_sum, tt_sum, tv_sum = np.zeros(n), np.zeros(n), np.zeros(n)
    low, high = np.full(n, np.nan), np.full(n, np.nan)
    out: dict[str, Floats] = {}
    for k in range(max(ROLLING_HOURS)):
        lag = _lagged(x, position, k)
        measured = ~np.isnan(lag)
        v = np.where(measured, lag, 0.0)
        t = np.where(measured, -float(k), 0.0)
        count += measured
        total += v
        squares += v * v
        t_sum += t
        tt_sum += t * t
        tv_sum += t * v
        low = np.fmin(low, lag)
        high = np.fmax(high, lag)
        hours = k + 1
        if hours in ROLLING_HOURS:
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(count > 0, total / count, np.nan)
                var = np.where(count > 0, squares / count - mean * mean, np.nan)
                sxx = tt_sum - t_sum * t_sum / np.maximum(count, 1)
                sxy = tv_sum - t_sum * total / np.maximum(count, 1)
                slope = np.where((count >= 2) & (sxx > 1e-9), sxy / sxx, np.nan)
            out[f"mean_{hours}h"] = mean
            out[f"min_{hours}h"] = low.copy()
            out[f"max_{hours}h"] = high.copy()
            out[f"sd_{hours}h"] = np.sqrt(np.maximum(var, 0.0))
            out[f"slope_{hours}h"] = slope
            if hours == 24:
                out["count_24h"] = count.copy()
    return out


def band_points_array(x: Floats, bands: Bands) -> Floats:
    """NEWS2 band points of each value of X (NaN stays NaN), the same bands as `news2`."""
    uppers = np.array([u for u, _ in bands[:-1]], dtype=np.float64)
    points = np.array([p for _, p in bands], dtype=np.float64)
    found = points[np.searchsorted(uppers, np.nan_to_num(x, nan=0.0), side="left")]
    return np.where(np.isnan(x), np.nan, found)


def partial_news2(last: dict[Vital, Floats]) -> Floats:
    """NEWS2 over the vitals carried forward, scale 1, parameters absent counted 0
    (no consciousness, no air/oxygen): a feature, not the score shown to people."""
    parts = [
        band_points_array(last[Vital.RESPIRATION_RATE], RESPIRATION_BANDS),
        band_points_array(last[Vital.SPO2], SPO2_SCALE1_BANDS),
        band_points_array(last[Vital.SYSTOLIC], SYSTOLIC_BANDS),
        band_points_array(last[Vital.HEART_RATE], PULSE_BANDS),
        band_points_array(last[Vital.TEMPERATURE], TEMPERATURE_BANDS),
    ]
    return np.asarray(np.nansum(np.vstack(parts), axis=0), dtype=np.float64)


def stay_features(rows: StayRows) -> Floats:
    """The feature matrix of ROWS, columns in FEATURE_NAMES' order."""
    columns: list[Floats] = []
    last: dict[Vital, Floats] = {}
    for j, vital in enumerate(MODEL_VITALS):
        x = np.ascontiguousarray(rows.values[:, j], dtype=np.float64)
        carried, since = carried_forward(x, rows.position)
        last[vital] = carried
        mean_stay = _stay_mean(x, rows.position)
        rolling = _rolling(x, rows.position)
        per_vital = {
            "now": x,
            "last": carried,
            "hours_since": since,
            "mean_stay": mean_stay,
            "change_from_stay_mean": carried - mean_stay,
            **rolling,
        }
        columns += [per_vital[name] for name in _PER_VITAL]
    with np.errstate(invalid="ignore", divide="ignore"):
        shock = last[Vital.HEART_RATE] / last[Vital.SYSTOLIC]
    columns += [
        np.where(np.isfinite(shock), shock, np.nan),
        last[Vital.SYSTOLIC] - last[Vital.DIASTOLIC],
        partial_news2(last),
        rows.age.astype(np.float64),
        rows.sex.astype(np.float64),
        rows.hours_monitored.astype(np.float64),
    ]
    return np.column_stack(columns) if columns else np.empty((0, len(FEATURE_NAMES)))
