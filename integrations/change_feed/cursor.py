"""A change feed's shared, durable position in the service database (table `scoring_feed`
of migration core_0004, one row per named feed; the name is kept from the scoring worker,
its first follower).

One reader at a time reads a feed: it takes the row's lease (`take`), reads the FHIR
server, and in ONE transaction moves the position on together with whatever it derived
from the entries (`advance`, with the caller's own writes), on condition that it still
holds the lease. A reader that dies or stalls loses the lease; the next one reads the
same stretch again. So no entry is lost and none is taken in twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger, String, Text, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from integrations.change_feed.position import FeedPosition, next_link, page_entries, take_in
from integrations.fhir.client import FhirClient
from integrations.persistence.database import Base, dialect_insert

Json = dict[str, Any]
MAX_SEEN_PAGES = 50
"""Pages of versions already taken in (ties at the position) passed over in one read."""


class FeedCursorRow(Base):
    """A change feed's position and who is reading it."""

    __tablename__ = "scoring_feed"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[str | None] = mapped_column(Text, nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_until: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


F = FeedCursorRow


@dataclass(frozen=True)
class FeedLease:
    """The feed, held by one reader until `advance` (or the lease's end)."""

    token: str
    position: FeedPosition


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class FeedCursor:
    """The position of the feed NAME, shared by every reader of it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        name: str,
        *,
        lease: timedelta = timedelta(seconds=30),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self.name = name
        self.lease = lease
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def take(self) -> FeedLease | None:
        """The feed's position under a lease; None while another reader holds it."""
        token = uuid.uuid4().hex
        until = self._now_ms() + int(self.lease.total_seconds() * 1000)
        async with self._sessions.begin() as session:
            await session.execute(
                dialect_insert(session, F.__table__)
                .values(name=self.name, position=None)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            taken = await session.execute(
                update(F)
                .where(
                    F.name == self.name,
                    or_(F.lease_until.is_(None), F.lease_until < self._now_ms()),
                )
                .values(claim_token=token, lease_until=until)
            )
            if _count(taken) != 1:
                return None
            position = (
                await session.execute(select(F.position).where(F.name == self.name))
            ).scalar_one()
        return FeedLease(token, FeedPosition.from_json(position))

    async def advance(
        self,
        lease: FeedLease,
        position: FeedPosition,
        also: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> bool:
        """Move the feed to POSITION, run ALSO in the same transaction, give the feed back;
        False, and nothing done, if the lease had passed to another reader."""
        async with self._sessions.begin() as session:
            moved = await session.execute(
                update(F)
                .where(F.name == self.name, F.claim_token == lease.token)
                .values(position=position.to_json(), claim_token=None, lease_until=None)
            )
            if _count(moved) != 1:
                return False
            if also is not None:
                await also(session)
        return True

    async def release(self, lease: FeedLease) -> None:
        """Give the feed back unmoved (reading it failed)."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(F)
                .where(F.name == self.name, F.claim_token == lease.token)
                .values(claim_token=None, lease_until=None)
            )


async def read_feed(
    client: FhirClient,
    position: FeedPosition,
    take: Callable[[Json], None],
    *,
    page_size: int,
    overlap: timedelta = timedelta(0),
) -> tuple[FeedPosition, int]:
    """Read the system history from POSITION to the first page with new versions, handing
    each new version to TAKE; the position after them and how many were new."""
    params = [("_count", str(page_size)), ("_sort", "_lastUpdated")]
    since = position.since_param(overlap)
    if since:
        params.append(("_since", since))
    _, page = await client.request_json("GET", "_history", params=params)
    new = 0
    for _ in range(MAX_SEEN_PAGES):
        position, new = take_in(page_entries(page), position, overlap, take)
        url = next_link(page)
        if new or url is None:
            break
        _, page = await client.request_json("GET", url)
    return position, new
