"""Reminders with a moved clock: each lead time once, with the link, to the chat (through the
outbox's chat items) and by mail, recorded as a Communication; none after a cancellation;
none twice after a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.proactive import CHAT_MESSAGE, ChatMessage
from bot.reminders import REMINDER, ReminderHandler, ReminderScanner, due_leads
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.outbox import ClaimedItem, Outbox, OutboxDispatcher
from integrations.visits.service import Patient
from tests.scheduling.conftest import MONDAY
from tests.visits.conftest import ALICE, World, entries


class ChatSink:
    """The chat end of the outbox (the proactive sender is tested with the fake Bot
    Connector in tests/bot): what it was handed, once per item."""

    def __init__(self) -> None:
        self.sent: list[ChatMessage] = []

    async def deliver(self, item: ClaimedItem) -> None:
        self.sent.append(ChatMessage.from_payload(item.payload))


@pytest.fixture
async def outbox(world: World) -> AsyncIterator[Outbox]:
    engine = create_engine(world.database_url)
    try:
        yield Outbox(create_sessionmaker(engine))
    finally:
        await engine.dispose()


def _process(
    world: World, outbox: Outbox, chat: ChatSink
) -> tuple[ReminderScanner, OutboxDispatcher]:
    """What a (re)started process builds."""
    dispatcher = OutboxDispatcher(
        outbox, {REMINDER: ReminderHandler(world.visits, outbox, lambda: None), CHAT_MESSAGE: chat}
    )
    return ReminderScanner(world.access, outbox, clock=world.clock), dispatcher


async def _book(world: World, pick: int) -> str:
    chat = world.chat(ALICE)
    await chat.send("book a visit")
    await chat.send(chat.last[-1].suggestions[pick])
    for answer in ("yes", "use my insurance", "yes", "Alice Martin"):
        await chat.send(answer)
    return chat.last[0].text.rsplit(": ", 1)[1]


def test_due_leads() -> None:
    start = MONDAY + timedelta(hours=30)
    leads = (timedelta(hours=24), timedelta(hours=1))
    assert due_leads(start, MONDAY, leads) == []
    assert due_leads(start, MONDAY + timedelta(hours=6), leads) == [timedelta(hours=24)]
    assert due_leads(start, start - timedelta(minutes=30), leads) == [timedelta(hours=1)]
    assert due_leads(start, start, leads) == []


async def test_each_reminder_once_with_the_link_none_after_cancel_none_twice_after_restart(
    world: World, outbox: Outbox
) -> None:
    link = await _book(world, 0)  # Monday 08:00 UTC; the clock is at 06:00: the 24 h one is due
    await _book(world, 0)  # then the first free one is 08:30: cancelled below
    chat = ChatSink()
    scanner, dispatcher = _process(world, outbox, chat)
    assert await scanner.scan_once() == 2  # the 24 h reminder of each visit
    assert await scanner.scan_once() == 0  # a rescan adds nothing
    (second,) = [v for v in await world.visits.upcoming(_alice()) if v.start.minute == 30]
    await world.visits.cancel(second.appointment_id, _alice())
    while await dispatcher.dispatch_once():
        pass
    assert [m.text for m in chat.sent] == [
        "Reminder: your virtual visit with Dr Sarah Chen is on Monday 7 December 2026, 09:00 "
        f"(Europe/Paris).\nJoin the visit: {link}"
    ]
    assert chat.sent[0].account_id == ALICE.account_id
    # an hour before: the 1 h reminder, once, even across a restart
    world.clock.now = MONDAY.replace(hour=7, minute=5)
    assert await scanner.scan_once() == 1
    while await dispatcher.dispatch_once():
        pass
    restarted_scanner, restarted_dispatcher = _process(world, outbox, chat)
    assert await restarted_scanner.scan_once() == 0
    while await restarted_dispatcher.dispatch_once():
        pass
    assert len(chat.sent) == 2 and all(link in m.text for m in chat.sent)
    reminders = [m for m in world.mails() if m["Subject"].strip().startswith("Reminder")]
    assert len(reminders) == 2
    assert all(link in m.get_body().get_content() for m in reminders)  # type: ignore[union-attr]
    communications = entries(await world.get("Communication"))
    assert len(communications) == 2
    assert {c["about"][0]["reference"] for c in communications} == {  # type: ignore[index]
        f"Appointment/{v.appointment_id}" for v in await world.visits.upcoming(_alice())
    }
    # after the visit started: nothing more
    world.clock.now = MONDAY.replace(hour=8, minute=1)
    assert await scanner.scan_once() == 0


async def test_reminders_of_every_page_of_the_days_visits(world: World, outbox: Outbox) -> None:
    for _ in range(3):
        await _book(world, 0)  # 08:00, 08:30, 09:00 UTC on Monday: all within 24 h
    scanner = ReminderScanner(world.access, outbox, clock=world.clock, page_size=1)
    assert await scanner.scan_once() == 3


def _alice() -> Patient:
    return Patient(str(ALICE.fhir_reference), ALICE.account_id, "en", "Europe/Paris")
