"""A durable outbox: what goes outside is stored first, then sent at least once, seen once.

A producer calls `enqueue(session, item)` inside the transaction of the work that made
the item, so both commit or neither does; the de-duplication key makes a retried producer
harmless. A dispatcher claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several
processes share the work; SQLite serialises writers, one claimer), hands each to the
handler of its kind, marks it sent, or schedules a retry with exponential backoff. A sent
key is never claimed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from sqlalchemy import DateTime, Index, Integer, String, Text, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from integrations.persistence.database import Base, dialect_insert

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255
LEASE_USE = 0.5
"""The part of a claim's lease its dispatcher delivers in; the rest is margin for the
last delivery begun."""


class OutboxStatus(StrEnum):
    """Where a row is in its life."""

    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"
    """Given up: a permanent error or too many attempts; kept for inspection."""


class OutboxRow(Base):
    """One thing to send outside, keyed for de-duplication."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class OutboxItem:
    """What a producer asks to send: KIND names the handler, PAYLOAD is its JSON text."""

    key: str
    kind: str
    payload: str


@dataclass(frozen=True)
class ClaimedItem:
    """A row a dispatcher holds until its lease ends."""

    id: int
    key: str
    kind: str
    payload: str
    attempt: int
    """1 on the first try."""
    claim_token: str


class PermanentDeliveryError(Exception):
    """The item can never be delivered (no such conversation, refused as malformed)."""


class RetryLater(Exception):
    """Try again after DELAY, not sooner (the other side said so: a 429's Retry-After)."""

    def __init__(self, delay: timedelta, reason: str = "retry later") -> None:
        super().__init__(reason)
        self.delay = delay


class OutboxHandler(Protocol):
    """Delivers the items of one kind."""

    async def deliver(self, item: ClaimedItem) -> None:
        """Send ITEM; raise to retry later, `PermanentDeliveryError` to give up."""
        ...


