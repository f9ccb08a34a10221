"""Browser sessions kept in the database, so a sign-out ends them in every process at once."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.persistence.tables import WebSessionRow


class WebSessionStore:
    """Opens, looks up and revokes sessions by their random id."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], float] = time.time
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def open(self, account_id: str, area: str, ttl_seconds: int) -> str:
        """A new session of ACCOUNT_ID in AREA; returns its id. Expired rows are dropped."""
        now = int(self._clock())
        session_id = secrets.token_urlsafe(32)
        async with self._sessions.begin() as session:
            await session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at < now))
            session.add(
                WebSessionRow(
                    id=session_id,
                    account_id=account_id,
                    area=area,
                    created_at=now,
                    expires_at=now + ttl_seconds,
                )
            )
        return session_id

    async def live_account_id(self, session_id: str, area: str) -> str | None:
        """The account of a session that is in AREA, unexpired and not revoked, else None."""
        now = int(self._clock())
        async with self._sessions() as session:
            account_id: str | None = await session.scalar(
                select(WebSessionRow.account_id).where(
                    WebSessionRow.id == session_id,
                    WebSessionRow.area == area,
                    WebSessionRow.expires_at > now,
                    WebSessionRow.revoked_at.is_(None),
                )
            )
        return account_id

    async def revoke(self, session_id: str) -> None:
        """End the session now."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(WebSessionRow)
                .where(WebSessionRow.id == session_id)
                .values(revoked_at=int(self._clock()))
            )
