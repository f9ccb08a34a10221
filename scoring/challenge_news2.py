"""NEWS2 on the challenge's hourly rows, the baseline the model is judged against.

Each row's NEWS2 is `scoring.news2.news2` over the values carried forward in the stay so
far: respiratory rate, SpO2 (scale 1), systolic pressure, pulse and temperature, with
FiO2 above 0.21 counted as supplemental oxygen (no FiO2 recorded yet: air). The challenge
has no consciousness level, so it is missing, as it is at home. Absent parameters add 0.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from scoring.news2 import (
    OXYGEN_POINTS,
    PULSE_BANDS,
    RESPIRATION_BANDS,
    SPO2_SCALE1_BANDS,
    SYSTOLIC_BANDS,
    TEMPERATURE_BANDS,
    News2Inputs,
    Reading,
    news2,
)
from scoring.physionet import ChallengeRows
from scoring.stay_features import Floats, band_points_array, carried_forward

_AT = datetime(2000, 1, 1, tzinfo=UTC)  # readings have no clock time here; staleness unused
ROOM_AIR_FIO2 = 0.21


def news2_of_rows(data: ChallengeRows) -> Floats:
    """The NEWS2 total of each row of DATA (vectorised `news2` bands; the tests check it
    against `news2` row by row)."""
    position = data.rows.position
    hr, spo2, temp, sbp, _, _, resp = (
        carried_forward(np.ascontiguousarray(data.rows.values[:, j]), position)[0] for j in range(7)
    )
    fio2 = carried_forward(np.ascontiguousarray(data.fio2), position)[0]
    parts = [
        band_points_array(resp, RESPIRATION_BANDS),
        band_points_array(spo2, SPO2_SCALE1_BANDS),
        band_points_array(sbp, SYSTOLIC_BANDS),
        band_points_array(hr, PULSE_BANDS),
        band_points_array(temp, TEMPERATURE_BANDS),
        np.where(np.nan_to_num(fio2, nan=0.0) > ROOM_AIR_FIO2, float(OXYGEN_POINTS), 0.0),
    ]
    return np.asarray(np.nansum(np.vstack(parts), axis=0), dtype=np.float64)


def news2_of_row(data: ChallengeRows, i: int) -> int:
    """Row I's NEWS2 through `scoring.news2.news2` itself (slow: for checks)."""
    position = data.rows.position
    stay = slice(int(i - position[i]), i + 1)
    sub = position[stay] - position[stay][0]

    def last(x: Floats) -> float:
        return float(carried_forward(np.ascontiguousarray(x[stay]), sub)[0][-1])

    def reading(value: float) -> Reading | None:
        return None if np.isnan(value) else Reading(value, _AT)

    values = data.rows.values
    fio2 = last(data.fio2)
    inputs = News2Inputs(
        respiration_rate=reading(last(values[:, 6])),
        spo2=reading(last(values[:, 1])),
        on_oxygen=bool(fio2 > ROOM_AIR_FIO2) if not np.isnan(fio2) else False,
        systolic_bp=reading(last(values[:, 3])),
        pulse=reading(last(values[:, 0])),
        temperature=reading(last(values[:, 2])),
    )
    return news2(inputs).total
