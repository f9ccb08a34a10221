"""'Talk to a nurse / a person / quelqu'un' is understood, from the menu and mid-dialog."""

from __future__ import annotations

from datetime import UTC, datetime

from dialogs.commands import Command, command_in
from tests.triage.driver import ALICE, CLAIRE, FakeBooking, service_conversation

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
OFFER = (
    "I can't put you through to a person in this chat yet. A clinician can see you at a video "
    'visit: say "book a visit". If you think it is an emergency, call 911 now.'
)


def test_requests_for_a_person_in_both_languages() -> None:
    for words in (
        "I want to talk to a nurse",
        "can I speak to a real person?",
        "talk to someone please",
        "je voudrais parler à quelqu'un",
        "Je veux parler à une infirmière",
        "a human",
    ):
        assert command_in(words) is Command.PERSON, words
    for words in ("my nurse said I have a fever", "I talked to someone yesterday about my cough"):
        assert command_in(words) is not Command.PERSON, words


async def test_the_menu_offers_a_visit_to_someone_asking_for_a_person() -> None:
    booking = FakeBooking()
    chat = service_conversation(ALICE, booking=booking, now=NOW)
    assert await chat.send("I want to talk to a nurse") == [OFFER]
    assert chat.last[0].suggestions == ("book a visit",)
    assert await chat.send("book a visit") == ["booking started"]
    french = service_conversation(CLAIRE, booking=FakeBooking(), now=NOW)
    (text,) = await french.send("je voudrais parler à quelqu'un")
    assert text.startswith("Je ne peux pas encore vous mettre en relation avec une personne")
    assert "15 (SAMU) ou le 112" in text


async def test_mid_triage_the_question_stays_open() -> None:
    chat = service_conversation(ALICE, booking=FakeBooking(), now=NOW)
    await chat.send("check symptoms")
    await chat.send("I have pain in my belly since this morning")
    await chat.send("45")
    pending = chat.pending
    assert pending is not None
    assert await chat.send("can I speak to a real person?") == [OFFER]
    assert chat.pending == pending
    assert chat.active == ["menu", "triage"]


async def test_without_booking_the_clinic_is_named() -> None:
    chat = service_conversation(ALICE, now=NOW)  # no booking dialog in this deployment
    (text,) = await chat.send("talk to a person")
    assert text.startswith("I can't put you through to a person in this chat yet: please call")
