"""The 7-day vitals trend chart, rendered on the server as a PNG or SVG (matplotlib, Agg).

Uses `matplotlib.figure.Figure` with the Agg canvas directly, never pyplot, so no global
state is shared between concurrent renders; callers run it in a worker thread. One panel a
vital, stacked in one column, drawn at twice the pixels it is shown at, so that it stays
legible on a phone; the shaded normal range is `dialogs.vitals_bands.normal_range`, the one
the text and the message use; times are local (the deployment's zone).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from dialogs.base import Language
from dialogs.triage import VitalKind, VitalReading
from dialogs.triage.knowledge_base import Knowledge
from dialogs.vitals_bands import NormalRange, normal_range, shown

TITLES: dict[VitalKind, dict[Language, str]] = {
    VitalKind.SPO2: {"en": "Oxygen level (%)", "fr": "Oxygène (%)"},
    VitalKind.HEART_RATE: {"en": "Heart rate (/min)", "fr": "Pouls (/min)"},
    VitalKind.SYSTOLIC_BP: {"en": "Blood pressure (mmHg)", "fr": "Tension (mmHg)"},
    VitalKind.TEMPERATURE: {"en": "Temperature (°C)", "fr": "Température (°C)"},
    VitalKind.RESPIRATORY_RATE: {"en": "Breathing rate (/min)", "fr": "Respiration (/min)"},
    VitalKind.GLUCOSE: {"en": "Blood sugar (mg/dL)", "fr": "Glycémie (mg/dL)"},
    VitalKind.WEIGHT: {"en": "Weight (kg)", "fr": "Poids (kg)"},
}
LEGEND: dict[str, dict[Language, str]] = {
    "normal": {"en": "normal range", "fr": "normale"},
    "systolic": {"en": "systolic", "fr": "systolique"},
    "diastolic": {"en": "diastolic", "fr": "diastolique"},
    "reading": {"en": "reading", "fr": "mesure"},
    "diastolic_limit": {"en": "diastolic limit", "fr": "limite diastolique"},
}
_PANELS = tuple(TITLES)
_NORMAL_COLOUR, _LINE, _SECOND = "#cdebcd", "#1f5fa8", "#8a4fbf"


def _series(readings: Sequence[VitalReading], kind: VitalKind) -> tuple[list[float], list[float]]:
    """Times and values (as shown to the patient), oldest first."""
    points = sorted(
        (r.time, shown(r).value) for r in readings if r.kind is kind and r.time is not None
    )
    return _days([t for t, _ in points]), [v for _, v in points]


def _days(times: list[datetime]) -> list[float]:
    """Matplotlib's date numbers (days since 1970) of TIMES."""
    return [float(date2num(t)) for t in times]  # type: ignore[no-untyped-call]


def _shade(axes: Axes, span: NormalRange, values: list[float], label: str) -> None:
    low = span.above if span.above is not None else min(values) - 5
    high = span.below if span.below is not None else max(values) + 5
    axes.axhspan(low, high, color=_NORMAL_COLOUR, zorder=0, label=label)


def _render(
    readings: Sequence[VitalReading], language: Language, knowledge: Knowledge, zone: tzinfo,
    form: str,
) -> bytes:  # fmt: skip
    buffer = io.BytesIO()
    trend_figure(readings, language, knowledge, zone).savefig(buffer, format=form)
    return buffer.getvalue()


def render_trend_png(
    readings: Sequence[VitalReading], language: Language, knowledge: Knowledge, zone: tzinfo = UTC
) -> bytes:
    """The trend figure as PNG bytes."""
    return _render(readings, language, knowledge, zone, "png")


def render_trend_svg(
    readings: Sequence[VitalReading], language: Language, knowledge: Knowledge, zone: tzinfo = UTC
) -> str:
    """The same trend figure as an inline SVG element (for server-rendered pages)."""
    text = _render(readings, language, knowledge, zone, "svg").decode("utf-8")
    return text[text.index("<svg") :]  # without the XML prolog and doctype


def trend_figure(
    readings: Sequence[VitalReading],
    language: Language,
    knowledge: Knowledge,
    zone: tzinfo = UTC,
) -> Figure:
    """One panel per vital sign present, its normal range shaded, with a legend."""
    kinds = [k for k in _PANELS if any(r.kind is k and r.time for r in readings)]
    figure = Figure(figsize=(6, 2.3 * max(1, len(kinds))), dpi=130, layout="constrained")
    FigureCanvasAgg(figure)
    for index, kind in enumerate(kinds):
        axes = figure.add_subplot(max(1, len(kinds)), 1, index + 1)
        times, values = _series(readings, kind)
        if kind is not VitalKind.WEIGHT:
            _shade(axes, normal_range(kind, knowledge), values, LEGEND["normal"][language])
        label = LEGEND["systolic" if kind is VitalKind.SYSTOLIC_BP else "reading"][language]
        axes.plot(
            times, values, marker="o", markersize=3, linewidth=1.4, color=_LINE,
            label=label,
        )  # fmt: skip
        if kind is VitalKind.SYSTOLIC_BP:
            d_times, d_values = _series(readings, VitalKind.DIASTOLIC_BP)
            axes.plot(
                d_times, d_values, marker="s", markersize=3, linewidth=1.4,
                color=_SECOND, label=LEGEND["diastolic"][language],
            )  # fmt: skip
            limit = normal_range(VitalKind.DIASTOLIC_BP, knowledge).below
            if limit is not None:
                axes.axhline(
                    limit, color=_SECOND, linestyle="--", linewidth=0.9,
                    label=LEGEND["diastolic_limit"][language],
                )  # fmt: skip
        axes.set_title(TITLES[kind][language], fontsize=11, loc="left")
        locator = AutoDateLocator(tz=zone, minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(locator)
        # concise labels: each day once, the month only where it changes
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=zone))  # type: ignore[no-untyped-call]
        axes.tick_params(labelsize=9)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8, loc="best", framealpha=0.8)
    return figure


def png_data_uri(png: bytes) -> str:
    """A data: URI for an Adaptive Card Image."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
