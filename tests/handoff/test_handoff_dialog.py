"""Scripted: "talk to a person" offers a care manager in the chat; the request waits in the
store, the patient's messages are relayed, the care manager's reach the patient's
conversation (through the outbox) marked as from a person; handing back returns the chat to
the bot; "cancel" withdraws; an emergency stays an emergency. Each staff access is audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import DialogServices, build_runner
from bot.handoffs import ChatHandoffDesk, HandoffRelay
from bot.proactive import ChatMessage
from dialogs.texts import HANDOFF_LABEL, message
from dialogs.triage.knowledge_base import load_knowledge
from integrations.accounts import Account, Role
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.handoffs import HandoffStatus, HandoffStore, Sender
from integrations.persistence.outbox import Outbox
from tests.triage.driver import Conversation, FakeRecorder, FakeVitalsSource, RememberedLanguages
from tests.visits.conftest import ALICE, World, entries, open_world

GRACE = Account("acct-grace", "grace", Role.CARE_MANAGER, "Grace Miller", "en",
                "Practitioner/demo-practitioner-miller", None)  # fmt: skip


@dataclass
class Desk:
    world: World
    store: HandoffStore
    relay: HandoffRelay
    outbox: Outbox

    def chat(self) -> Conversation:
        _, runner = build_runner(DialogServices(
            vitals=FakeVitalsSource(), recorder=FakeRecorder(), languages=RememberedLanguages(),
            knowledge=load_knowledge(), handoff=ChatHandoffDesk(self.store, self.world.access),
            visits=self.world.visits, clock=self.world.clock,
        ))  # fmt: skip
        return Conversation(ALICE, runner)

    async def told(self) -> list[str]:
        """What the outbox holds for the patient's chat, oldest first."""
        return [ChatMessage.from_payload(i.payload).text for i in await self.outbox.claim()]


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with open_world(tmp_path) as world:
        engine = create_engine(world.database_url)
        try:
            store, outbox = (
                HandoffStore(create_sessionmaker(engine)),
                Outbox(create_sessionmaker(engine)),
            )
            yield Desk(
                world, store, HandoffRelay(store, world.access, outbox, lambda: None), outbox
            )
        finally:
            await engine.dispose()


async def test_a_care_manager_takes_the_chat_relays_both_ways_and_hands_back(desk: Desk) -> None:
    chat = desk.chat()
    await chat.send("can I speak to a real person")
    (offer,) = chat.last
    assert offer.text.startswith("A care manager can join this chat")
    assert offer.suggestions == (HANDOFF_LABEL["en"], "book a visit")
    (waiting,) = await chat.send(HANDOFF_LABEL["en"])
    assert waiting.startswith("I've asked the care team") and "call 911 now" in waiting
    (handoff,) = await desk.store.visible_to(GRACE.fhir_reference)
    assert (
        handoff.patient == "Patient/demo-patient-alice" and handoff.status is HandoffStatus.WAITING
    )
    assert await chat.send("I feel dizzy since this morning") == []  # relayed, not answered
    taken = await desk.relay.take(handoff.id, GRACE)
    assert taken is not None and taken.taken_by == GRACE.id
    assert await desk.relay.take(handoff.id, GRACE) is None  # taken once
    await desk.relay.say(taken, GRACE, "Hello Alice, how long have you felt dizzy?")
    assert await chat.send("since 8 o'clock") == []
    assert [(m.sender, m.text) for m in await desk.store.messages(handoff.id)] == [
        (Sender.PATIENT, "I feel dizzy since this morning"),
        (Sender.STAFF, "Hello Alice, how long have you felt dizzy?"),
        (Sender.PATIENT, "since 8 o'clock"),
    ]
    assert await desk.relay.hand_back(handoff.id, GRACE) is not None
    assert await desk.told() == [
        "Grace Miller (care team) has joined the chat.",
        "Grace Miller (care team): Hello Alice, how long have you felt dizzy?",
        'Grace Miller has handed you back to the care assistant. Say "menu" to see what I can do.',
    ]
    assert await chat.send("thanks") == [message("handoff_over", "en")]
    assert chat.active == []
    # the care manager's access was audited, naming her and the patient
    audits = [
        a for a in entries(await desk.world.get("AuditEvent"))
        if any(g.get("who", {}).get("identifier", {}).get("value") == GRACE.id
               for g in a["agent"])  # type: ignore[attr-defined]
    ]  # fmt: skip
    assert audits and all(
        {"what": {"reference": "Patient/demo-patient-alice"}} in a["entity"]  # type: ignore[operator]
        for a in audits
    )


async def test_asked_midway_through_triage_cancelled_and_an_emergency_stays_one(
    desk: Desk,
) -> None:
    chat = desk.chat()
    await chat.send("I have a headache")
    await chat.send("I want to talk to a nurse")
    assert chat.last[0].suggestions[0] == HANDOFF_LABEL["en"]
    (waiting,) = await chat.send(HANDOFF_LABEL["en"])
    assert waiting.startswith("I've asked the care team")
    assert chat.active[-1] == "handoff"
    assert await chat.send("cancel") == [message("handoff_withdrawn", "en")]
    assert await desk.store.visible_to(None) == []  # withdrawn
    await chat.send("I want to talk to a nurse")
    await chat.send(HANDOFF_LABEL["en"])
    replies = await chat.send("I have crushing chest pain and I can't breathe")
    assert any("911" in r for r in replies) and chat.active[-1:] != ["handoff"]
