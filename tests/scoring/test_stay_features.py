"""The model's features over real set-A stays, checked against a plain recomputation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scoring.challenge_news2 import news2_of_row, news2_of_rows
from scoring.physionet import PsvError, read_challenge_psv
from scoring.stay_features import FEATURE_NAMES, StayRows, stay_features


def test_features_use_only_the_past_and_match_a_plain_recomputation(setA_excerpt: Path) -> None:
    data = read_challenge_psv(setA_excerpt)
    x = stay_features(data.rows)
    assert x.shape == (len(data.patients), len(FEATURE_NAMES))
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    rng = np.random.default_rng(1)
    for i in rng.choice(len(data.patients), 200, replace=False):
        start = i - data.rows.position[i]
        hr = data.rows.values[start : i + 1, 0]
        seen = [v for v in hr if not math.isnan(v)]
        last12 = [v for v in hr[-12:] if not math.isnan(v)]
        if seen:
            assert x[i, col["hr_last"]] == seen[-1]
            assert x[i, col["hr_mean_stay"]] == pytest.approx(np.mean(seen))
        else:
            assert math.isnan(x[i, col["hr_last"]])
        if last12:
            assert x[i, col["hr_max_12h"]] == max(last12)
            assert x[i, col["hr_mean_12h"]] == pytest.approx(np.mean(last12))
            assert x[i, col["hr_sd_12h"]] == pytest.approx(np.std(last12), abs=1e-6)
        hours = [t for t, v in enumerate(hr[-6:]) if not math.isnan(v)]
        values = [v for v in hr[-6:] if not math.isnan(v)]
        if len(hours) >= 2:
            assert x[i, col["hr_slope_6h"]] == pytest.approx(np.polyfit(hours, values, 1)[0])
        assert x[i, col["hours_monitored"]] == data.rows.hours_monitored[i]
    # Changing a stay's later hours leaves its earlier features as they were.
    changed = data.rows.values.copy()
    changed[10:, :] += 50.0
    later = stay_features(
        StayRows(
            changed, data.rows.position, data.rows.age, data.rows.sex, data.rows.hours_monitored
        )
    )
    first_stay_end = int(np.argmax(data.rows.position[1:] == 0)) + 1
    assert first_stay_end > 10
    np.testing.assert_array_equal(later[:10], x[:10])


def test_vectorised_news2_equals_the_pure_function(setA_excerpt: Path) -> None:
    data = read_challenge_psv(setA_excerpt)
    totals = news2_of_rows(data)
    for i in range(0, len(data.patients), 7):
        assert totals[i] == news2_of_row(data, i)
    assert totals.max() >= 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("patient,HR,O2Sat\np1,80,97\n", "not pipe-separated"),
        ("patient|HR|O2Sat\np1|80|97\n", "missing columns: Temp"),
        ("patient|HR|O2Sat|Temp|SBP|MAP|DBP|Resp|Age|Gender|ICULOS\n", "no data rows"),
        ("patient|HR|O2Sat|Temp|SBP|MAP|DBP|Resp|Age|Gender|ICULOS\np1|80|x|1|1|1|1|1|1|1|1\n", "not 11 numbers"),
    ],
)  # fmt: skip
def test_bad_files_get_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.psv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PsvError, match=message):
        read_challenge_psv(path)
