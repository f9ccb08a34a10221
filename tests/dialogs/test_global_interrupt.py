"""Scripted conversations: cancel, menu, help and naming another capability at any turn, in
English and French, without taking a symptom story or a red flag for a command."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dialogs.base import Person
from dialogs.commands import Command, capability_named, command_in
from dialogs.triage import VitalKind, VitalReading
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
TEMPERATURE = VitalReading(VitalKind.TEMPERATURE, 36.8, "Withings Thermo", NOW - timedelta(hours=1))

OFFER_EN = "I can help you: check symptoms or my vitals. What would you like to do?"
OFFER_FR = (
    "Je peux vous aider : vérifier des symptômes ou mes constantes. Que souhaitez-vous faire ?"
)
DESCRIBE_AGAIN = "I did not recognise a symptom there."


def chat(
    person: Person = ALICE,
    *,
    booking: FakeBooking | None = None,
    recorder: FakeRecorder | None = None,
) -> Conversation:
    return service_conversation(
        person,
        vitals=FakeVitalsSource([TEMPERATURE]),
        recorder=recorder or FakeRecorder(),
        booking=booking,
        now=NOW,
    )


async def in_triage(conversation: Conversation, opening: str = "check symptoms") -> None:
    await conversation.send(opening)
    assert conversation.active == ["menu", "triage"]


async def test_my_vitals_mid_triage_switches_to_the_vitals() -> None:
    conversation = chat()
    await in_triage(conversation)
    texts = await conversation.send("my vitals")
    assert texts == [
        "Your temperature was 36.8 °C this morning at 09:00 (Withings Thermo), in the normal range."
    ]
    assert not any(DESCRIBE_AGAIN in t for t in texts)
    assert conversation.stack == []


async def test_mes_constantes_and_mes_mesures_mid_triage_switch_in_french() -> None:
    for words in ("mes constantes", "Mes mesures s'il vous plaît"):
        conversation = chat(CLAIRE)
        await in_triage(conversation, "vérifier des symptômes")
        await conversation.send("J'ai mal à la gorge")
        assert conversation.pending == "__age__"
        texts = await conversation.send(words)
        assert texts == [
            "Votre température était de 36,8 °C ce matin à 09:00 (Withings Thermo), dans la normale."
        ]
        assert conversation.stack == []


async def test_cancel_mid_triage_leaves_the_dialog_and_records_nothing() -> None:
    recorder = FakeRecorder()
    conversation = chat(recorder=recorder)
    await in_triage(conversation)
    await conversation.send("I have a sore throat")
    assert conversation.pending == "__age__"
    assert await conversation.send("cancel") == ["All right, I have stopped that.", OFFER_EN]
    assert conversation.stack == []
    assert recorder.records == []
    # The next message starts afresh at the menu.
    assert (await conversation.send("check symptoms"))[0].startswith("Tell me what is wrong")


async def test_annuler_and_stop_please_leave_in_both_languages() -> None:
    claire = chat(CLAIRE)
    await in_triage(claire, "vérifier des symptômes")
    assert await claire.send("Annuler") == ["Très bien, j'ai arrêté.", OFFER_FR]
    assert claire.stack == []
    alice = chat()
    await in_triage(alice)
    assert (await alice.send("stop please"))[0] == "All right, I have stopped that."
    assert alice.stack == []


async def test_menu_mid_dialog_offers_the_capabilities_again() -> None:
    conversation = chat()
    await in_triage(conversation)
    assert await conversation.send("menu") == [OFFER_EN]
    assert conversation.stack == []


async def test_help_mid_triage_answers_and_keeps_the_question_waiting() -> None:
    conversation = chat()
    await in_triage(conversation)
    await conversation.send("I have a sore throat")
    await conversation.send("34")
    assert conversation.pending == "severe"
    texts = await conversation.send("help")
    assert texts[0].startswith("Here is what I can do: check symptoms or my vitals.")
    assert "911" in texts[0]
    assert texts[1] == (
        'To go on, answer my last question. Say "cancel" to stop, or "menu" to start over.'
    )
    assert conversation.pending == "severe"
    await conversation.send("no")
    assert conversation.pending == "fever"


async def test_aide_mid_triage_in_french() -> None:
    conversation = chat(CLAIRE)
    await in_triage(conversation, "vérifier des symptômes")
    texts = await conversation.send("aide")
    assert texts[0].startswith("Voici ce que je peux faire")
    assert "15 (SAMU)" in texts[0]
    assert texts[1].startswith("Pour continuer, répondez à ma dernière question.")
    assert conversation.active == ["menu", "triage"]


async def test_book_a_visit_is_honestly_not_available_yet() -> None:
    conversation = chat()
    await in_triage(conversation)
    assert await conversation.send("book a visit") == [
        "Booking a visit through me is coming, but it is not available yet. Please contact your clinic to book.",
        OFFER_EN,
    ]
    assert conversation.stack == []
    claire = chat(CLAIRE)
    assert (await claire.send("prendre rendez-vous"))[0].startswith(
        "La prise de rendez-vous avec moi arrive bientôt, mais elle n'est pas encore disponible."
    )
    assert claire.stack == []


async def test_book_a_visit_starts_booking_without_a_triage_when_it_exists() -> None:
    booking = FakeBooking()
    conversation = chat(booking=booking)
    await in_triage(conversation)
    assert await conversation.send("I want to book a visit") == ["booking started"]
    assert booking.started_with == [None]
    assert conversation.stack == []


async def test_check_my_symptoms_from_the_vitals_offer_starts_a_triage() -> None:
    readings = [
        VitalReading(VitalKind.SYSTOLIC_BP, 186, "Omron X7", NOW - timedelta(hours=2)),
        VitalReading(VitalKind.DIASTOLIC_BP, 112, "Omron X7", NOW - timedelta(hours=2)),
    ]
    for person, words in ((ALICE, "check my symptoms"), (CLAIRE, "mes symptômes")):
        conversation = service_conversation(person, vitals=FakeVitalsSource(readings), now=NOW)
        await conversation.send("my vitals" if person is ALICE else "mes constantes")
        assert conversation.active == ["menu", "vitals"]
        texts = await conversation.send(words)
        assert texts[0].startswith(("Tell me what is wrong", "Dites-moi ce qui ne va pas"))
        assert conversation.active == ["menu", "triage"]


async def test_a_symptom_answer_is_never_taken_for_a_command() -> None:
    conversation = chat()
    await in_triage(conversation)
    assert await conversation.send("I can't stop coughing") == ["How old are you?"]
    assert conversation.pending == "__age__"
    other = chat()
    await in_triage(other)
    texts = await other.send("help, I have a sore throat")
    assert texts == ["How old are you?"]
    claire = chat(CLAIRE)
    await in_triage(claire, "vérifier des symptômes")
    texts = await claire.send("Je tousse, j'arrête pas")
    assert texts == ["Quel âge avez-vous ?"]
    assert claire.active == ["menu", "triage"]


async def test_the_red_flag_wins_over_help_and_stop() -> None:
    for words in ("help, my chest hurts", "stop, I can't breathe"):
        conversation = chat()
        await in_triage(conversation)
        texts = await conversation.send(words)
        assert texts[0].startswith(("Go to the emergency department now", "Call 911 now."))
        assert "911" in texts[0]
        assert conversation.stack == []


async def test_at_the_menu_cancel_offers_and_booking_is_explained() -> None:
    conversation = chat()
    assert await conversation.send("cancel") == [OFFER_EN]
    assert (await conversation.send("book a visit"))[0].startswith("Booking a visit through me")
    assert conversation.stack == []


def test_only_a_short_whole_message_is_a_command() -> None:
    assert command_in("Cancel, please") is Command.CANCEL
    assert command_in("je voudrais annuler s'il vous plaît") is Command.CANCEL
    assert command_in("I can't stop coughing") is None
    assert command_in("J'arrête pas de tousser") is None
    assert command_in("non merci") is None
    assert command_in("no, cancel") is Command.CANCEL
    assert command_in("please " * 50_000 + "stop") is None
    assert capability_named("could you show me my vitals please") == "vitals"
    assert capability_named("my vitals were high this morning") is None
