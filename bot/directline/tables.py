"""Tables of the local Direct Line channel: its conversations and their activities.

They belong to the bot's edge, beside the channel that uses them; `core_0001` created them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from integrations.persistence.database import Base


class DirectLineConversationRow(Base):
    """A conversation of the local Direct Line channel, bound to the account that opened it."""

    __tablename__ = "directline_conversation"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), ForeignKey("account.id"))
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DirectLineActivityRow(Base):
    """An activity of a local Direct Line conversation, in watermark order."""

    __tablename__ = "directline_activity"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("directline_conversation.id"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
