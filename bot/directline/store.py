"""Durable conversations and activities of the local Direct Line channel."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.directline.tables import DirectLineActivityRow, DirectLineConversationRow

MAX_APPEND_ATTEMPTS = 8
PAGE_SIZE = 100


class DirectLineStore:
    """Conversations belong to one account; activities are numbered 1, 2, 3... per conversation.

    The number is the Direct Line watermark: a client that polls with watermark N gets the
    activities after N. Appends are acknowledged only once committed.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create_conversation(self, account_id: str, locale: str | None) -> str:
        """A new conversation id for ACCOUNT_ID."""
        conversation_id = uuid.uuid4().hex
        async with self._sessions.begin() as session:
            session.add(
                DirectLineConversationRow(
                    id=conversation_id,
                    account_id=account_id,
                    locale=locale,
                    created_at=datetime.now(UTC),
                )
            )
        return conversation_id

    async def conversations_since(self, account_id: str, since: datetime) -> int:
        """How many conversations ACCOUNT_ID opened at or after SINCE."""
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(DirectLineConversationRow)
                .where(
                    DirectLineConversationRow.account_id == account_id,
                    DirectLineConversationRow.created_at >= since,
                )
            )
        return int(count or 0)

    async def latest_conversation(self, account_id: str) -> str | None:
        """The conversation ACCOUNT_ID opened last, which the portal resumes; None if none."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(DirectLineConversationRow.id)
                .where(DirectLineConversationRow.account_id == account_id)
                .order_by(DirectLineConversationRow.created_at.desc())
                .limit(1)
            )
        return str(found) if found is not None else None

    async def owner(self, conversation_id: str) -> str | None:
        """The account id that owns the conversation, or None if there is none."""
        async with self._sessions() as session:
            row = await session.get(DirectLineConversationRow, conversation_id)
        return row.account_id if row else None

    async def append(self, conversation_id: str, activity: dict[str, Any]) -> str:
        """Store ACTIVITY (its id is set here) and return the id."""
        for _ in range(MAX_APPEND_ATTEMPTS):
            try:
                async with self._sessions.begin() as session:
                    seq = (
                        await session.scalar(
                            select(func.coalesce(func.max(DirectLineActivityRow.seq), 0)).where(
                                DirectLineActivityRow.conversation_id == conversation_id
                            )
                        )
                        or 0
                    ) + 1
                    activity["id"] = f"{conversation_id}|{seq:07d}"
                    session.add(
                        DirectLineActivityRow(
                            conversation_id=conversation_id,
                            seq=seq,
                            # allow_nan=False: what polling clients read back is always valid JSON.
                            document=json.dumps(
                                activity, separators=(",", ":"), default=str, allow_nan=False
                            ),
                            created_at=datetime.now(UTC),
                        )
                    )
                return str(activity["id"])
            except IntegrityError:
                continue  # another writer took this number: take the next
        raise RuntimeError("could not append to the conversation under contention")

    async def activities_after(
        self, conversation_id: str, watermark: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Activities after WATERMARK (at most a page) and the new watermark."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(DirectLineActivityRow.seq, DirectLineActivityRow.document)
                    .where(
                        DirectLineActivityRow.conversation_id == conversation_id,
                        DirectLineActivityRow.seq > watermark,
                    )
                    .order_by(DirectLineActivityRow.seq)
                    .limit(PAGE_SIZE)
                )
            ).all()
        if not rows:
            return [], watermark
        return [json.loads(document) for _, document in rows], rows[-1][0]
