"""The scoring workers' shared state in the service database: the change-feed position
and the patients waiting to be scored (tables of migration core_0004).

- `scoring_feed`: the feed's position (`integrations.persistence.feed_cursor`, shared with
  every follower of the feed). One worker at a time reads the feed (`take_feed`), and in
  ONE transaction moves the position on and queues the patients whose vitals changed
  (`advance_feed`), on condition that it still holds the lease. So no entry is lost and
  none is queued twice.
- `scoring_work`: one row per patient with a pending range (sample times of changed
  Observations, merged as more arrive) and, while a worker holds it, the claimed range.
  `claim` moves pending into claimed under a lease; changes that arrive meanwhile
  gather as pending again, and the patient is claimable once the holder `finish`es, so
  no two workers score a patient at once and a window is scored again only when its
  data changed. A claim whose lease ran out (its worker died) is claimable with its
  range, merged with anything pending.

How claimers keep off each other is decided once, where the worker is assembled
(`claim_strategy`, feed_cursor.py): SKIP LOCKED on PostgreSQL, one worker on SQLite. Instants in these tables are epoch numbers (seconds
for sample times, milliseconds for leases), compared alike on both databases.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Index, String, case, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from integrations.fhir.feed import FeedPosition
from integrations.persistence.database import Base, dialect_insert
from integrations.persistence.feed_cursor import (
    ClaimStrategy,
    FeedCursor,
    FeedLease,
    claim_strategy,
    row_count,
)

__all__ = ["FEED_NAME", "Claim", "ClaimStrategy", "FeedLease", "WorkQueue", "claim_strategy"]

FEED_NAME = "default"
"""The scoring workers' feed in `scoring_feed` (their name from before the other followers,
`fhir-subscriptions` and `alerts`, kept so that stored positions hold)."""


class ScoringWorkRow(Base):
    """A patient to score: what changed (pending) and what a worker is scoring (claimed)."""

    __tablename__ = "scoring_work"
    __table_args__ = (Index("ix_scoring_work_queued", "queued_at"),)

    patient: Mapped[str] = mapped_column(String(128), primary_key=True)
    pending_low: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pending_high: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    claimed_low: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    claimed_high: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    queued_at: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Claim:
    """A patient a worker holds, and the sample times whose windows it must score."""

    patient: str
    low: datetime
    high: datetime
    token: str


W = ScoringWorkRow


def _lesser(a: Any, b: Any) -> Any:
    return case((a.is_(None), b), (b.is_(None), a), (b < a, b), else_=a)


def _greater(a: Any, b: Any) -> Any:
    return case((a.is_(None), b), (b.is_(None), a), (b > a, b), else_=a)


def _seconds(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class WorkQueue:
    """The feed position and the patients to score, shared by every worker of NAME."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        strategy: ClaimStrategy,
        *,
        lease: timedelta = timedelta(seconds=30),
        retry_after: timedelta = timedelta(seconds=10),
        name: str = FEED_NAME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self.strategy = strategy
        self.lease = lease
        self._retry_ms = int(retry_after.total_seconds() * 1000)
        self._clock = clock
        self._feed = FeedCursor(sessions, name, lease=lease, clock=clock)

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _lease_end(self) -> int:
        return self._now_ms() + int(self.lease.total_seconds() * 1000)

    # ----- the feed -----------------------------------------------------------------------
    async def take_feed(self) -> FeedLease | None:
        """The feed's position under a lease; None while another worker holds it."""
        return await self._feed.take()

    async def advance_feed(
        self,
        lease: FeedLease,
        position: FeedPosition,
        changed: Mapping[str, tuple[datetime, datetime]],
    ) -> bool:
        """Move the feed to POSITION and queue CHANGED (patient: earliest and latest sample
        time) together, and give the feed back; False, and nothing done, if the lease had
        passed to another worker."""

        async def queue(session: AsyncSession) -> None:
            if changed:
                await self._enqueue(session, changed)

        return await self._feed.advance(lease, position, queue)

    async def release_feed(self, lease: FeedLease) -> None:
        """Give the feed back unmoved (reading it failed)."""
        await self._feed.release(lease)

    async def _enqueue(
        self, session: AsyncSession, changed: Mapping[str, tuple[datetime, datetime]]
    ) -> None:
        now = self._now_ms()
        rows = [
            {
                "patient": patient,
                "pending_low": _seconds(low),
                "pending_high": _seconds(high),
                "queued_at": now,
            }
            for patient, (low, high) in sorted(changed.items())
        ]
        table = W.__table__.c
        insert = dialect_insert(session, W.__table__)
        idle = table.pending_low.is_(None) & table.claimed_low.is_(None)
        await session.execute(
            insert.values(rows).on_conflict_do_update(
                index_elements=["patient"],
                set_={
                    "pending_low": _lesser(table.pending_low, insert.excluded.pending_low),
                    "pending_high": _greater(table.pending_high, insert.excluded.pending_high),
                    "queued_at": case((idle, insert.excluded.queued_at), else_=table.queued_at),
                },
            )
        )

    # ----- the patients -------------------------------------------------------------------
    async def claim(self, limit: int) -> list[Claim]:
        """Up to LIMIT patients, oldest queued first, held by one token until the lease ends."""
        now = self._now_ms()
        token = uuid.uuid4().hex
        due = (
            select(W.patient)
            .where(
                or_(W.pending_low.is_not(None), W.claimed_low.is_not(None)),
                or_(W.lease_until.is_(None), W.lease_until < now),
            )
            .order_by(W.queued_at, W.patient)
            .limit(limit)
        )
        if self.strategy is ClaimStrategy.SKIP_LOCKED:
            due = due.with_for_update(skip_locked=True)
        async with self._sessions.begin() as session:
            await session.execute(
                update(W)
                .where(W.patient.in_(due.scalar_subquery()))
                .values(
                    claimed_low=_lesser(W.claimed_low, W.pending_low),
                    claimed_high=_greater(W.claimed_high, W.pending_high),
                    pending_low=None,
                    pending_high=None,
                    claim_token=token,
                    lease_until=self._lease_end(),
                )
                .execution_options(synchronize_session=False)
            )
            rows = (
                await session.execute(
                    select(W.patient, W.claimed_low, W.claimed_high)
                    .where(W.claim_token == token)
                    .order_by(W.queued_at, W.patient)
                )
            ).all()
        return [
            Claim(patient, _moment(low), _moment(high), token)
            for patient, low, high in rows
            if low is not None and high is not None  # set by the claim itself
        ]

    async def renew(self, token: str) -> set[str]:
        """Extend the lease of TOKEN's claims; the patients still held by it."""
        async with self._sessions.begin() as session:
            rows = await session.execute(
                update(W)
                .where(W.claim_token == token)
                .values(lease_until=self._lease_end())
                .returning(W.patient)
            )
            return {str(r[0]) for r in rows}

    async def finish(self, claim: Claim) -> bool:
        """CLAIM was scored: the patient leaves the queue, or waits with what changed since;
        False if its lease had passed to another worker."""
        held = (W.patient == claim.patient, W.claim_token == claim.token)
        async with self._sessions.begin() as session:
            gone = await session.execute(delete(W).where(*held, W.pending_low.is_(None)))
            if row_count(gone) == 1:
                return True
            kept = await session.execute(
                update(W)
                .where(*held)
                .values(claimed_low=None, claimed_high=None, claim_token=None, lease_until=None)
            )
            return row_count(kept) == 1

    async def release(self, claim: Claim) -> None:
        """CLAIM could not be scored: its range waits, merged with anything pending, and is
        claimable again after the retry delay."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(W)
                .where(W.patient == claim.patient, W.claim_token == claim.token)
                .values(
                    pending_low=_lesser(W.pending_low, W.claimed_low),
                    pending_high=_greater(W.pending_high, W.claimed_high),
                    claimed_low=None,
                    claimed_high=None,
                    claim_token=None,
                    lease_until=self._now_ms() + self._retry_ms,
                )
            )

    async def outstanding(self) -> int:
        """Patients queued or being scored."""
        async with self._sessions() as session:
            return int((await session.execute(select(func.count()).select_from(W))).scalar_one())
