"""Two workers, each its own process with its own engine, on one PostgreSQL database of
1,000 patients: they divide the patients and every window is scored exactly once."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from integrations.fhir.access import FhirConfig, standalone_access
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from tests.conftest import _dsn
from tests.scoring.population import identifier_counts, load_population

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
PATIENTS = 1000
HOURS = 2


async def _autoanalyze(url: str) -> None:
    """Refresh the planner statistics as the workers add RiskAssessments, as autovacuum
    does on a server (the test server runs without it): the store refreshes them after
    bulk loads only, and with none about RiskAssessments each conditional create's
    identifier lookup walks every RiskAssessment (0.3-0.9 s measured at 500 of them)."""
    connection = await asyncpg.connect(_dsn(url))
    try:
        while True:
            await asyncio.sleep(3)
            await connection.execute("ANALYZE fhir_resource, fhir_search")
    finally:
        await connection.close()


async def test_two_workers_score_every_window_of_1000_patients_once(pg_url: str) -> None:
    await migrate(pg_url)
    engine = create_engine(pg_url)
    sessions = create_sessionmaker(engine)
    try:
        async with standalone_access(FhirConfig(secret_key="p" * 32), sessions) as access:
            client = access.system()
            population = await load_population(client, PATIENTS, START, HOURS)
            workers = [
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "tests.scoring.pool_worker",
                    pg_url,
                    cwd=ROOT,
                    stdout=asyncio.subprocess.PIPE,
                )
                for _ in range(2)
            ]
            statistics = asyncio.create_task(_autoanalyze(pg_url))
            try:
                outputs = [json.loads((await w.communicate())[0]) for w in workers]
            finally:
                statistics.cancel()
            assert [w.returncode for w in workers] == [0, 0]
            assessments, flags = await identifier_counts(client)
    finally:
        await engine.dispose()
    expected = population.windows()
    assert len(expected) == HOURS * PATIENTS
    scored = Counter(w for out in outputs for w in out["windows"])
    assert set(scored) == expected
    assert max(scored.values()) == 1  # no window scored twice, by one worker or both
    calls = [out["calls"] for out in outputs]
    print(f"patients scored per worker: {calls}; windows per worker:", end=" ")
    print([len(out["windows"]) for out in outputs])
    assert all(c > 0 for c in calls)  # both took a share of the patients
    # no patient scored twice: only a feed page ending inside a patient's readings splits
    # its windows into two scorings (one per page), never one window into two
    assert PATIENTS <= sum(calls) <= PATIENTS + 3 * PATIENTS // 100
    assert assessments == Counter({w: 1 for w in expected})
    flagged = {value.split("/")[0] for value in flags}
    assert set(flags.values()) == {1}
    assert population.low_spo2 <= flagged
    assert len(flags) == len(flagged)  # one episode per patient
