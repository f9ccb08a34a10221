"""Scripted "my vitals" conversations: plain words, a chart card, the way into triage."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from dialogs.base import Person
from dialogs.triage import VitalKind, VitalReading
from dialogs.vitals_dialog import when_words
from tests.triage.driver import (
    ALICE,
    CLAIRE,
    Conversation,
    FakeBooking,
    FakeRecorder,
    FakeVitalsSource,
    service_conversation,
)

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def _week(kind: VitalKind, value: float, device: str) -> list[VitalReading]:
    return [
        VitalReading(kind, value, device, NOW - timedelta(hours=12 * i + 1.5)) for i in range(14)
    ]


def _chat(
    readings: list[VitalReading], person: Person = ALICE, recorder: FakeRecorder | None = None
) -> tuple[Conversation, FakeVitalsSource]:
    recorder = recorder or FakeRecorder()
    source = FakeVitalsSource(readings)
    chat = service_conversation(
        person, vitals=source, recorder=recorder, booking=FakeBooking(), now=NOW
    )
    return chat, source


async def test_latest_readings_in_plain_words_with_a_chart_card() -> None:
    readings = _week(VitalKind.SPO2, 97, "Nonin 3230") + _week(
        VitalKind.HEART_RATE, 72, "Polar H10"
    )
    readings += _week(VitalKind.SYSTOLIC_BP, 124, "Omron X7") + _week(
        VitalKind.DIASTOLIC_BP, 79, "Omron X7"
    )
    chat, source = _chat(readings)
    texts = await chat.send("my vitals")
    assert texts[0].split("\n") == [
        "Your oxygen level was 97% this morning at 08:30 (Nonin 3230), in the normal range.",
        "Your heart rate was 72 beats per minute this morning at 08:30 (Polar H10), in the normal range.",
        "Your blood pressure was 124/79 mmHg this morning at 08:30 (Omron X7), in the normal range.",
    ]
    card = chat.last[0].card
    assert card is not None
    image = card["body"][1]  # type: ignore[index]
    assert image["type"] == "Image"  # type: ignore[index]
    url = str(image["url"])  # type: ignore[index]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert [(patient, reader) for patient, _, reader in source.calls] == [("Patient/1", "a1")]
    assert chat.stack == []


async def test_abnormal_readings_offer_triage() -> None:
    readings = _week(VitalKind.SYSTOLIC_BP, 186, "Omron X7") + _week(
        VitalKind.DIASTOLIC_BP, 112, "Omron X7"
    )
    chat, _ = _chat(readings)
    texts = await chat.send("my vitals")
    assert "outside the normal range: very high blood pressure" in texts[0]
    assert texts[1] == (
        "Outside the normal range in the last 7 days: Systolic pressure 14 times, the worst "
        "186 mmHg this morning at 08:30 (normal: 91-139 mmHg)."
    )
    assert texts[2] == "Shall we check your symptoms now?"
    assert chat.active == ["menu", "vitals"]
    texts = await chat.send("yes")
    assert texts[0].startswith("Tell me what is wrong")
    assert chat.active == ["menu", "vitals", "triage"]
    await chat.send("a headache")
    # Headache with a very high device blood pressure is a hypertensive emergency.
    assert chat.last[0].text.startswith("Go to the emergency department now")


async def test_emergency_readings_go_straight_to_triage_advice() -> None:
    recorder = FakeRecorder()
    chat, _ = _chat(_week(VitalKind.SPO2, 86, "Nonin 3230"), recorder=recorder)
    texts = await chat.send("my vitals")
    assert "outside the normal range: severely low oxygen level" in texts[0]
    assert texts[1].startswith("Outside the normal range in the last 7 days: Oxygen level 14")
    assert texts[2] == "Some of these readings need attention now."
    assert texts[3].startswith("Call 911 now.")
    assert recorder.records[0].result.level.value == "emergency_ambulance"


async def test_french_and_no_readings() -> None:
    chat, _ = _chat(_week(VitalKind.TEMPERATURE, 36.8, "Withings Thermo"), person=CLAIRE)
    texts = await chat.send("mes constantes")
    assert texts[0] == (
        "Votre température était de 36,8 °C ce matin à 08:30 (Withings Thermo), dans la normale."
    )
    empty, _ = _chat([])
    assert await empty.send("my vitals") == [
        "Your devices have sent no readings in the last 7 days."
    ]
    nobody, _ = _chat([], person=Person("x", "X"))
    assert (await nobody.send("my vitals"))[0].startswith("I can't find your health record")


def test_when_words() -> None:
    assert when_words(NOW - timedelta(hours=1), NOW, "en") == "this morning at 09:00"
    assert when_words(NOW - timedelta(days=1), NOW, "fr") == "hier à 10:00"
    assert when_words(NOW - timedelta(days=3), NOW, "en") == "on Wed 18/11 at 10:00"


async def test_a_consultation_reached_from_the_vitals_goes_on_to_booking() -> None:
    booking = FakeBooking()
    fast = VitalReading(VitalKind.HEART_RATE, 118, "Polar H10", NOW - timedelta(hours=1))
    chat = service_conversation(ALICE, vitals=FakeVitalsSource([fast]), booking=booking, now=NOW)
    await chat.send("my vitals")
    assert chat.active == ["menu", "vitals"]
    await chat.send("yes")
    await chat.send("I feel a bit tired")
    while chat.pending:
        await chat.send("34" if chat.pending == "__age__" else "no")
    assert chat.last[-1].text == "booking started"
    (handoff,) = booking.started_with
    assert handoff is not None and handoff.book
    assert "Heart rate 118/min" in handoff.reasons[0]
    assert chat.stack == []
