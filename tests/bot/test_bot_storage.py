"""The botbuilder Storage on our database: round trips, e_tags, survival across engines."""

from __future__ import annotations

import asyncio

import pytest

from bot.bot_storage import SqlStorage, StorageConflictError
from integrations.persistence.database import create_engine, create_sessionmaker


async def test_write_read_delete(database_url: str) -> None:
    engine = create_engine(database_url)
    storage = SqlStorage(create_sessionmaker(engine))
    await storage.write({"conv/1": {"dialog_stack": [{"name": "language"}]}, "user/1": {"n": 1}})
    items = await storage.read(["conv/1", "user/1", "missing"])
    assert set(items) == {"conv/1", "user/1"}
    conv = items["conv/1"]
    assert isinstance(conv, dict)
    assert conv["dialog_stack"] == [{"name": "language"}]
    assert conv["e_tag"]
    await storage.delete(["conv/1", "missing"])
    assert set(await storage.read(["conv/1", "user/1"])) == {"user/1"}
    await engine.dispose()


async def test_stale_etag_is_refused_and_changes_nothing(database_url: str) -> None:
    engine = create_engine(database_url)
    storage = SqlStorage(create_sessionmaker(engine))
    await storage.write({"k": {"v": 1}})
    first = (await storage.read(["k"]))["k"]
    assert isinstance(first, dict)
    await storage.write({"k": {**first, "v": 2}})  # matching e_tag: accepted
    with pytest.raises(StorageConflictError):
        await storage.write({"k": {**first, "v": 3}})  # the old e_tag again: refused
    after = (await storage.read(["k"]))["k"]
    assert isinstance(after, dict)
    assert after["v"] == 2
    await storage.write({"k": {"v": 4, "e_tag": "*"}})  # "*" overwrites
    final = (await storage.read(["k"]))["k"]
    assert isinstance(final, dict)
    assert final["v"] == 4
    await engine.dispose()


async def test_concurrent_writers_with_one_etag_one_wins(database_url: str) -> None:
    engine = create_engine(database_url)
    storage = SqlStorage(create_sessionmaker(engine))
    await storage.write({"k": {"v": 0}})
    item = (await storage.read(["k"]))["k"]
    assert isinstance(item, dict)
    results = await asyncio.gather(
        *(storage.write({"k": {**item, "v": i}}) for i in range(1, 6)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, StorageConflictError) for r in results if r is not None)
    await engine.dispose()


async def test_state_survives_a_new_engine(database_url: str) -> None:
    engine = create_engine(database_url)
    await SqlStorage(create_sessionmaker(engine)).write({"k": {"lang": "fr"}})
    await engine.dispose()
    engine = create_engine(database_url)
    item = (await SqlStorage(create_sessionmaker(engine)).read(["k"]))["k"]
    assert isinstance(item, dict)
    assert item["lang"] == "fr"
    await engine.dispose()


async def test_bad_items_are_refused(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    from integrations.persistence.migrate import migrate

    await migrate(sqlite_url)
    storage = SqlStorage(create_sessionmaker(engine))
    with pytest.raises(TypeError):
        await storage.write({"k": 42})
    assert await storage.read(["k"]) == {}
    await engine.dispose()
