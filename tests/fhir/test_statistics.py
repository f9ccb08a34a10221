"""Planner statistics follow single writes, not only bulk bundles (maintenance.py)."""

from __future__ import annotations

from sqlalchemy import text

from integrations.fhir_store import FhirStore
from integrations.fhir_store.access import EVERYTHING
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker


def _observation(n: int) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/p{n % 7}"},
        "valueQuantity": {"value": 60 + n % 40, "unit": "/min"},
    }


async def _analyzed(store: FhirStore) -> bool:
    async with store.sessionmaker() as session:
        if session.get_bind().dialect.name == "sqlite":
            found = await session.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            )
            if not found.scalar_one():
                return False
            rows = await session.execute(
                text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'fhir_search'")
            )
            return bool(rows.scalar_one())
        analyzed = await session.execute(
            text(
                "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables"
                " WHERE relname = 'fhir_search'"
            )
        )
        return bool(analyzed.scalar_one())


async def test_single_creates_refresh_statistics(database_url: str) -> None:
    engine = create_engine(database_url)
    store = FhirStore(create_sessionmaker(engine))
    try:
        for n in range(499):
            await store.create(_observation(n), access=EVERYTHING)
        assert not await _analyzed(store)
        await store.create(_observation(499), access=EVERYTHING)
        assert await _analyzed(store)
    finally:
        await close_engine(engine)
