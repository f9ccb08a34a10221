"""The bot's turn handler: conversation state is stored before any reply goes out, and the
activity id reaches the dialogs as the turn's idempotency key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botbuilder.core import ConversationState, MemoryStorage, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from bot.app import DialogServices, build_runner
from bot.handler import CarebotBot, activity_key
from bot.people import PersonResolver
from dialogs.triage.knowledge_base import load_knowledge
from integrations.accounts import AccountRepository
from integrations.persistence.database import create_engine, create_sessionmaker
from tests.triage.driver import FakeRecorder, FakeVitalsSource, RememberedLanguages


class LoggedStorage(MemoryStorage):  # type: ignore[misc]
    """Memory storage that notes each write in a shared log, and can fail them."""

    def __init__(self, log: list[str], *, fail: bool = False) -> None:
        super().__init__()
        self._log, self._fail = log, fail

    async def write(self, changes: dict[str, Any]) -> None:
        self._log.append("saved")
        if self._fail:
            raise OSError("database unavailable")
        await super().write(changes)


class LoggedAdapter(TestAdapter):  # type: ignore[misc]
    """The botbuilder test adapter, noting each send in the same log."""

    def __init__(self, log: list[str], logic: Any) -> None:
        super().__init__(logic)
        self._log = log

    async def send_activities(self, context: TurnContext, activities: list[Activity]) -> Any:
        self._log.append("sent")
        return await super().send_activities(context, activities)


@pytest.fixture
def people(tmp_path: Path) -> Iterator[PersonResolver]:
    # Guests from a channel that vouches for nobody: the account table is never read.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    yield PersonResolver(
        AccountRepository(create_sessionmaker(engine)), "en", trust_channel_identities=False
    )


def _bot(storage: MemoryStorage, people: PersonResolver, recorder: FakeRecorder) -> CarebotBot:
    menu, runner = build_runner(
        DialogServices(
            vitals=FakeVitalsSource(),
            recorder=recorder,
            languages=RememberedLanguages(),
            knowledge=load_knowledge(),
        )
    )
    return CarebotBot(ConversationState(storage), runner, menu, people)


def _message(text: str, activity_id: str = "act-1") -> Activity:
    return Activity(
        type=ActivityTypes.message,
        id=activity_id,
        text=text,
        channel_id="test",
        service_url="https://test.example",
        conversation=ConversationAccount(id="conv-1"),
        from_property=ChannelAccount(id="user-1", name="Alice"),
        recipient=ChannelAccount(id="bot", name="carebot"),
    )


async def test_state_is_saved_before_the_replies_are_sent(people: PersonResolver) -> None:
    log: list[str] = []
    bot = _bot(LoggedStorage(log), people, FakeRecorder())
    adapter = LoggedAdapter(log, bot.on_turn)
    await adapter.receive_activity(_message("I have a sore throat"))
    assert log == ["saved", "sent"]
    reply = adapter.get_next_activity()
    assert reply.text == "How old are you?"


async def test_a_failed_save_sends_no_reply(people: PersonResolver) -> None:
    log: list[str] = []
    bot = _bot(LoggedStorage(log, fail=True), people, FakeRecorder())
    adapter = LoggedAdapter(log, bot.on_turn)
    with pytest.raises(OSError):
        await adapter.receive_activity(_message("I have a sore throat"))
    assert log == ["saved"]  # the question that was not stored was never asked


def test_the_activity_key_names_channel_conversation_and_activity() -> None:
    assert activity_key(_message("hi", "act-9")) == "test/conv-1/act-9"
    assert activity_key(Activity(type=ActivityTypes.message, text="hi")) is None
