"""Answer buttons are offered once, and an old card's button gets a sensible answer."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.rendering import to_activity
from dialogs.base import Reply
from dialogs.triage_cards import question_card
from tests.triage.driver import ALICE, service_conversation

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def test_a_card_with_buttons_gets_no_suggested_actions() -> None:
    card = question_card("Do you have a fever?", "fever", "en")
    with_card = to_activity(Reply("Do you have a fever?", ("Yes", "No"), card), "en-US")
    assert with_card.suggested_actions is None
    assert with_card.attachments is not None and len(with_card.attachments) == 1
    plain = to_activity(Reply("Shall we?", ("Yes", "No")), "en-US")
    assert plain.suggested_actions is not None
    assert [a.title for a in plain.suggested_actions.actions] == ["Yes", "No"]


async def test_an_earlier_questions_button_asks_the_current_question_again() -> None:
    chat = service_conversation(ALICE, now=NOW)
    await chat.send("check symptoms")
    await chat.send("I have pain in my belly since this morning")
    await chat.send("45")
    first = chat.pending
    assert first == "severe"
    await chat.send("", value={"question": first, "answer": "no"})
    current = chat.pending
    assert current is not None and current != first
    texts = await chat.send("", value={"question": first, "answer": "yes"})
    assert texts[0].startswith("That button was for an earlier question")
    assert chat.pending == current  # nothing answered by the old button
    assert chat.last[1].card is not None and chat.last[1].card["actions"][0]["data"] == {  # type: ignore[index]
        "question": current,
        "answer": "yes",
    }


async def test_a_finished_checks_button_is_not_misunderstood() -> None:
    chat = service_conversation(ALICE, now=NOW)
    texts = await chat.send("", value={"question": "fever", "answer": "no"})
    assert texts[0].startswith("That answer was for a check that has already finished.")
    assert "didn't understand" not in texts[0]
    assert chat.stack == []
