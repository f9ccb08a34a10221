"""`carebot score run`, the real command in its own process, killed with SIGKILL midway
through scoring a store of many patients and started again: every window ends up with
exactly one RiskAssessment, every episode with one Flag, and a full re-score afterwards
finds nothing to change. Once following the change feed, once in batch mode."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integrations.fhir.access import FhirAccess, FhirConfig, standalone_access
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from scoring.model import load_model
from scoring.work_queue import WorkQueue, claim_strategy
from scoring.worker import ScoringWorker
from tests.scoring.population import Population, identifier_counts, load_population

CAREBOT = Path(sys.executable).with_name("carebot")
START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
HOURS = 2
END = START + timedelta(hours=HOURS)
PATIENTS = 150
TIMEOUT_S = 300.0


@pytest.fixture
async def var_store(tmp_path: Path) -> AsyncIterator[tuple[FhirAccess, str, dict[str, str]]]:
    """The service's default SQLite database under a var folder, and the environment that
    points `carebot` at it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'carebot.db'}"
    await migrate(url)
    engine = create_engine(url)
    env = {**os.environ, "CAREBOT_VAR_DIR": str(tmp_path / "var"), "CAREBOT_DATABASE_URL": ""}
    env.pop("CAREBOT_FHIR_URL", None)
    async with standalone_access(
        FhirConfig(secret_key="k" * 32), create_sessionmaker(engine)
    ) as access:
        yield access, url, env
    await engine.dispose()


async def _start(env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(CAREBOT), "score", "run", *args, env=env, stdout=asyncio.subprocess.DEVNULL
    )


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while not await check():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def _kill_midway(access: FhirAccess, process: asyncio.subprocess.Process) -> int:
    """SIGKILL PROCESS once it has written some, not all, of the RiskAssessments."""
    client = access.system()

    async def some() -> bool:
        assert process.returncode is None, "the worker ended before it could be killed"
        return len((await identifier_counts(client))[0]) >= PATIENTS // 3

    await _until(some, "the first RiskAssessments")
    process.send_signal(signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    return len((await identifier_counts(client))[0])


async def _assert_complete_without_duplicates(access: FhirAccess, population: Population) -> None:
    client = access.system()
    assessments, flags = await identifier_counts(client)
    assert set(assessments) == population.windows()
    assert set(assessments.values()) == {1}
    assert set(flags.values()) == {1}
    assert population.low_spo2 <= {value.split("/")[0] for value in flags}
    # a clean re-score of the whole period finds every resource as it should be
    again = await ScoringWorker(client, load_model()).run_batch(START, END)
    assert (again.assessments, again.flags, again.unchanged) == (0, 0, HOURS * PATIENTS)


async def test_follower_killed_midway_and_restarted_duplicates_and_misses_nothing(
    var_store: tuple[FhirAccess, str, dict[str, str]],
) -> None:
    access, url, env = var_store
    population = await load_population(access.system(), PATIENTS, START, HOURS)
    args = ("--poll", "0.2", "--lease", "2")
    first = await _start(env, *args)
    written = await _kill_midway(access, first)
    assert written < HOURS * PATIENTS
    second = await _start(env, *args)
    engine = create_engine(url)
    queue = WorkQueue(create_sessionmaker(engine), claim_strategy(url))
    client = access.system()

    async def drained() -> bool:
        assert second.returncode is None
        counts = await identifier_counts(client)
        return len(counts[0]) == HOURS * PATIENTS and await queue.outstanding() == 0

    try:
        await _until(drained, "every window scored after the restart")
    finally:
        second.send_signal(signal.SIGINT)
        await second.wait()
        await engine.dispose()
    await _assert_complete_without_duplicates(access, population)


async def test_batch_killed_midway_and_run_again_duplicates_and_misses_nothing(
    var_store: tuple[FhirAccess, str, dict[str, str]],
) -> None:
    access, _, env = var_store
    population = await load_population(access.system(), PATIENTS, START, HOURS)
    period = ("--from", START.isoformat(), "--to", END.isoformat())
    written = await _kill_midway(access, await _start(env, *period))
    assert written < HOURS * PATIENTS
    again = await _start(env, *period)
    assert await asyncio.wait_for(again.wait(), TIMEOUT_S) == 0
    await _assert_complete_without_duplicates(access, population)
