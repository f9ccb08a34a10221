"""Teams not giving a visit's join link (down, throttled, or the meeting deleted there):
"my visits" and reminders say so plainly instead of failing, and never show a wrong link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from bot.proactive import ChatMessage
from bot.reminders import REMINDER, ReminderHandler
from bot.settings import Settings
from bot.visits_wiring import open_visit_backends, visit_service
from dialogs.booking_texts import say
from integrations.meetings.models import MeetingUnavailable
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.outbox import ClaimedItem, Outbox
from integrations.visits.mail_texts import NO_LINK
from tests.graph.conftest import GraphWorld, graph_settings
from tests.graph.test_graph_booking import _alice, _book_alice
from tests.visits.conftest import ALICE, World, entries


@asynccontextmanager
async def _restarted(on_graph: GraphWorld, folder: Path) -> AsyncIterator[World]:
    """The same store and emulator in a new process: no join link remembered in memory."""
    world = on_graph.world
    settings = Settings(var_dir=folder / "var", timezone=world.zone.key,
                        mail_from="clinic@example.org", **graph_settings(on_graph.graph))  # type: ignore[arg-type]  # fmt: skip
    async with open_visit_backends(settings, world.access, world.clock) as backends:
        yield replace(world, visits=visit_service(settings, world.access, backends,
                                                  clock=world.clock))  # fmt: skip


async def test_my_visits_says_plainly_when_teams_gives_no_link(
    on_graph: GraphWorld, tmp_path: Path
) -> None:
    graph = on_graph.graph
    await _book_alice(on_graph.world)
    (meeting,) = graph.live_meetings()
    async with _restarted(on_graph, tmp_path) as world:
        graph.throttle(1000, retry_after=0)  # Teams throttles every request
        replies = await world.chat(ALICE).send("my visits")
        graph.throttle(0)
        text = "\n".join(replies)
        assert say("visit_link_later", "en") in text and meeting["joinWebUrl"] not in text
        assert 'say "cancel 1"' in text  # the visit is still listed, and can be changed
        replies = await world.chat(ALICE).send("my visits")  # Teams answers again
        assert say("visit_link", "en", url=meeting["joinWebUrl"]) in "\n".join(replies)


async def test_a_reminder_without_a_link_is_retried_then_sent_saying_so(
    on_graph: GraphWorld, tmp_path: Path
) -> None:
    graph = on_graph.graph
    await _book_alice(on_graph.world)
    (visit,) = await on_graph.world.visits.upcoming(_alice())
    engine = create_engine(on_graph.world.database_url)
    try:
        outbox = Outbox(create_sessionmaker(engine))
        async with _restarted(on_graph, tmp_path) as world:
            graph.delete_meetings_in_teams()
            handler = ReminderHandler(world.visits, outbox, lambda: None, link_attempts=3)
            payload = f'{{"appointment": "{visit.appointment_id}", "patient": "{ALICE.fhir_reference}"}}'  # fmt: skip
            mails = len(graph.mails)
            with pytest.raises(MeetingUnavailable):  # the outbox tries again later
                await handler.deliver(ClaimedItem(1, "r/24h", REMINDER, payload, 1, "t"))
            assert len(graph.mails) == mails and not entries(await world.get("Communication"))
            await handler.deliver(ClaimedItem(1, "r/24h", REMINDER, payload, 3, "t"))
            (chat,) = await outbox.claim()
            text = ChatMessage.from_payload(chat.payload).text
            assert text.startswith("Reminder: your virtual visit with Dr Dana Swope is on")
            assert text.endswith(NO_LINK["en"]) and "https://" not in text
            (mail,) = graph.mails[mails:]
            assert NO_LINK["en"] in mail["body"]["content"]
            assert len(entries(await world.get("Communication"))) == 1
    finally:
        await engine.dispose()
