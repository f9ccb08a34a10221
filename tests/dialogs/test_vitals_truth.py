"""My vitals tells one truth: the text, the chart's shaded band and the "outside the normal
range" message are checked against each other for every vital, across its whole range."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from matplotlib.patches import Polygon, Rectangle

from dialogs.fhir_evidence import device_label
from dialogs.triage import VitalKind, VitalReading
from dialogs.triage.knowledge_base import load_knowledge
from dialogs.vitals_bands import DECIMALS, normal_range, shown
from dialogs.vitals_chart import trend_figure
from dialogs.vitals_dialog import describe_latest, outside_summary
from tests.triage.driver import (
    ALICE,
    FakeBooking,
    FakeRecorder,
    FakeVitalsSource,
    service_conversation,
)

KB = load_knowledge()
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
JUDGED = [k for k in VitalKind if k is not VitalKind.WEIGHT]


def _shaded(kind: VitalKind, value: float) -> tuple[float, float]:
    """The y-limits of the normal-range shading the chart draws for one reading of KIND."""
    reading = VitalReading(kind, value, "dev", NOW - timedelta(hours=1))
    readings = [reading]
    if kind is VitalKind.DIASTOLIC_BP:  # drawn on the blood-pressure panel
        readings.append(VitalReading(VitalKind.SYSTOLIC_BP, 120, "dev", reading.time))
    figure = trend_figure(readings, "en", KB)
    (axes,) = figure.axes
    (patch,) = [p for p in axes.patches if isinstance(p, Polygon | Rectangle)]
    box = patch.get_extents().transformed(axes.transData.inverted())
    return box.y0, box.y1


def _values(kind: VitalKind) -> list[float]:
    bounds = [
        b
        for band in KB.vital_bands
        if band.kind is kind
        for b in (band.low, band.high)
        if b is not None
    ]
    step = 10.0 ** -DECIMALS[kind]
    low, high = min(bounds) - 5, max(bounds) + 5
    count = int((high - low) / step) + 1
    return [
        round(low + i * step, DECIMALS[kind]) for i in range(0, count, max(1, count // 400))
    ] + [b + d for b in bounds for d in (-step, -step / 2, 0, step / 2, step)]


def test_text_chart_and_message_agree_for_every_vital() -> None:
    checked = 0
    for kind in JUDGED:
        span = normal_range(kind, KB)
        if kind is not VitalKind.DIASTOLIC_BP:
            low, high = _shaded(kind, 100.0)
            if span.above is not None:
                assert abs(low - span.above) < 1e-6, kind
            if span.below is not None:
                assert abs(high - span.below) < 1e-6, kind
        for value in _values(kind):
            reading = VitalReading(kind, value, "dev", NOW - timedelta(hours=1))
            partner = (
                [VitalReading(VitalKind.SYSTOLIC_BP, 120, "dev", reading.time)]
                if kind is VitalKind.DIASTOLIC_BP
                else [VitalReading(VitalKind.DIASTOLIC_BP, 80, "dev", reading.time)]
                if kind is VitalKind.SYSTOLIC_BP
                else []
            )
            lines = describe_latest([reading, *partner], NOW, "en", UTC, KB)
            said_normal = lines[0].endswith("in the normal range.")
            held = span.holds(shown(reading).value)
            message = outside_summary([reading, *partner], NOW, "en", UTC, KB)
            assert said_normal == held == (message is None), (kind, value, lines, message)
            if span.above is not None and span.below is not None:
                inside_shading = span.above < shown(reading).value < span.below
                assert inside_shading == held, (kind, value)
            checked += 1
    assert checked > 1000


async def test_a_normal_latest_day_after_a_bad_one_is_told_with_the_worst_values() -> None:
    two_days = NOW - timedelta(days=2, hours=1)
    readings = [
        VitalReading(VitalKind.SPO2, 97.4, "Nonin 3230", NOW - timedelta(hours=1)),
        VitalReading(VitalKind.SPO2, 91, "Nonin 3230", two_days + timedelta(hours=2)),
        VitalReading(VitalKind.SPO2, 88, "Nonin 3230", two_days),
        VitalReading(VitalKind.HEART_RATE, 74.5, "Polar H10", NOW - timedelta(hours=1)),
        VitalReading(VitalKind.HEART_RATE, 134, "Polar H10", two_days),
        VitalReading(VitalKind.TEMPERATURE, 36.84, "Withings", NOW - timedelta(hours=1)),
        VitalReading(VitalKind.TEMPERATURE, 38.1, "Withings", two_days),
        VitalReading(VitalKind.WEIGHT, 72.44, "Withings Body", NOW - timedelta(hours=3)),
    ]
    chat = service_conversation(
        ALICE, vitals=FakeVitalsSource(readings), recorder=FakeRecorder(),
        booking=FakeBooking(), now=NOW,
    )  # fmt: skip
    texts = await chat.send("my vitals")
    assert texts[0].split("\n") == [
        "Your oxygen level was 97% this morning at 09:00 (Nonin 3230), in the normal range.",
        "Your heart rate was 75 beats per minute this morning at 09:00 (Polar H10), in the normal range.",
        "Your temperature was 36.8 °C this morning at 09:00 (Withings), in the normal range.",
        "Your weight was 72.4 kg this morning at 07:00 (Withings Body).",
    ]
    assert texts[1] == (
        "Outside the normal range in the last 7 days: Oxygen level 2 times, the worst 88% on "
        "Thu 19/11 at 09:00 (normal: ≥ 95 %); heart rate once, 134 beats per minute on Thu "
        "19/11 at 09:00 (normal: 41-110 beats per minute); temperature once, 38.1 °C on Thu "
        "19/11 at 09:00 (normal: 35.1-37.9 °C)."
    )
    assert chat.stack == []  # nothing recent to triage


def test_times_are_local() -> None:
    reading = VitalReading(VitalKind.SPO2, 97, "Nonin 3230", NOW - timedelta(hours=1))
    (line,) = describe_latest([reading], NOW, "fr", ZoneInfo("Europe/Paris"), KB)
    assert (
        line == "Votre taux d'oxygène était de 97 % ce matin à 10:00 (Nonin 3230), dans la normale."
    )


def test_device_names_come_from_the_device_resource() -> None:
    own = {"deviceName": [{"name": "Mum's oximeter", "type": "patient-reported-name"}]}
    made = {
        "manufacturer": "Nonin",
        "modelNumber": "3230",
        "deviceName": [{"name": "carebot-pulse-oximeter-0111", "type": "user-friendly-name"}],
    }
    advertised = {
        "deviceName": [{"name": "carebot-pulse-oximeter-0111", "type": "user-friendly-name"}]
    }
    assert device_label(own) == "Mum's oximeter"
    assert device_label(made) == "Nonin 3230"
    assert device_label(advertised) == "carebot-pulse-oximeter-0111"
    assert device_label({}) == ""
