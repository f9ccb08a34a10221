"""The worker host: background tasks that live as long as the app.

Tasks (the outbox dispatcher, change-feed followers, scheduled jobs) are registered by
name with a factory returning the coroutine to run. The host starts them in the app's
`cleanup_ctx`, restarts one that crashed after a growing pause (logging the error's type
only: a message may carry health data), and cancels and awaits them all on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

log = logging.getLogger(__name__)

TaskFactory = Callable[[], Awaitable[None]]
STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class RestartPolicy:
    """Pause FIRST before the first restart, doubling up to CAP; a run longer than HEALTHY
    seconds resets the pause."""

    first: float = 1.0
    cap: float = 60.0
    healthy: float = 60.0

    def pause(self, crashes: int) -> float:
        """The pause before restart number CRASHES (1-based)."""
        return float(min(self.cap, self.first * 2 ** max(0, min(crashes - 1, 30))))


@dataclass(frozen=True)
class TaskState:
    """What the host knows of one task, for health pages and tests."""

    name: str
    running: bool
    crashes: int


class WorkerHost:
    """Runs registered background tasks between `start()` and `stop()`."""

    def __init__(self, policy: RestartPolicy = RestartPolicy()) -> None:
        self._policy = policy
        self._factories: dict[str, TaskFactory] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running: dict[str, bool] = {}
        self._crashes: dict[str, int] = {}
        self._stoppers: dict[str, Callable[[], None]] = {}
        self._started = False

    def register(
        self, name: str, factory: TaskFactory, *, stop: Callable[[], None] | None = None
    ) -> None:
        """Add a task; FACTORY is called at each (re)start. Started now if the host runs.
        STOP, if given, asks the task to end by itself: at shutdown it gets a few seconds
        to (a task cancelled in the middle of a database query leaves its connection)."""
        if name in self._factories:
            raise ValueError(f"a background task named {name!r} is already registered")
        self._factories[name] = factory
        if stop is not None:
            self._stoppers[name] = stop
        self._crashes[name] = 0
        self._running[name] = False
        if self._started:
            self._spawn(name)

    def states(self) -> list[TaskState]:
        """Every registered task, in registration order."""
        return [TaskState(n, self._running[n], self._crashes[n]) for n in self._factories]

    def _spawn(self, name: str) -> None:
        self._tasks[name] = asyncio.create_task(self._supervise(name), name=f"worker:{name}")

    async def _supervise(self, name: str) -> None:
        crashes_in_a_row = 0
        while True:
            started = time.monotonic()
            self._running[name] = True
            try:
                await self._factories[name]()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._running[name] = False
                self._crashes[name] += 1
                healthy = time.monotonic() - started >= self._policy.healthy
                crashes_in_a_row = 1 if healthy else crashes_in_a_row + 1
                pause = self._policy.pause(crashes_in_a_row)
                log.error(
                    "background task %s crashed (%s); restart in %.1fs",
                    name,
                    type(error).__name__,
                    pause,
                )
                await asyncio.sleep(pause)
                continue
            finally:
                self._running[name] = False
            log.info("background task %s finished", name)
            return

    async def start(self) -> None:
        """Start every registered task."""
        if self._started:
            return
        self._started = True
        for name in self._factories:
            self._spawn(name)

    async def stop(self) -> None:
        """Ask the tasks that can to end, cancel the others (and those still running after
        the grace period), and wait until each has finished."""
        self._started = False
        graceful = [self._tasks[n] for n in self._stoppers if n in self._tasks]
        for stop in self._stoppers.values():
            stop()
        if graceful:
            await asyncio.wait(graceful, timeout=STOP_GRACE_S)
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, Exception):
                log.error(
                    "background task %s failed on stop: %s", task.get_name(), type(result).__name__
                )


WORKERS: web.AppKey[WorkerHost] = web.AppKey("carebot_workers", WorkerHost)


async def workers_ctx(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: start the app's background tasks, stop them on shutdown."""
    host = app[WORKERS]
    await host.start()
    try:
        yield
    finally:
        await host.stop()
