"""Sign-in throttling: failed attempts counted per username and per address in the database.

Counts live in one table, so every process on the same database shares them. A username is
counted whether or not an account has it, so the answers tell nothing about which exist.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Table, case, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.persistence.tables import SignInThrottleRow


@dataclass(frozen=True)
class ThrottleLimit:
    """At most FAILURES failed sign-ins per key in a window of WINDOW_SECONDS."""

    failures: int
    window_seconds: int


# A person mistyping gets ten tries; a clinic behind one address gets a hundred.
ACCOUNT_LIMIT = ThrottleLimit(failures=10, window_seconds=15 * 60)
ADDRESS_LIMIT = ThrottleLimit(failures=100, window_seconds=15 * 60)


@dataclass(frozen=True)
class Throttled:
    """Sign-in is refused for this long, whatever the password."""

    retry_after_seconds: int

    @property
    def minutes(self) -> int:
        """The wait rounded up to whole minutes (at least one)."""
        return max(1, math.ceil(self.retry_after_seconds / 60))


def throttle_key(kind: str, value: str) -> str:
    """The stored key: a hash, so the table holds no usernames or addresses in clear."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def account_key(username: str) -> str:
    """The key of a submitted username (normalised as accounts store them)."""
    return throttle_key("account", username.strip().lower())


def address_key(address: str) -> str:
    """The key of a client address."""
    return throttle_key("address", address)


def retry_after(
    failures: int, window_started_at: int, limit: ThrottleLimit, now: int
) -> int | None:
    """Seconds until a key with these counts may try again, or None if it may now."""
    ends = window_started_at + limit.window_seconds
    if failures >= limit.failures and now < ends:
        return ends - now
    return None


class SignInThrottle:
    """Checks and counts failed sign-ins per username and per client address."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        account_limit: ThrottleLimit = ACCOUNT_LIMIT,
        address_limit: ThrottleLimit = ADDRESS_LIMIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._limits = {"account": account_limit, "address": address_limit}
        self._clock = clock

    def _keys(self, username: str, address: str) -> dict[str, ThrottleLimit]:
        return {
            account_key(username): self._limits["account"],
            address_key(address): self._limits["address"],
        }

    async def check(self, username: str, address: str) -> Throttled | None:
        """Throttled when the username or the address used up its failures."""
        keys = self._keys(username, address)
        now = int(self._clock())
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(SignInThrottleRow).where(SignInThrottleRow.key.in_(keys))
                )
            ).all()
        waits = [
            wait
            for row in rows
            if (wait := retry_after(row.failures, row.window_started_at, keys[row.key], now))
        ]
        return Throttled(max(waits)) if waits else None

    async def record_failure(self, username: str, address: str) -> None:
        """Count one failed sign-in for the username and the address (atomic upserts)."""
        now = int(self._clock())
        async with self._sessions.begin() as session:
            dialect = session.get_bind().dialect.name
            insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
            table = SignInThrottleRow.__table__
            assert isinstance(table, Table)
            for key, limit in self._keys(username, address).items():
                expired = table.c.window_started_at <= now - limit.window_seconds
                await session.execute(
                    insert(table)
                    .values(key=key, failures=1, window_started_at=now)
                    .on_conflict_do_update(
                        index_elements=[table.c.key],
                        set_={
                            "failures": case((expired, 1), else_=table.c.failures + 1),
                            "window_started_at": case(
                                (expired, now), else_=table.c.window_started_at
                            ),
                        },
                    )
                )
            oldest = now - max(limit.window_seconds for limit in self._limits.values())
            await session.execute(
                delete(SignInThrottleRow).where(SignInThrottleRow.window_started_at < oldest)
            )

    async def record_success(self, username: str) -> None:
        """A successful sign-in clears the username's count (never the address's)."""
        async with self._sessions.begin() as session:
            await session.execute(
                delete(SignInThrottleRow).where(SignInThrottleRow.key == account_key(username))
            )
