"""Where to reach a person proactively: the last conversation seen per account and channel.

Generic persistence only: the bot edge turns its own activities into `StoredReference`
values (and back); nothing here knows botbuilder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import DateTime, String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from integrations.persistence.database import Base, dialect_insert


class ConversationRefRow(Base):
    """The newest conversation of one account on one channel of one source."""

    __tablename__ = "conversation_ref"

    account_id: Mapped[str] = mapped_column(String(192), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_url: Mapped[str] = mapped_column(String(512))
    conversation_id: Mapped[str] = mapped_column(String(512))
    bot_id: Mapped[str] = mapped_column(String(192))
    bot_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    user_id: Mapped[str] = mapped_column(String(192))
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class StoredReference:
    """What a proactive send needs to reach a conversation again."""

    account_id: str
    channel_id: str
    source: str
    """Which edge carried it: the local Direct Line or the Bot Connector."""
    service_url: str
    conversation_id: str
    bot_id: str
    user_id: str
    bot_name: str | None = None
    tenant_id: str | None = None
    locale: str | None = None


# Column sizes; a reference with a longer required field is not stored (it could not be
# reached with anyway), a longer optional one is stored without it.
MAX_LENGTHS: dict[str, int] = {
    "account_id": 192,
    "channel_id": 64,
    "source": 32,
    "service_url": 512,
    "conversation_id": 512,
    "bot_id": 192,
    "bot_name": 256,
    "user_id": 192,
    "tenant_id": 64,
    "locale": 16,
}
_OPTIONAL = frozenset({"bot_name", "tenant_id", "locale"})


def fitted(reference: StoredReference) -> StoredReference | None:
    """REFERENCE as the table can hold it, or None when a required field is too long."""

    def fits(name: str) -> bool:
        value = getattr(reference, name)
        return value is None or len(value) <= MAX_LENGTHS[name]

    if not all(fits(name) for name in MAX_LENGTHS if name not in _OPTIONAL):
        return None
    return replace(
        reference,
        bot_name=reference.bot_name if fits("bot_name") else None,
        tenant_id=reference.tenant_id if fits("tenant_id") else None,
        locale=reference.locale if fits("locale") else None,
    )


_FIELDS = (
    "service_url",
    "conversation_id",
    "bot_id",
    "bot_name",
    "user_id",
    "tenant_id",
    "locale",
)


def _from_row(row: ConversationRefRow) -> StoredReference:
    return StoredReference(
        account_id=row.account_id,
        channel_id=row.channel_id,
        source=row.source,
        service_url=row.service_url,
        conversation_id=row.conversation_id,
        bot_id=row.bot_id,
        user_id=row.user_id,
        bot_name=row.bot_name,
        tenant_id=row.tenant_id,
        locale=row.locale,
    )


class ConversationRefStore:
    """One row per (account, channel, source), replaced by each newer inbound activity."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def save(self, reference: StoredReference) -> None:
        """Insert or replace the reference for its account, channel and source."""
        values = {name: getattr(reference, name) for name in _FIELDS}
        values["updated_at"] = datetime.now(UTC)
        async with self._sessions.begin() as session:
            insert = dialect_insert(session, ConversationRefRow.__table__)
            await session.execute(
                insert.values(
                    account_id=reference.account_id,
                    channel_id=reference.channel_id,
                    source=reference.source,
                    **values,
                ).on_conflict_do_update(
                    index_elements=["account_id", "channel_id", "source"], set_=values
                )
            )

    async def for_account(self, account_id: str) -> list[StoredReference]:
        """The account's references, most recently used first."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(ConversationRefRow)
                    .where(ConversationRefRow.account_id == account_id)
                    .order_by(ConversationRefRow.updated_at.desc(), ConversationRefRow.channel_id)
                )
            ).all()
        return [_from_row(row) for row in rows]

    async def latest(
        self, account_id: str, *, channel_id: str | None = None, source: str | None = None
    ) -> StoredReference | None:
        """The account's most recent reference, optionally on one channel or source."""
        for reference in await self.for_account(account_id):
            if channel_id in (None, reference.channel_id) and source in (None, reference.source):
                return reference
        return None
