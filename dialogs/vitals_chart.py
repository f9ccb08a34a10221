"""The 7-day vitals trend chart, rendered on the server as a PNG (matplotlib, Agg).

Uses `matplotlib.figure.Figure` with the Agg canvas directly, never pyplot, so no global
state is shared between concurrent renders; callers run it in a worker thread.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import UTC, datetime

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from dialogs.base import Language
from dialogs.triage import VitalKind, VitalReading

TITLES: dict[VitalKind, dict[Language, str]] = {
    VitalKind.SPO2: {"en": "Oxygen level (%)", "fr": "Oxygène (%)"},
    VitalKind.HEART_RATE: {"en": "Heart rate (/min)", "fr": "Pouls (/min)"},
    VitalKind.SYSTOLIC_BP: {"en": "Blood pressure (mmHg)", "fr": "Tension (mmHg)"},
    VitalKind.TEMPERATURE: {"en": "Temperature (°C)", "fr": "Température (°C)"},
    VitalKind.RESPIRATORY_RATE: {"en": "Breathing rate (/min)", "fr": "Respiration (/min)"},
    VitalKind.GLUCOSE: {"en": "Blood sugar (mg/dL)", "fr": "Glycémie (mg/dL)"},
}
# Shaded normal ranges: NEWS2 zero-score bands (RCP 2017); glucose 70-180 mg/dL is the
# ADA 2024 time-in-range target.
NORMAL: dict[VitalKind, tuple[float, float]] = {
    VitalKind.SPO2: (96, 100),
    VitalKind.HEART_RATE: (51, 90),
    VitalKind.SYSTOLIC_BP: (111, 219),
    VitalKind.TEMPERATURE: (36.1, 38.0),
    VitalKind.RESPIRATORY_RATE: (12, 20),
    VitalKind.GLUCOSE: (70, 180),
}
_PANELS = tuple(TITLES)


def _series(readings: Sequence[VitalReading], kind: VitalKind) -> tuple[list[float], list[float]]:
    """Times as days since 1970 (matplotlib's date numbers) and values, oldest first."""
    points = sorted(
        (r.time.timestamp() / 86400, r.value)
        for r in readings
        if r.kind is kind and r.time is not None
    )
    return [t for t, _ in points], [v for _, v in points]


def _day_label(x: float, _pos: int | None) -> str:
    return datetime.fromtimestamp(x * 86400, UTC).strftime("%d/%m")


def render_trend_png(readings: Sequence[VitalReading], language: Language) -> bytes:
    """One small panel per vital sign present, with its normal range shaded."""
    kinds = [k for k in _PANELS if any(r.kind is k and r.time for r in readings)]
    rows = max(1, (len(kinds) + 1) // 2)
    figure = Figure(figsize=(8, 2.4 * rows), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)
    for index, kind in enumerate(kinds):
        axes = figure.add_subplot(rows, 2 if len(kinds) > 1 else 1, index + 1)
        low, high = NORMAL[kind]
        axes.axhspan(low, high, color="#d8f0d8", zorder=0)
        times, values = _series(readings, kind)
        axes.plot(times, values, marker="o", markersize=3, linewidth=1.2, color="#1f5fa8")
        if kind is VitalKind.SYSTOLIC_BP:
            d_times, d_values = _series(readings, VitalKind.DIASTOLIC_BP)
            axes.plot(d_times, d_values, marker="o", markersize=3, linewidth=1.2, color="#8a4fbf")
        axes.set_title(TITLES[kind][language], fontsize=10)
        axes.xaxis.set_major_formatter(FuncFormatter(_day_label))
        axes.tick_params(labelsize=8)
        axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """A data: URI for an Adaptive Card Image."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
