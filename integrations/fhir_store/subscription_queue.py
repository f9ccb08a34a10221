"""The durable queue of Subscription notifications (tables of migration fhir_0008).

- `fhir_notification`: one row per notification still to deliver: the subscription, the
  version it tells of, and its stable id (sent with every attempt). Rows are added in the
  transaction that moves the matcher's feed position on (`enqueue`), once per subscription
  and version whatever happens, and deleted when the endpoint took them.
- `fhir_subscription_delivery`: per subscription, whether it is delivered to (`active`,
  mirrored from the resource's status by the matcher), its failures in a row, when the
  next attempt is due, and who holds it. A dispatcher claims a subscription (`claim`) and
  delivers its notifications oldest first, one at a time, so they arrive in order and a
  failing endpoint is retried with one notification, not the whole queue.

Claims keep off each other as `claim_strategy` says (SKIP LOCKED on PostgreSQL, one
dispatcher on SQLite) and last a lease: a dispatcher that dies leaves its subscription
to the next once the lease ends, which sends the same notification again with the same
id (at least once). Instants are epoch milliseconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from integrations.fhir_store.tables import BigId
from integrations.persistence.database import Base, dialect_insert
from integrations.persistence.feed_cursor import ClaimStrategy, row_count


class FhirNotificationRow(Base):
    """A notification waiting to be delivered."""

    __tablename__ = "fhir_notification"
    __table_args__ = (
        UniqueConstraint(
            "subscription_id", "res_type", "res_id", "version_id", name="uq_fhir_note"
        ),
        Index("ix_fhir_notification_sub", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[str] = mapped_column(String(36))
    subscription_id: Mapped[str] = mapped_column(String(64))
    res_type: Mapped[str] = mapped_column(String(64))
    res_id: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[int] = mapped_column(BigInteger)


class FhirSubscriptionDeliveryRow(Base):
    """Where delivery to one subscription stands."""

    __tablename__ = "fhir_subscription_delivery"

    subscription_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    failures: Mapped[int] = mapped_column(Integer)
    failing_since: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    next_attempt: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


N = FhirNotificationRow
D = FhirSubscriptionDeliveryRow


@dataclass(frozen=True)
class Match:
    """A version a subscription matched."""

    subscription_id: str
    resource_type: str
    resource_id: str
    version_id: int


@dataclass(frozen=True)
class Pending:
    """The oldest notification of a claimed subscription."""

    row: int
    notification_id: str
    resource_type: str
    resource_id: str
    version_id: int

    @property
    def reference(self) -> str:
        """`Type/id`."""
        return f"{self.resource_type}/{self.resource_id}"


@dataclass(frozen=True)
class Held:
    """A subscription a dispatcher holds, and its failures in a row so far."""

    subscription_id: str
    token: str
    failures: int
    failing_since: int | None


class DeliveryQueue:
    """The notifications and delivery states shared by every dispatcher on the database."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        strategy: ClaimStrategy,
        *,
        lease_s: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self.strategy = strategy
        self._lease_ms = int(lease_s * 1000)
        self._clock = clock

    def now_ms(self) -> int:
        """Now, in the queue's epoch milliseconds."""
        return int(self._clock() * 1000)

    # ----- the matcher's side (in the feed cursor's transaction) ---------------------------
    async def mirror(self, session: AsyncSession, states: dict[str, bool | None]) -> None:
        """Record whether each subscription is delivered to (its resource's status; None:
        deleted, its queue dropped); one turned (back) on is due now with no failures: it
        resumes with its oldest notification."""
        now = self.now_ms()
        for subscription_id, active in sorted(states.items()):
            if active is None:
                await session.execute(delete(N).where(N.subscription_id == subscription_id))
                await session.execute(delete(D).where(D.subscription_id == subscription_id))
                continue
            insert = dialect_insert(session, D.__table__).values(
                subscription_id=subscription_id,
                active=active,
                failures=0,
                next_attempt=now,
            )
            if active:
                turned_on = D.__table__.c.active.is_(False)
                await session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["subscription_id"],
                        set_={"active": True, "failures": 0, "failing_since": None,
                              "next_attempt": now},
                        where=turned_on,
                    )
                )  # fmt: skip
            else:
                await session.execute(
                    insert.on_conflict_do_update(
                        index_elements=["subscription_id"], set_={"active": False}
                    )
                )

    async def enqueue(self, session: AsyncSession, matches: Iterable[Match]) -> int:
        """Queue a notification per match, once per subscription and version."""
        now = self.now_ms()
        rows = [
            {
                "notification_id": str(uuid.uuid4()),
                "subscription_id": m.subscription_id,
                "res_type": m.resource_type,
                "res_id": m.resource_id,
                "version_id": m.version_id,
                "queued_at": now,
            }
            for m in matches
        ]
        if not rows:
            return 0
        await session.execute(
            dialect_insert(session, N.__table__)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["subscription_id", "res_type", "res_id", "version_id"]
            )
        )
        return len(rows)

    # ----- the dispatchers' side ------------------------------------------------------------
    async def claim(self) -> Held | None:
        """One active subscription with notifications due, held until the lease ends."""
        now = self.now_ms()
        token = uuid.uuid4().hex
        due = (
            select(D.subscription_id)
            .where(
                D.active.is_(True),
                D.next_attempt <= now,
                or_(D.lease_until.is_(None), D.lease_until < now),
                exists().where(N.subscription_id == D.subscription_id),
            )
            .order_by(D.next_attempt, D.subscription_id)
            .limit(1)
        )
        if self.strategy is ClaimStrategy.SKIP_LOCKED:
            due = due.with_for_update(skip_locked=True)
        async with self._sessions.begin() as session:
            await session.execute(
                update(D)
                .where(D.subscription_id.in_(due.scalar_subquery()))
                .values(claim_token=token, lease_until=now + self._lease_ms)
                .execution_options(synchronize_session=False)
            )
            row = (
                await session.execute(
                    select(D.subscription_id, D.failures, D.failing_since).where(
                        D.claim_token == token
                    )
                )
            ).first()
        if row is None:
            return None
        return Held(row.subscription_id, token, row.failures, row.failing_since)

    async def oldest(self, held: Held) -> Pending | None:
        """The oldest notification of HELD's subscription, if any."""
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(N.id, N.notification_id, N.res_type, N.res_id, N.version_id)
                    .where(N.subscription_id == held.subscription_id)
                    .order_by(N.id)
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        return Pending(row.id, row.notification_id, row.res_type, row.res_id, row.version_id)

    def _holding(self, held: Held) -> tuple[object, ...]:
        return (D.subscription_id == held.subscription_id, D.claim_token == held.token)

    async def delivered(self, held: Held, pending: Pending) -> bool:
        """PENDING reached its endpoint (or has nothing left to tell): it leaves the queue,
        the failures are forgotten and the lease renewed; False if the lease had passed."""
        async with self._sessions.begin() as session:
            kept = await session.execute(
                update(D)
                .where(*self._holding(held))  # type: ignore[arg-type]
                .values(
                    failures=0,
                    failing_since=None,
                    last_error=None,
                    lease_until=self.now_ms() + self._lease_ms,
                )
            )
            if row_count(kept) != 1:
                return False
            await session.execute(delete(N).where(N.id == pending.row))
        return True

    async def failed(self, held: Held, delay_s: float, error: str) -> Held:
        """An attempt failed: the subscription waits DELAY_S and is let go."""
        now = self.now_ms()
        failing_since = held.failing_since if held.failing_since is not None else now
        async with self._sessions.begin() as session:
            await session.execute(
                update(D)
                .where(*self._holding(held))  # type: ignore[arg-type]
                .values(
                    failures=held.failures + 1,
                    failing_since=failing_since,
                    next_attempt=now + int(delay_s * 1000),
                    last_error=error,
                    claim_token=None,
                    lease_until=None,
                )
            )
        return Held(held.subscription_id, held.token, held.failures + 1, failing_since)

    async def stop(self, session: AsyncSession, held: Held, error: str) -> bool:
        """Delivery gave up, in SESSION (the transaction that sets the Subscription to
        error): no longer delivered to, its queue kept; False if the lease had passed."""
        stopped = await session.execute(
            update(D)
            .where(*self._holding(held))  # type: ignore[arg-type]
            .values(
                active=False,
                failures=held.failures,
                failing_since=held.failing_since,
                last_error=error,
                claim_token=None,
                lease_until=None,
            )
        )
        return row_count(stopped) == 1

    async def pause(self, held: Held, gone: bool) -> None:
        """HELD's Subscription is not active (GONE: deleted): it is no longer delivered to
        until the matcher sees it turned on again; a deleted one's queue is dropped."""
        async with self._sessions.begin() as session:
            if gone:
                await session.execute(delete(N).where(N.subscription_id == held.subscription_id))
                await session.execute(delete(D).where(*self._holding(held)))  # type: ignore[arg-type]
                return
            await session.execute(
                update(D)
                .where(*self._holding(held))  # type: ignore[arg-type]
                .values(active=False, claim_token=None, lease_until=None)
            )

    async def release(self, held: Held) -> None:
        """Let HELD go without an attempt (its queue is empty, or the dispatcher stops)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(D)
                .where(*self._holding(held))  # type: ignore[arg-type]
                .values(claim_token=None, lease_until=None)
            )

    async def waiting(self, subscription_id: str | None = None) -> int:
        """Notifications still queued (of one subscription, or all)."""
        stmt = select(func.count()).select_from(N)
        if subscription_id is not None:
            stmt = stmt.where(N.subscription_id == subscription_id)
        async with self._sessions() as session:
            return int((await session.execute(stmt)).scalar_one())

    async def next_due_ms(self) -> int | None:
        """When the next active subscription with notifications is due, if any."""
        stmt = select(func.min(D.next_attempt)).where(
            and_(D.active.is_(True), exists().where(N.subscription_id == D.subscription_id))
        )
        async with self._sessions() as session:
            value = (await session.execute(stmt)).scalar_one()
        return int(value) if value is not None else None
