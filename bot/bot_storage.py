"""botbuilder `Storage` on our database, so conversation and user state survive restarts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from botbuilder.core import Storage, StoreItem
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.persistence.tables import BotStateRow


class StorageConflictError(KeyError):
    """A write carried an e_tag that no longer matches the stored item."""


def _etag_of(item: object) -> str | None:
    value = item.get("e_tag") if isinstance(item, Mapping) else getattr(item, "e_tag", None)
    return str(value) if value is not None else None


def _to_document(item: object) -> dict[str, object]:
    if isinstance(item, StoreItem):
        data = {k: v for k, v in vars(item).items() if not k.startswith("_")}
    elif isinstance(item, Mapping):
        data = dict(item)
    else:
        raise TypeError(f"cannot store {type(item).__name__}: give a dict or StoreItem")
    data.pop("e_tag", None)
    return data


class SqlStorage(Storage):  # type: ignore[misc]
    """Stores each key as a JSON document with an e_tag for optimistic concurrency.

    Like botbuilder's MemoryStorage: an item written with an e_tag other than "*" must match
    the stored e_tag, else `StorageConflictError`; an item without an e_tag overwrites.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__()
        self._sessions = sessions

    async def read(self, keys: Sequence[str]) -> dict[str, object]:
        """Items for KEYS that exist, each a dict carrying its e_tag."""
        if not keys:
            return {}
        async with self._sessions() as session:
            rows = await session.scalars(select(BotStateRow).where(BotStateRow.key.in_(keys)))
            result: dict[str, object] = {}
            for row in rows:
                document = json.loads(row.document)
                document["e_tag"] = row.etag
                result[row.key] = document
            return result

    async def write(self, changes: Mapping[str, object]) -> None:
        """Write every change in one transaction; a stale e_tag aborts all of them."""
        if changes is None:
            raise ValueError("changes are required when writing")
        if not changes:
            return
        now = datetime.now(UTC)
        async with self._sessions.begin() as session:
            for key, item in changes.items():
                await self._write_one(session, key, item, now)

    async def _write_one(
        self, session: AsyncSession, key: str, item: object, now: datetime
    ) -> None:
        document = json.dumps(_to_document(item), separators=(",", ":"), default=str)
        expected = _etag_of(item)
        new_etag = uuid.uuid4().hex
        statement = update(BotStateRow).where(BotStateRow.key == key)
        if expected not in (None, "*"):
            statement = statement.where(BotStateRow.etag == expected)
        updated = await session.execute(
            statement.values(document=document, etag=new_etag, updated_at=now)
        )
        if updated.rowcount == 1:  # type: ignore[attr-defined]
            return
        if expected not in (None, "*"):
            raise StorageConflictError(f"e_tag conflict on {key!r}")
        try:
            async with session.begin_nested():
                session.add(BotStateRow(key=key, document=document, etag=new_etag, updated_at=now))
        except IntegrityError as error:  # a concurrent writer created it first
            raise StorageConflictError(f"concurrent create of {key!r}") from error

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove KEYS; missing keys are ignored."""
        if not keys:
            return
        async with self._sessions.begin() as session:
            await session.execute(delete(BotStateRow).where(BotStateRow.key.in_(keys)))
