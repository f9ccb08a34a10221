"""Followers of a change feed sharing one position in the service database.

- `scoring_feed` (migration core_0004; the scoring worker's first, the name stayed): one
  row per named feed, its `FeedPosition`. One follower at a time reads the feed: it takes
  the row's lease (`take`), reads, and in ONE transaction moves the position on and does
  its own work with what it read (`advance`: queue patients to score, queue notifications),
  on condition that it still holds the lease. A follower that dies or stalls loses the
  lease; the next one reads the same stretch again. So no entry is lost and none is taken
  in twice.
- `claim_strategy`: how workers claiming rows of a queue keep off each other, decided once
  where a worker is assembled: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED`, so they
  pass over the rows another is claiming instead of waiting; on SQLite, whose writer lock
  serialises every claim, one worker.

Lease instants are epoch milliseconds, compared alike on both databases.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any

from sqlalchemy import BigInteger, String, Text, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from integrations.fhir.feed import FeedPosition
from integrations.persistence.database import Base, dialect_insert, is_sqlite


class FeedRow(Base):
    """A change feed's position and who is reading it."""

    __tablename__ = "scoring_feed"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[str | None] = mapped_column(Text, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ClaimStrategy(Enum):
    """How concurrent claimers keep off each other's rows."""

    SKIP_LOCKED = "skip-locked"
    """PostgreSQL: rows another claimer's transaction locked are passed over."""
    SINGLE_WORKER = "single-worker"
    """SQLite: the database's one writer serialises claims; run one worker."""


def claim_strategy(database_url: str) -> ClaimStrategy:
    """The strategy the database at DATABASE_URL supports."""
    return ClaimStrategy.SINGLE_WORKER if is_sqlite(database_url) else ClaimStrategy.SKIP_LOCKED


@dataclass(frozen=True)
class FeedLease:
    """The feed, held by one follower until `advance` (or the lease's end)."""

    token: str
    position: FeedPosition


def row_count(result: Any) -> int:
    """The rows an UPDATE or DELETE touched."""
    return int(getattr(result, "rowcount", 0) or 0)


F = FeedRow
Work = Callable[[AsyncSession], Awaitable[None]]


class FeedCursor:
    """The position of the feed NAME, read by one follower at a time under a lease."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        name: str,
        *,
        lease: timedelta = timedelta(seconds=30),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._name = name
        self.lease = lease
        self._clock = clock

    def _lease_end(self) -> int:
        return int(self._clock() * 1000) + int(self.lease.total_seconds() * 1000)

    async def take(self, start: FeedPosition | None = None) -> FeedLease | None:
        """The feed's position under a lease; None while another follower holds it. A feed
        read for the first time starts at START (default: the beginning)."""
        token = uuid.uuid4().hex
        first = start.to_json() if start is not None and start.since else None
        async with self._sessions.begin() as session:
            await session.execute(
                dialect_insert(session, F.__table__)
                .values(name=self._name, position=first)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            taken = await session.execute(
                update(F)
                .where(
                    F.name == self._name,
                    or_(F.lease_until.is_(None), F.lease_until < int(self._clock() * 1000)),
                )
                .values(claim_token=token, lease_until=self._lease_end())
            )
            if row_count(taken) != 1:
                return None
            position = (
                await session.execute(select(F.position).where(F.name == self._name))
            ).scalar_one()
        return FeedLease(token, FeedPosition.from_json(position))

    async def advance(self, lease: FeedLease, position: FeedPosition, work: Work | None) -> bool:
        """Move the feed to POSITION, do WORK in the same transaction, and give the feed
        back; False, and nothing done, if the lease had passed to another follower."""
        async with self._sessions.begin() as session:
            moved = await session.execute(
                update(F)
                .where(F.name == self._name, F.claim_token == lease.token)
                .values(position=position.to_json(), claim_token=None, lease_until=None)
            )
            if row_count(moved) != 1:
                return False
            if work is not None:
                await work(session)
        return True

    async def release(self, lease: FeedLease) -> None:
        """Give the feed back unmoved (reading it failed)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(F)
                .where(F.name == self._name, F.claim_token == lease.token)
                .values(claim_token=None, lease_until=None)
            )
