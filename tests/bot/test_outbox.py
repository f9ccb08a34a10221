"""The outbox: enqueued with the work that made it, de-duplicated by key, sent once.

Every test runs on SQLite and on PostgreSQL (`database_url`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.outbox import (
    Backoff,
    ClaimedItem,
    Outbox,
    OutboxDispatcher,
    OutboxItem,
    OutboxRow,
    OutboxStatus,
    PermanentDeliveryError,
    enqueue,
)
from integrations.persistence.tables import BotStateRow

KIND = "test.note"
NO_WAIT = Backoff(base=timedelta(0), cap=timedelta(0))


class RecordingHandler:
    """Delivers by recording the payload; the first FAILURES deliveries raise ERROR."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.delivered: list[str] = []
        self.tries = 0
        self._failures = failures
        self._error = error or ConnectionError("the channel is down")

    async def deliver(self, item: ClaimedItem) -> None:
        self.tries += 1
        if self.tries <= self._failures:
            raise self._error
        self.delivered.append(item.payload)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def wait_for_status(outbox: Outbox, key: str, status: OutboxStatus) -> None:
    """Until the item with KEY has STATUS (a dispatcher in another task settles it)."""
    async with asyncio.timeout(5):
        # A durable row has no event to wait on: poll it.
        while (await outbox.status(key) or (None,))[0] != status:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def item(key: str, payload: str = '{"n": 1}') -> OutboxItem:
    return OutboxItem(key=key, kind=KIND, payload=payload)


async def test_the_same_key_twice_is_sent_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    outbox = Outbox(sessions)
    handler = RecordingHandler()
    dispatcher = OutboxDispatcher(outbox, {KIND: handler})
    assert await outbox.enqueue(item("visit-42:reminder", '{"n": 1}')) is True
    assert await outbox.enqueue(item("visit-42:reminder", '{"n": 2}')) is False
    assert await dispatcher.dispatch_once() == 1
    # Acknowledged: a producer retrying with the same key changes nothing.
    assert await outbox.enqueue(item("visit-42:reminder", '{"n": 3}')) is False
    assert await dispatcher.dispatch_once() == 0
    assert handler.delivered == ['{"n": 1}']
    assert await outbox.status("visit-42:reminder") == (OutboxStatus.SENT, 1)


async def test_an_item_commits_or_rolls_back_with_the_work_that_made_it(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    def work(key: str) -> BotStateRow:
        return BotStateRow(key=key, document="{}", etag="1", updated_at=datetime.now(UTC))

    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            session.add(work("state-a"))
            await enqueue(session, item("after-a"))
            raise RuntimeError("the work failed")
    async with sessions.begin() as session:
        session.add(work("state-b"))
        await enqueue(session, item("after-b"))
    async with sessions() as session:
        keys = (await session.scalars(select(OutboxRow.dedup_key))).all()
        states = (await session.scalars(select(BotStateRow.key))).all()
    assert (keys, states) == (["after-b"], ["state-b"])


async def test_a_failed_send_waits_its_backoff_then_is_retried(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    handler = RecordingHandler(failures=1)
    waiting = OutboxDispatcher(
        Outbox(sessions, backoff=Backoff(base=timedelta(hours=1))), {KIND: handler}
    )
    await Outbox(sessions).enqueue(item("k"))
    assert await waiting.dispatch_once() == 1
    assert await Outbox(sessions).status("k") == (OutboxStatus.PENDING, 1)
    assert await waiting.dispatch_once() == 0  # not due for an hour
    assert handler.delivered == []

    handler = RecordingHandler(failures=2)
    retrying = OutboxDispatcher(Outbox(sessions, backoff=NO_WAIT), {KIND: handler})
    await Outbox(sessions).enqueue(item("k2"))
    for _ in range(3):
        await retrying.dispatch_once()
    assert handler.delivered == ['{"n": 1}']
    assert await Outbox(sessions).status("k2") == (OutboxStatus.SENT, 3)


async def test_permanent_errors_and_too_many_attempts_give_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    outbox = Outbox(sessions, backoff=NO_WAIT, max_attempts=3)
    refused = RecordingHandler(failures=99, error=PermanentDeliveryError("no conversation"))
    flaky = RecordingHandler(failures=99)
    dispatcher = OutboxDispatcher(outbox, {KIND: refused, "flaky": flaky})
    await outbox.enqueue(item("refused"))
    await outbox.enqueue(OutboxItem(key="flaky", kind="flaky", payload="{}"))
    await outbox.enqueue(OutboxItem(key="nobody", kind="unknown.kind", payload="{}"))
    for _ in range(5):
        await dispatcher.dispatch_once()
    assert refused.tries == 1
    assert flaky.tries == 3
    assert await outbox.status("refused") == (OutboxStatus.DEAD, 1)
    assert await outbox.status("flaky") == (OutboxStatus.DEAD, 3)
    assert await outbox.status("nobody") == (OutboxStatus.DEAD, 1)


async def test_two_claimers_at_once_never_hold_the_same_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    outbox = Outbox(sessions)
    for n in range(12):
        await outbox.enqueue(item(f"k{n}"))
    first, second = await asyncio.gather(outbox.claim(8), outbox.claim(8))
    ids = [c.id for c in first] + [c.id for c in second]
    assert len(ids) == len(set(ids)) == 12
    assert await outbox.claim(8) == []  # all leased


async def test_an_expired_lease_is_claimed_again_and_the_old_claim_cannot_settle(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    outbox = Outbox(sessions, lease=timedelta(0))
    await outbox.enqueue(item("k"))
    [stale] = await outbox.claim()
    [fresh] = await outbox.claim()  # the first claimer took too long
    assert (stale.id, fresh.attempt) == (fresh.id, 2)
    assert await outbox.mark_sent(stale) is False
    assert await outbox.mark_sent(fresh) is True
    assert await outbox.mark_sent(fresh) is False  # never twice
    assert await outbox.claim() == []
    assert await outbox.status("k") == (OutboxStatus.SENT, 2)


async def test_the_dispatcher_sends_what_is_enqueued_while_it_runs(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    handler = RecordingHandler()
    outbox = Outbox(sessions)
    dispatcher = OutboxDispatcher(outbox, {KIND: handler}, poll_interval=30)
    running = asyncio.create_task(dispatcher.run())
    try:
        await asyncio.sleep(0.05)
        await outbox.enqueue(item("k"))
        dispatcher.notify()
        await wait_for_status(outbox, "k", OutboxStatus.SENT)
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert handler.delivered == ['{"n": 1}']


@pytest.mark.parametrize("key", ["", "x" * 256])
async def test_a_bad_key_is_refused_and_nothing_is_stored(
    sessions: async_sessionmaker[AsyncSession], key: str
) -> None:
    outbox = Outbox(sessions)
    with pytest.raises(ValueError, match="key"):
        await outbox.enqueue(item(key))
    assert await outbox.claim() == []


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(base=timedelta(seconds=2), cap=timedelta(seconds=60))
    assert [backoff.delay(n).total_seconds() for n in (1, 2, 3, 5, 6, 10_000)] == [
        2,
        4,
        8,
        32,
        60,
        60,
    ]
