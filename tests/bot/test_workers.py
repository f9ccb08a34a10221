"""The worker host: registered tasks start and stop with the app; a crash restarts the task."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import create_app
from bot.workers import WORKERS, RestartPolicy, TaskState, WorkerHost
from integrations.persistence.migrate import migrate
from tests.bot.service import service_settings


class Probe:
    """A background task that says when it started and when it was stopped."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            self.stopped.set()


async def test_a_registered_task_starts_and_stops_with_the_app(
    tmp_path: Path, sqlite_url: str
) -> None:
    await migrate(sqlite_url)
    app = create_app(service_settings(tmp_path, sqlite_url))
    probe = Probe()
    app[WORKERS].register("probe", probe.run)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()  # runs the app's cleanup_ctx up to its yields
    try:
        async with asyncio.timeout(5):
            await probe.started.wait()
        assert not probe.stopped.is_set()
        assert app[WORKERS].states() == [
            TaskState("fhir-subscriptions", running=True, crashes=0),  # the store's rest-hooks
            TaskState("probe", running=True, crashes=0),
            TaskState("outbox", running=True, crashes=0),  # registered by default
            TaskState("reminders", running=True, crashes=0),  # visit reminders, by default
            TaskState("iomt", running=True, crashes=0),  # the IoMT connector's worker
            TaskState("alerts-detect", running=True, crashes=0),  # care-manager alerts
            TaskState("alerts-escalate", running=True, crashes=0),
        ]
    finally:
        await runner.cleanup()
    assert probe.stopped.is_set()
    assert [s.running for s in app[WORKERS].states()] == [False] * 7


async def test_a_crashed_task_is_restarted_and_only_its_error_type_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = WorkerHost(RestartPolicy(first=0.01, cap=0.02))
    runs: list[int] = []
    steady = asyncio.Event()

    async def flaky() -> None:
        runs.append(len(runs) + 1)
        if len(runs) <= 2:
            raise ValueError("patient Alice Martin, SpO2 88 %")
        steady.set()
        await asyncio.Event().wait()

    host.register("flaky", flaky)
    with caplog.at_level(logging.ERROR, logger="bot.workers"):
        await host.start()
        try:
            async with asyncio.timeout(5):
                await steady.wait()
            assert host.states() == [TaskState("flaky", running=True, crashes=2)]
        finally:
            await host.stop()
    assert runs == [1, 2, 3]
    crashes = [r for r in caplog.records if "crashed" in r.getMessage()]
    assert len(crashes) == 2
    assert all("ValueError" in r.getMessage() for r in crashes)
    assert "Alice" not in caplog.text and "SpO2" not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)


async def test_the_pause_before_a_restart_grows_to_its_cap() -> None:
    policy = RestartPolicy(first=1.0, cap=8.0)
    assert [policy.pause(n) for n in (1, 2, 3, 4, 5, 99)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


async def test_a_task_registered_while_running_starts_at_once_and_names_are_unique() -> None:
    host = WorkerHost()
    await host.start()
    probe = Probe()
    try:
        host.register("late", probe.run)
        async with asyncio.timeout(5):
            await probe.started.wait()
        with pytest.raises(ValueError, match="already registered"):
            host.register("late", probe.run)
    finally:
        await host.stop()
    assert probe.stopped.is_set()


async def test_stop_waits_for_a_task_that_cleans_up_slowly() -> None:
    host = WorkerHost()
    cleaned = asyncio.Event()
    entered = asyncio.Event()

    async def slow_to_stop() -> None:
        entered.set()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0.05)  # e.g. a lease given back
            cleaned.set()

    host.register("slow", slow_to_stop)
    await host.start()
    await entered.wait()
    await host.stop()
    assert cleaned.is_set()


async def test_a_task_given_a_stop_ends_by_itself_and_is_not_cancelled() -> None:
    host = WorkerHost()
    asked = asyncio.Event()
    outcome: list[str] = []

    async def run() -> None:
        try:
            await asked.wait()
            outcome.append("ended")
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    host.register("graceful", run, stop=asked.set)
    await host.start()
    await asyncio.sleep(0.01)
    await host.stop()
    assert outcome == ["ended"]
