"""Turns of one conversation wait for each other across processes sharing PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from bot.turn_locks import TurnLocks, advisory_key
from integrations.persistence.database import create_engine

KEY = "local-directline/directline/conversations/conv-1"


async def _hold(
    locks: TurnLocks,
    key: str,
    log: list[str],
    name: str,
    held: float,
    entered: asyncio.Event | None = None,
) -> None:
    async with locks.hold(key):
        log.append(f"{name} in")
        if entered is not None:
            entered.set()
        await asyncio.sleep(held)
        log.append(f"{name} out")


async def test_two_engines_take_turns_on_one_conversation(pg_url: str) -> None:
    # two engines stand for two bot processes: their asyncio locks know nothing of each other
    first, second = create_engine(pg_url), create_engine(pg_url)
    try:
        a, b = TurnLocks(first), TurnLocks(second)
        log: list[str] = []
        entered = asyncio.Event()
        task = asyncio.create_task(_hold(a, KEY, log, "a", 0.5, entered))
        await entered.wait()
        await _hold(b, KEY, log, "b", 0)
        await task
        assert log == ["a in", "a out", "b in", "b out"]
        # another conversation does not wait
        log.clear()
        entered = asyncio.Event()
        task = asyncio.create_task(_hold(a, KEY, log, "a", 0.5, entered))
        await entered.wait()
        await _hold(b, KEY + "-other", log, "b", 0)
        assert log == ["a in", "b in", "b out"]
        await task
        assert len(a) == len(b) == 0
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_failed_turn_releases_the_shared_lock(pg_url: str) -> None:
    first, second = create_engine(pg_url), create_engine(pg_url)
    try:
        a, b = TurnLocks(first), TurnLocks(second)
        with pytest.raises(RuntimeError):
            async with a.hold(KEY):
                raise RuntimeError("the turn failed")
        async with asyncio.timeout(5):
            async with b.hold(KEY):
                pass
    finally:
        await first.dispose()
        await second.dispose()


def test_keys_map_to_signed_64_bit_numbers() -> None:
    assert advisory_key(KEY) == advisory_key(KEY)
    assert advisory_key(KEY) != advisory_key(KEY + "x")
    assert -(2**63) <= advisory_key(KEY) < 2**63


def test_sqlite_cannot_share_turn_locks() -> None:
    with pytest.raises(ValueError, match="PostgreSQL only"):
        TurnLocks(create_engine("sqlite+aiosqlite://"))
