"""Typed hand-offs across the JSON stack, one engine run per turn, one `mentions_symptom`,
and record keys from the activity id."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from dialogs.assessment import TriageEngine, mentions_symptom
from dialogs.outcomes import OutcomeFormatError, TriageOutcome, VitalsOutcome, triage_outcome_of
from dialogs.triage import Level, VitalKind, VitalReading
from dialogs.triage.knowledge_base import load_knowledge
from tests.triage.driver import (
    ALICE,
    FakeBooking,
    FakeRecorder,
    FakeVitalsSource,
    service_conversation,
)

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def test_a_triage_outcome_crosses_the_json_stack_unchanged() -> None:
    engine = TriageEngine(load_knowledge())
    result = engine.assess("crushing chest pain and sweating", language="en")
    outcome = TriageOutcome.of(result, "911", interrupted=True)
    assert outcome.level is Level.EMERGENCY_AMBULANCE or outcome.level is Level.EMERGENCY
    assert outcome.window_hours == 0
    assert outcome.book is False
    assert outcome.emergency_number == "911"
    assert outcome.red_flags and outcome.reasons
    stored = json.loads(json.dumps(outcome.to_json()))
    assert stored["window_hours"] == 0 and stored["book"] is False
    assert TriageOutcome.from_json(stored) == outcome


def test_a_consultation_outcome_books_and_a_vitals_review_carries_it() -> None:
    outcome = TriageOutcome(Level.CONSULTATION_24, reasons=("Belly pain",))
    assert (outcome.book, outcome.window_hours, outcome.emergency_number) == (True, 24, None)
    assert TriageOutcome(Level.SELF_CARE).book is False
    review = VitalsOutcome(readings=3, attention=True, triage=outcome)
    assert review.book is True
    assert triage_outcome_of(review) is outcome
    assert VitalsOutcome(readings=0).book is False


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"level": "urgent"},
        {"level": "self_care", "reasons": "not a list"},
        {"level": "self_care", "findings": [1, 2]},
    ],
)
def test_stored_json_that_is_not_an_outcome_is_refused(raw: object) -> None:
    with pytest.raises(OutcomeFormatError):
        TriageOutcome.from_json(raw)  # type: ignore[arg-type]


def test_the_one_mentions_symptom_is_the_services_reading() -> None:
    engine = TriageEngine(load_knowledge())
    assert mentions_symptom(engine.assess("a bit tired since yesterday", language="en"))
    assert mentions_symptom(engine.assess("un peu fatigué depuis hier", language="fr"))
    assert not mentions_symptom(engine.assess("purple elephants", language="en"))


async def test_a_tired_story_at_the_menu_starts_a_triage() -> None:
    chat = service_conversation(ALICE, now=NOW)
    assert await chat.send("a bit tired since yesterday") == ["How old are you?"]
    assert chat.active == ["menu", "triage"]


async def test_the_engine_runs_once_on_the_opening_turn_and_at_most_twice_after() -> None:
    chat = service_conversation(ALICE, now=NOW)
    engine = chat.runner.engine
    await chat.send("hello")
    assert engine.runs == 1  # the red-flag check; the menu reuses it
    runs = engine.runs
    # Red-flag check, global interrupt, menu, triage's "is it a symptom" and its first
    # assessment of the story all share one run.
    await chat.send("I have pain in my belly since this morning")
    assert engine.runs - runs == 1
    while chat.pending:
        runs = engine.runs
        await chat.send("45" if chat.pending == "__age__" else "no")
        # The words of the turn, and the interview with its answers so far.
        assert engine.runs - runs <= 2
    assert chat.last[0].text.startswith("See a doctor within 24 hours.")


async def test_the_same_activity_processed_twice_records_once() -> None:
    recorder = FakeRecorder()
    chat = service_conversation(ALICE, recorder=recorder, now=NOW)
    before = list(chat.stack)
    await chat.send("I have crushing chest pain", activity_id="msteams/conv-1/act-7")
    chat.stack = before  # the state save failed: the channel delivers the activity again
    await chat.send("I have crushing chest pain", activity_id="msteams/conv-1/act-7")
    assert recorder.attempts == 2
    (record,) = recorder.records
    assert record.key == "a1/msteams/conv-1/act-7/red-flag"
    await chat.send("I have crushing chest pain", activity_id="msteams/conv-1/act-8")
    assert len(recorder.records) == 2  # a new message is a new record


async def test_a_retried_turn_that_ends_a_triage_records_once() -> None:
    recorder = FakeRecorder()
    low = VitalReading(VitalKind.SPO2, 86, "Nonin 3230", NOW - timedelta(hours=1))
    chat = service_conversation(ALICE, vitals=FakeVitalsSource([low]), recorder=recorder, now=NOW)
    for _ in range(2):  # the same delivery twice, from the same stored state
        chat.stack = []
        texts = await chat.send("check symptoms", activity_id="directline/c9/c9|0000002")
        assert texts[0].startswith("Call 911 now.")
    (record,) = recorder.records
    assert record.key == "a1/directline/c9/c9|0000002/triage"


async def test_a_consultation_hands_the_typed_outcome_to_booking() -> None:
    booking = FakeBooking()
    chat = service_conversation(ALICE, booking=booking, now=NOW)
    await chat.send("I have a sore throat")
    await chat.send("34")
    await chat.send("nope")
    await chat.send("yes, about 38.5 since yesterday")
    assert chat.last[-1].text == "booking started"
    (handoff,) = booking.started_with
    assert isinstance(handoff, TriageOutcome)
    assert handoff.level is Level.CONSULTATION
    assert handoff.window_hours == 24 * 14


async def test_a_stored_stack_naming_a_dialog_no_longer_built_starts_afresh() -> None:
    chat = service_conversation(ALICE, now=NOW)  # no booking dialog in this deployment
    chat.stack = [{"name": "menu", "state": {}}, {"name": "booking", "state": {"slot": 3}}]
    texts = await chat.send("hello")
    assert texts[0] == "Hello Alice! I'm your care assistant."
    assert chat.stack == []


async def test_the_story_is_assessed_once_per_turn_with_extra_words() -> None:
    # "no, but ..." adds words to the story: the story is assessed once, with the answers,
    # not once alone (for the findings it names) and once more with the evidence.
    chat = service_conversation(ALICE, now=NOW)
    engine = chat.runner.engine
    assessed: list[str] = []
    real = engine.assess

    def spy(text: str, **kwargs: object) -> object:
        assessed.append(text)
        return real(text, **kwargs)  # type: ignore[arg-type]

    engine.assess = spy  # type: ignore[method-assign,assignment]
    await chat.send("hello")
    await chat.send("I have pain in my belly since this morning")
    await chat.send("45")
    while chat.pending:
        assessed.clear()
        await chat.send("no, but I also feel sick")
        assert len(assessed) == len(set(assessed)) <= 2, assessed
        if len(assessed) == 2:
            assert assessed[0] == "no, but I also feel sick"
            assert assessed[1].endswith("but i also feel sick")
    assert chat.last[0].text.startswith("See a doctor")
