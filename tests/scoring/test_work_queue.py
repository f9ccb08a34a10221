"""The workers' shared queue on SQLite and PostgreSQL: one feed reader at a time, a
patient held by one worker, a dead worker's claims passed on when their lease ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from integrations.persistence.database import create_engine, create_sessionmaker
from scoring.feed import FeedPosition
from scoring.work_queue import ClaimStrategy, WorkQueue, claim_strategy

H = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def queues(database_url: str) -> AsyncIterator[tuple[WorkQueue, WorkQueue, Clock]]:
    """Two workers' queues on separate engines (connection pools), one clock."""
    clock = Clock()
    engines = [create_engine(database_url), create_engine(database_url)]
    made = [
        WorkQueue(create_sessionmaker(e), claim_strategy(database_url), clock=clock)
        for e in engines
    ]
    yield made[0], made[1], clock
    for engine in engines:
        await engine.dispose()


def test_the_strategy_follows_the_database() -> None:
    assert claim_strategy("sqlite+aiosqlite:///x.db") is ClaimStrategy.SINGLE_WORKER
    assert claim_strategy("postgresql+asyncpg://h/db") is ClaimStrategy.SKIP_LOCKED


async def test_one_feed_reader_at_a_time_and_a_lost_lease_changes_nothing(
    queues: tuple[WorkQueue, WorkQueue, Clock],
) -> None:
    a, b, clock = queues
    lease = await a.take_feed()
    assert lease is not None and lease.position == FeedPosition()
    assert await b.take_feed() is None
    moved = FeedPosition("2026-12-01T10:00:00Z", frozenset({"k"}))
    assert await a.advance_feed(lease, moved, {"p1": (H, H + timedelta(minutes=5))})
    again = await b.take_feed()
    assert again is not None and again.position == moved
    clock.now += 31  # b stalls past its lease; a takes the feed over
    taken = await a.take_feed()
    assert taken is not None
    later = FeedPosition("2026-12-01T11:00:00Z", frozenset())
    assert not await b.advance_feed(again, later, {"p2": (H, H)})  # nothing queued, not moved
    assert await a.outstanding() == 1
    await a.release_feed(taken)
    final = await b.take_feed()
    assert final is not None and final.position == moved


async def test_a_claimed_patient_is_nobody_elses_until_finished_or_expired(
    queues: tuple[WorkQueue, WorkQueue, Clock],
) -> None:
    a, b, clock = queues
    lease = await a.take_feed()
    assert lease is not None
    changed = {p: (H, H + timedelta(minutes=10)) for p in ("p1", "p2", "p3")}
    assert await a.advance_feed(lease, FeedPosition("2026-12-01T10:00:00Z"), changed)
    first = await a.claim(2)
    second = await b.claim(10)
    assert [c.patient for c in first] == ["p1", "p2"]
    assert [c.patient for c in second] == ["p3"]
    assert first[0].low == H and first[0].high == H + timedelta(minutes=10)
    assert await b.claim(10) == []
    # p1 changes again while held: it waits, with only the new range, for its holder
    lease = await b.take_feed()
    assert lease is not None
    new = {"p1": (H + timedelta(hours=2), H + timedelta(hours=2))}
    assert await b.advance_feed(lease, FeedPosition("2026-12-01T11:00:00Z"), new)
    assert await b.claim(10) == []
    assert await a.finish(first[0])
    (p1,) = await b.claim(10)
    assert (p1.patient, p1.low, p1.high) == ("p1", H + timedelta(hours=2), H + timedelta(hours=2))
    assert await b.finish(p1) and await b.finish(second[0])
    # a dies holding p2: after the lease another worker gets it with its range
    assert await b.claim(10) == []
    clock.now += 31
    (p2,) = await b.claim(10)
    assert (p2.patient, p2.low, p2.high) == ("p2", H, H + timedelta(minutes=10))
    assert not await a.finish(first[1])  # a's stale claim changes nothing
    assert await b.renew(p2.token) == {"p2"}
    assert await b.finish(p2)
    assert await a.outstanding() == 0


async def test_a_released_claim_is_retried_after_the_delay_with_its_range(
    queues: tuple[WorkQueue, WorkQueue, Clock],
) -> None:
    a, b, clock = queues
    lease = await a.take_feed()
    assert lease is not None
    await a.advance_feed(lease, FeedPosition("x"), {"p1": (H, H)})
    (claim,) = await a.claim(5)
    lease = await a.take_feed()
    assert lease is not None
    await a.advance_feed(lease, FeedPosition("y"), {"p1": (H - timedelta(hours=1), H)})
    await a.release(claim)
    assert await b.claim(5) == []
    clock.now += 11
    (retry,) = await b.claim(5)
    assert (retry.low, retry.high) == (H - timedelta(hours=1), H)
