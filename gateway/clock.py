"""Clocks: the wall clock, and a scaled simulated clock for demos and fault tests."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What the gateway needs of time."""

    def now(self) -> datetime:
        """The current instant (UTC, aware)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait this many seconds of this clock's time."""
        ...


class WallClock:
    """Real time."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Sleep in real time."""
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Simulated time: starts at `origin` when wall time was `wall_origin`, runs `speed` times faster."""

    def __init__(self, origin: datetime, speed: float, wall_origin: float | None = None) -> None:
        self.origin = origin
        self.speed = speed
        self.wall_origin = time.time() if wall_origin is None else wall_origin

    def now(self) -> datetime:
        """The simulated instant."""
        return self.origin + timedelta(seconds=(time.time() - self.wall_origin) * self.speed)

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of simulated time."""
        await asyncio.sleep(max(0.0, seconds) / self.speed)
