"""Live handoffs: a patient asks for a person in the chat, a care manager takes the
conversation from the staff page, messages are relayed both ways, then the care manager
hands it back to the bot. Durable (SQLite or PostgreSQL; migration core_0005).

Who may see a request is decided here, once (`may_see`): the care manager the patient is
assigned to (Patient.generalPractitioner), or anyone on the care team when the patient has
none. Taking is a conditional update, so two care managers never both take one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from integrations.persistence.database import Base

MAX_MESSAGE = 2000


class HandoffStatus(StrEnum):
    """Where a handoff is."""

    WAITING = "waiting"
    TAKEN = "taken"
    CLOSED = "closed"


class Sender(StrEnum):
    """Who wrote a relayed message."""

    PATIENT = "patient"
    STAFF = "staff"


class HandoffRow(Base):
    """One request of a patient to talk with a person."""

    __tablename__ = "handoff"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    patient: Mapped[str] = mapped_column(String(128))
    account_id: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    assigned: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    taken_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    taken_by_name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    taken_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    closed_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class HandoffMessageRow(Base):
    """One message relayed in a handoff."""

    __tablename__ = "handoff_message"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handoff_id: Mapped[str] = mapped_column(String(32), ForeignKey("handoff.id"), index=True)
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Handoff:
    """A handoff as the pages and the dialog see it."""

    id: str
    patient: str
    account_id: str
    language: str
    assigned: str | None
    status: HandoffStatus
    taken_by: str | None
    taken_by_name: str | None
    created_at: int


@dataclass(frozen=True)
class HandoffMessage:
    """A relayed message."""

    id: int
    sender: Sender
    text: str
    created_at: int


def may_see(handoff: Handoff, practitioner: str | None) -> bool:
    """Whether the care manager acting as PRACTITIONER may see HANDOFF (pure): their own
    patients' requests, and those of patients assigned to nobody."""
    return handoff.assigned is None or (
        practitioner is not None and handoff.assigned == practitioner
    )


def _handoff(row: HandoffRow) -> Handoff:
    return Handoff(row.id, row.patient, row.account_id, row.language, row.assigned,
                   HandoffStatus(row.status), row.taken_by, row.taken_by_name,
                   row.created_at)  # fmt: skip


class HandoffStore:
    """Handoffs and their messages in the database."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], float] = time.time
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    async def open(self, patient: str, account_id: str, language: str,
                   assigned: str | None) -> Handoff:  # fmt: skip
        """A new waiting request of ACCOUNT_ID for PATIENT (the open one if there is one)."""
        async with self._sessions.begin() as session:
            existing = await self._open_of(session, account_id)
            if existing is not None:
                return _handoff(existing)
            row = HandoffRow(id=uuid.uuid4().hex, patient=patient, account_id=account_id,
                             language=language, assigned=assigned,
                             status=HandoffStatus.WAITING.value, created_at=self._now())  # fmt: skip
            session.add(row)
        return _handoff(row)

    @staticmethod
    async def _open_of(session: AsyncSession, account_id: str) -> HandoffRow | None:
        return (
            await session.execute(
                select(HandoffRow).where(
                    HandoffRow.account_id == account_id,
                    HandoffRow.status != HandoffStatus.CLOSED.value,
                )
            )
        ).scalar_one_or_none()

    async def get(self, handoff_id: str) -> Handoff | None:
        """The handoff HANDOFF_ID, or None."""
        async with self._sessions() as session:
            row = await session.get(HandoffRow, handoff_id[:32])
            return _handoff(row) if row is not None else None

    async def visible_to(self, practitioner: str | None) -> list[Handoff]:
        """Open handoffs PRACTITIONER may see, oldest first."""
        mine: list[ColumnElement[bool]] = [HandoffRow.assigned.is_(None)]
        if practitioner is not None:
            mine.append(HandoffRow.assigned == practitioner)
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(HandoffRow)
                    .where(HandoffRow.status != HandoffStatus.CLOSED.value, or_(*mine))
                    .order_by(HandoffRow.created_at, HandoffRow.id)
                )
            ).scalars()
            return [_handoff(r) for r in rows]

    async def take(self, handoff_id: str, account_id: str, name: str,
                   practitioner: str | None) -> Handoff | None:  # fmt: skip
        """Take a waiting HANDOFF_ID the staff member may see; None when it is gone,
        taken by someone else meanwhile, or not theirs to see."""
        found = await self.get(handoff_id)
        if found is None or not may_see(found, practitioner):
            return None
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == found.id,
                       HandoffRow.status == HandoffStatus.WAITING.value)
                .values(status=HandoffStatus.TAKEN.value, taken_by=account_id,
                        taken_by_name=name[:128], taken_at=self._now())
            )  # fmt: skip
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        return await self.get(found.id)

    async def close(self, handoff_id: str, account_id: str) -> Handoff | None:
        """Hand HANDOFF_ID back to the bot (only by who took it); None when not theirs."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoffRow)
                .where(HandoffRow.id == handoff_id[:32], HandoffRow.taken_by == account_id,
                       HandoffRow.status == HandoffStatus.TAKEN.value)
                .values(status=HandoffStatus.CLOSED.value, closed_at=self._now())
            )  # fmt: skip
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        return await self.get(handoff_id)

    async def withdraw(self, account_id: str) -> None:
        """The patient left the handoff (cancel): close their open one."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(HandoffRow)
                .where(HandoffRow.account_id == account_id,
                       HandoffRow.status != HandoffStatus.CLOSED.value)
                .values(status=HandoffStatus.CLOSED.value, closed_at=self._now())
            )  # fmt: skip

    async def add_message(
        self, handoff_id: str, sender: Sender, text: str
    ) -> HandoffMessage | None:
        """Store a relayed message of an open handoff; None when it is closed (or unknown).
        ValueError for an empty or too long text."""
        text = text.strip()
        if not text or len(text) > MAX_MESSAGE:
            raise ValueError(f"a message is 1 to {MAX_MESSAGE} characters")
        async with self._sessions.begin() as session:
            handoff = await session.get(HandoffRow, handoff_id[:32])
            if handoff is None or handoff.status == HandoffStatus.CLOSED.value:
                return None
            row = HandoffMessageRow(handoff_id=handoff.id, sender=sender.value, text=text,
                                    created_at=self._now())  # fmt: skip
            session.add(row)
            await session.flush()
            return HandoffMessage(row.id, sender, text, row.created_at)

    async def messages(self, handoff_id: str, after: int = 0) -> list[HandoffMessage]:
        """HANDOFF_ID's messages with an id above AFTER, oldest first."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(HandoffMessageRow)
                    .where(HandoffMessageRow.handoff_id == handoff_id[:32],
                           HandoffMessageRow.id > after)
                    .order_by(HandoffMessageRow.id)
                )
            ).scalars()  # fmt: skip
            return [HandoffMessage(r.id, Sender(r.sender), r.text, r.created_at) for r in rows]
