"""Scripted triage conversations, turn by turn, through the real runner and menu."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dialogs.base import Person
from dialogs.triage import Level, VitalKind, VitalReading
from dialogs.triage.advice import EmergencyNumbers
from dialogs.triage_dialog import parse_answer
from tests.triage.driver import (
    ALICE,
    CLAIRE,
    Conversation,
    FakeBooking,
    FakeRecorder,
    FakeVitalsSource,
    service_conversation,
)

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def conversation(
    person: Person = ALICE,
    readings: list[VitalReading] | None = None,
    recorder: FakeRecorder | None = None,
    booking: FakeBooking | None = None,
    vitals: FakeVitalsSource | None = None,
) -> Conversation:
    return service_conversation(
        person,
        vitals=vitals or FakeVitalsSource(readings or []),
        recorder=recorder or FakeRecorder(),
        booking=booking or FakeBooking(),
        now=NOW,
    )


async def test_belly_pain_interview_ends_in_a_24_hour_visit_handed_to_booking() -> None:
    booking, recorder = FakeBooking(), FakeRecorder()
    chat = conversation(recorder=recorder, booking=booking)
    assert await chat.send("check symptoms") == [
        'Tell me what is wrong, in your own words. For example: "sore throat and fever since yesterday".'
    ]
    assert await chat.send("I have pain in my belly since this morning") == ["How old are you?"]
    assert await chat.send("45") == ["Is it severe, the worst you have had?"]
    question = chat.last[0]
    assert question.suggestions == ("Yes", "No", "Not sure")
    assert question.card is not None and question.card["type"] == "AdaptiveCard"
    assert chat.pending == "severe"
    asked = []
    for _ in range(8):
        if not chat.pending:
            break
        asked.append(chat.pending)
        await chat.send("", value={"question": chat.pending, "answer": "no"})
    assert asked[:3] == ["severe", "rlq_pain", "rigid_abdomen"]
    assert len(asked) <= 8
    outcome = chat.last[0].text
    assert outcome.startswith("See a doctor within 24 hours.")
    assert "Why: Belly pain" in outcome
    assert chat.last[1].text == "booking started"
    (handoff,) = booking.started_with
    assert handoff is not None
    assert handoff.level is Level.CONSULTATION_24
    assert handoff.window_hours == 24
    assert handoff.book is True
    assert chat.stack == []
    (record,) = recorder.records
    assert record.patient == "Patient/1"
    assert record.items[0].link_id == "complaint"
    assert [i.link_id for i in record.items[2:]] == asked


async def test_a_yes_to_a_red_flag_question_ends_in_emergency_advice() -> None:
    chat = conversation()
    await chat.send("check symptoms")
    await chat.send("I have a headache")
    await chat.send("40")
    assert chat.pending == "vision_loss"  # red-flag questions come first
    await chat.send("no")
    assert chat.pending == "worst_headache"
    await chat.send("", value={"question": "worst_headache", "answer": "yes"})
    (reply,) = chat.last
    assert reply.text.startswith("Call 911 now.")
    assert reply.card is not None
    assert chat.stack == []


async def test_chest_pain_said_anywhere_is_an_emergency_at_once() -> None:
    chat = conversation()
    texts = await chat.send("chest pain")
    assert texts[0].startswith("Go to the emergency department now")
    assert "911" in texts[0]
    assert chat.stack == []


async def test_free_text_answers_and_a_polite_reprompt() -> None:
    chat = conversation()
    await chat.send("check symptoms")
    await chat.send("I have a sore throat")
    await chat.send("34")
    assert chat.pending == "severe"
    assert await chat.send("purple") == [
        "Please answer yes, no or not sure, or tell me more in your own words."
    ]
    assert chat.pending == "severe"
    await chat.send("nope")
    assert chat.pending == "fever"
    texts = await chat.send("yes, about 38.5 since yesterday")
    assert texts[0].startswith("Book an appointment with a doctor.")


async def test_red_flag_interrupt_stops_any_dialog() -> None:
    chat = conversation()
    await chat.send("check symptoms")
    await chat.send("I have a sore throat")
    assert chat.active == ["menu", "triage"]
    texts = await chat.send("wait, my husband's face is drooping and he can't lift his arm")
    assert texts[0].startswith("Call 911 now.")
    assert "stroke" in texts[0]
    assert chat.stack == []


async def test_negated_red_flags_do_not_interrupt() -> None:
    chat = conversation()
    texts = await chat.send("no chest pain and no trouble breathing, I just have a cold")
    assert not any("911" in t for t in texts)


async def test_french_emergency_number_and_configurable_numbers() -> None:
    chat = conversation(person=CLAIRE)
    texts = await chat.send("Je n'arrive pas à respirer")
    assert texts[0].startswith("Appelez le 15 (SAMU) ou le 112 maintenant.")
    custom = EmergencyNumbers(numbers={"en": "999"}, labels={"en": "999"})
    uk = service_conversation(ALICE, emergency=custom)
    texts = await uk.send("I can't breathe")
    assert texts[0].startswith("Call 999 now.")


async def test_device_vitals_escalate_a_mild_story_read_for_the_person() -> None:
    recorder = FakeRecorder()
    reading = VitalReading(VitalKind.SPO2, 86, "Nonin 3230", NOW - timedelta(hours=1))
    source = FakeVitalsSource([reading])
    chat = conversation(recorder=recorder, vitals=source)
    texts = await chat.send("check symptoms")
    # SpO2 86% is an emergency on its own: the dialog says so before asking anything.
    assert texts[0].startswith("Call 911 now.")
    assert "Oxygen saturation 86% is severely low" in texts[0]
    assert "Nonin 3230" in texts[0]
    # Read for Alice's account: the store's AuditEvent of that read names her.
    assert source.calls == [("Patient/1", NOW - timedelta(hours=24), "a1")]
    assert recorder.records[0].result.level.value == "emergency_ambulance"


async def test_old_device_readings_are_not_evidence() -> None:
    stale = VitalReading(VitalKind.SPO2, 86, "Nonin 3230", NOW - timedelta(days=3))
    chat = conversation(readings=[stale])
    texts = await chat.send("check symptoms")
    assert texts[0].startswith("Tell me what is wrong")


async def test_french_interview() -> None:
    chat = conversation(person=CLAIRE)
    await chat.send("vérifier des symptômes")
    await chat.send("J'ai le nez qui coule et je tousse depuis 2 jours")
    assert chat.pending == "__age__"
    assert chat.last[0].text == "Quel âge avez-vous ?"
    await chat.send("30 ans")
    assert chat.last[0].suggestions == ("Oui", "Non", "Je ne sais pas")
    while chat.pending:
        await chat.send("non")
    assert chat.last[0].text.startswith("Vous pouvez vous soigner à la maison.")


def test_answers_are_read_from_cards_and_words() -> None:
    assert parse_answer("", {"answer": "yes"}) == ("yes", "")
    assert parse_answer("Oui", None) == ("yes", "")
    assert parse_answer("not sure", None) == ("unsure", "")
    assert parse_answer("no, but it spreads to my arm", None) == ("no", "but it spreads to my arm")
    assert parse_answer("it spreads to my arm", None) == (None, "it spreads to my arm")


class BrokenVitals:
    async def readings(self, patient: str, since: datetime) -> list[VitalReading]:
        raise OSError("FHIR store down")


async def test_an_unreachable_store_does_not_stop_triage(caplog: pytest.LogCaptureFixture) -> None:
    chat = service_conversation(ALICE, vitals=BrokenVitals(), now=NOW)
    texts = await chat.send("check symptoms")
    assert (
        texts[0] == "I can't read your device readings right now, so I'll go by what you tell me."
    )
    assert texts[1].startswith("Tell me what is wrong")
    assert "device vitals unavailable" in caplog.text