@dataclass(frozen=True)
class Backoff:
    """Exponential retry delays: BASE, 2*BASE, 4*BASE ... capped at CAP."""

    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=15)

    def delay(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ATTEMPT (1-based)."""
        delay: timedelta = self.base * (2 ** max(0, min(attempt - 1, 30)))
        return min(self.cap, delay)


def _now() -> datetime:
    return datetime.now(UTC)


def _check(item: OutboxItem) -> None:
    if not item.key or len(item.key) > MAX_KEY_LENGTH:
        raise ValueError(f"an outbox key is 1 to {MAX_KEY_LENGTH} characters")
    if not item.kind or len(item.kind) > 64:
        raise ValueError("an outbox kind is 1 to 64 characters")


async def enqueue(session: AsyncSession, item: OutboxItem) -> bool:
    """Add ITEM in the caller's transaction; False when its key was already enqueued."""
    _check(item)
    now = _now()
    result = await session.execute(
        dialect_insert(session, OutboxRow.__table__)
        .values(
            dedup_key=item.key,
            kind=item.kind,
            payload=item.payload,
            status=OutboxStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedup_key"])
    )
    return bool(getattr(result, "rowcount", 0) == 1)


class Outbox:
    """The outbox table: enqueue, claim, and settle what was claimed."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        lease: timedelta = timedelta(minutes=2),
        max_attempts: int = 10,
        backoff: Backoff = Backoff(),
    ) -> None:
        self._sessions = sessions
        self._lease = lease
        self._max_attempts = max_attempts
        self._backoff = backoff

    @property
    def lease(self) -> timedelta:
        """How long a claim holds its items."""
        return self._lease

    @property
    def max_attempts(self) -> int:
        """Attempts before an item is given up."""
        return self._max_attempts

    async def enqueue(self, item: OutboxItem) -> bool:
        """Enqueue ITEM in a transaction of its own (when no other work goes with it)."""
        async with self._sessions.begin() as session:
            return await enqueue(session, item)

    async def claim(self, limit: int = 20) -> list[ClaimedItem]:
        """Take up to LIMIT due rows for one lease; rows another claimer holds are skipped."""
        now = _now()
        token = uuid.uuid4().hex
        due = (
            select(OutboxRow.id)
            .where(
                OutboxRow.status == OutboxStatus.PENDING.value,
                OutboxRow.next_attempt_at <= now,
                or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until < now),
            )
            .order_by(OutboxRow.id)
            .limit(limit)
            # PostgreSQL: rows locked by another claimer's transaction are passed over.
            # SQLite ignores the clause; its single writer lock serialises claimers.
            .with_for_update(skip_locked=True)
        )
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id.in_(due.scalar_subquery()))
                .values(
                    claim_token=token,
                    lease_until=now + self._lease,
                    attempts=OutboxRow.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            rows = (
                await session.execute(
                    select(
                        OutboxRow.id,
                        OutboxRow.dedup_key,
                        OutboxRow.kind,
                        OutboxRow.payload,
                        OutboxRow.attempts,
                    )
                    .where(OutboxRow.claim_token == token)
                    .order_by(OutboxRow.id)
                )
            ).all()
        return [ClaimedItem(r[0], r[1], r[2], r[3], r[4], token) for r in rows]

    async def mark_sent(self, item: ClaimedItem) -> bool:
        """Record ITEM as delivered; False if its lease had passed to another claimer."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == item.id,
                    OutboxRow.claim_token == item.claim_token,
                    OutboxRow.status == OutboxStatus.PENDING.value,
                )
                .values(
                    status=OutboxStatus.SENT.value,
                    sent_at=_now(),
                    lease_until=None,
                    last_error=None,
                )
            )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def mark_failed(
        self, item: ClaimedItem, error: str, *, permanent: bool, delay: timedelta | None = None
    ) -> OutboxStatus:
        """Schedule ITEM's next attempt after DELAY (default: the backoff's), or give it up;
        ERROR names the failure's type."""
        dead = permanent or item.attempt >= self._max_attempts
        status = OutboxStatus.DEAD if dead else OutboxStatus.PENDING
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == item.id,
                    OutboxRow.claim_token == item.claim_token,
                    OutboxRow.status == OutboxStatus.PENDING.value,
                )
                .values(
                    status=status.value,
                    next_attempt_at=_now()
                    + (delay if delay is not None else self._backoff.delay(item.attempt)),
                    lease_until=None,
                    last_error=error[:128],
                )
            )
        return status

    async def sent_after(
        self, kind: str, after_id: int, key_suffixes: Sequence[str], limit: int = 100
    ) -> list[tuple[int, str]]:
        """Items of KIND sent, with ids above AFTER_ID and keys ending in one of
        KEY_SUFFIXES, oldest first: (id, payload)."""
        if not key_suffixes:
            return []
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(OutboxRow.id, OutboxRow.payload)
                    .where(
                        OutboxRow.kind == kind,
                        OutboxRow.status == OutboxStatus.SENT.value,
                        OutboxRow.id > after_id,
                        or_(*[OutboxRow.dedup_key.endswith(s) for s in key_suffixes]),
                    )
                    .order_by(OutboxRow.id)
                    .limit(limit)
                )
            ).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    async def last_id(self) -> int:
        """The newest item's id (0 when there is none)."""
        async with self._sessions() as session:
            value = (await session.execute(select(func.max(OutboxRow.id)))).scalar_one()
        return int(value or 0)

    async def status(self, key: str) -> tuple[OutboxStatus, int] | None:
        """The status and attempt count of the item with KEY, if there is one."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(OutboxRow.status, OutboxRow.attempts).where(OutboxRow.dedup_key == key)
                )
            ).one_or_none()
        return None if row is None else (OutboxStatus(row[0]), int(row[1]))


class OutboxDispatcher:
    """Claims due items and delivers each through the handler registered for its kind."""

    def __init__(
        self,
        outbox: Outbox,
        handlers: Mapping[str, OutboxHandler],
        *,
        poll_interval: float = 1.0,
        batch: int = 20,
    ) -> None:
        self._outbox = outbox
        self._handlers = dict(handlers)
        self._poll_interval = poll_interval
        self._batch = batch
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._wake.set()

    async def dispatch_once(self) -> int:
        """Deliver one batch of due items; the number claimed."""
        claimed = await self._outbox.claim(self._batch)
        # Deliver only while the claim's lease has time left: once it ends another claimer
        # may take the rest, which are left to it rather than delivered twice.
        deadline = time.monotonic() + self._outbox.lease.total_seconds() * LEASE_USE
        for item in claimed:
            if time.monotonic() > deadline:
                break
            await self._deliver(item)
        return len(claimed)

    async def _deliver(self, item: ClaimedItem) -> None:
        handler = self._handlers.get(item.kind)
        try:
            if handler is None:
                raise PermanentDeliveryError(f"no handler for {item.kind!r}")
            await handler.deliver(item)
        except asyncio.CancelledError:
            raise  # the lease runs out and another claim retries it
        except Exception as error:
            permanent = isinstance(error, PermanentDeliveryError)
            delay = error.delay if isinstance(error, RetryLater) else None
            status = await self._outbox.mark_failed(
                item, type(error).__name__, permanent=permanent, delay=delay
            )
            # The type only: messages and payloads may carry health data.
            log.warning(
                "outbox %s item %d attempt %d failed (%s): %s",
                item.kind,
                item.id,
                item.attempt,
                type(error).__name__,
                status.value,
            )
            return
        await self._outbox.mark_sent(item)

    async def run(self) -> None:
        """Dispatch until cancelled: a full batch goes on at once, else wait for a poke."""
        while True:
            self._wake.clear()  # before the claim, so a poke during it is not lost
            if await self.dispatch_once() >= self._batch:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_interval)
