"""The embedded store with the demo record, reached in process, and a scheduler on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.demo_clinical import record_bundle
from integrations.fhir.access import FhirAccess, FhirConfig, standalone_access
from integrations.persistence.database import create_engine, create_sessionmaker

SECRET = "test-secret-" + "s" * 40
ALICE = "Patient/demo-patient-alice"
BRUNO = "Patient/demo-patient-bruno"
# A Monday 06:00 UTC (07:00 in Paris): Dr Chen's hours (Mon-Fri 09-17 Paris) are ahead.
MONDAY = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def access(database_url: str) -> AsyncIterator[FhirAccess]:
    """The embedded store on DATABASE_URL (SQLite and PostgreSQL), seeded with the demo
    record (schedules from MONDAY's date)."""
    engine = create_engine(database_url)
    try:
        config = FhirConfig(secret_key=SECRET)
        async with standalone_access(config, create_sessionmaker(engine)) as fhir:
            await fhir.system().post_bundle_json(record_bundle(MONDAY))
            yield fhir
    finally:
        await engine.dispose()
