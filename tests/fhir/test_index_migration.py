"""The `fhir` migrations: the tables match the models, and an older index is rebuilt."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text

import bot.directline.tables
import integrations.fhir_store.subscription_queue
import integrations.fhir_store.tables
import integrations.iomt.tables
import integrations.persistence.conversation_refs
import integrations.persistence.feed_cursor
import integrations.persistence.handoffs
import integrations.persistence.outbox
import integrations.persistence.tables
import scoring.work_queue
from integrations.fhir_store.access import EVERYTHING
from integrations.fhir_store.query import build_plan
from integrations.fhir_store.store import FhirStore
from integrations.persistence.database import Base, create_engine, create_sessionmaker
from integrations.persistence.migrate import alembic_config, migrate
from tests.conftest import fresh_pg_database

HR = "8867-4"


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'carebot.db'}"
        return
    async with fresh_pg_database() as url:
        yield url


async def test_migrated_tables_match_the_models(empty_url: str) -> None:
    # every table module is imported, so the metadata holds every model
    assert integrations.persistence.tables and integrations.fhir_store.tables
    assert bot.directline.tables and scoring.work_queue
    assert integrations.persistence.conversation_refs and integrations.persistence.outbox
    assert integrations.persistence.feed_cursor and scoring.work_queue
    assert integrations.fhir_store.subscription_queue
    await migrate(empty_url)
    engine = create_engine(empty_url)

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection)
        return [
            d
            for d in compare_metadata(context, Base.metadata)
            if not (
                isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version"
            )
        ]

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    await engine.dispose()


def _observation(rid: str, patient: str, value: int, when: str) -> dict[str, object]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "meta": {"versionId": "1", "lastUpdated": "2024-01-01T00:00:00Z"},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": HR}]},
        "subject": {"reference": patient},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "/min"},
    }


async def test_an_index_of_the_first_shape_is_rebuilt(empty_url: str) -> None:
    engine = create_engine(empty_url)
    async with engine.begin() as connection:
        await connection.run_sync(lambda c: command.upgrade(alembic_config(c), "fhir_0001"))
        stamp = datetime(2024, 1, 1)
        for seq, (rid, value, when) in enumerate(
            [("o1", 60, "2024-03-01T08:00:00Z"), ("o2", 70, "2024-03-02T08:00:00Z")], start=1
        ):
            await connection.execute(
                text("INSERT INTO fhir_resource VALUES (:t, :i, 1, :ts, :d, :p)").bindparams(
                    t="Observation", i=rid, ts=stamp, d=False, p="Patient/a"
                ),
            )
            await connection.execute(
                text(
                    "INSERT INTO fhir_version (seq, res_type, res_id, version_id, last_updated,"
                    " method, content) VALUES (:s, 'Observation', :i, 1, :ts, 'POST', :c)"
                ).bindparams(
                    s=seq,
                    i=rid,
                    ts=stamp,
                    c=json.dumps(_observation(rid, "Patient/a", value, when)),
                ),
            )
        # the old shape kept a duplicate `patient` row beside `subject`
        await connection.execute(
            text(
                "INSERT INTO fhir_search (res_type, res_id, param, patient, value)"
                " VALUES ('Observation', 'o1', 'patient', 'Patient/a', 'Patient/a')"
            )
        )
    await engine.dispose()

    await migrate(empty_url)
    engine = create_engine(empty_url)
    store = FhirStore(create_sessionmaker(engine))
    async with engine.connect() as connection:
        params = (
            await connection.execute(text("SELECT DISTINCT param FROM fhir_search ORDER BY param"))
        ).scalars()
        assert list(params) == [
            "code",
            "code-value-quantity",
            "status",
            "subject",
            "value-quantity",
        ]
        # a reference to the resource's own patient keeps no value (fhir_0004)
        subjects = await connection.execute(
            text("SELECT DISTINCT patient, value FROM fhir_search WHERE param = 'subject'")
        )
        assert subjects.all() == [("Patient/a", None)]
    (latest,) = await store.lastn("Patient/a", access=EVERYTHING)
    assert latest.resource_id == "o2"
    await engine.dispose()

    # and back: the first shape's alias rows return, then forward again
    async with engine.begin() as connection:
        await connection.run_sync(lambda c: command.downgrade(alembic_config(c), "fhir_0001"))
        rows = await connection.execute(
            text("SELECT count(*) FROM fhir_search WHERE param = 'patient'")
        )
        assert rows.scalar_one() == 2
        subjects = await connection.execute(
            text("SELECT DISTINCT value FROM fhir_search WHERE param = 'subject'")
        )
        assert subjects.scalars().all() == ["Patient/a"]
    await engine.dispose()
    await migrate(empty_url)
    engine = create_engine(empty_url)
    store = FhirStore(create_sessionmaker(engine))
    assert [s.resource_id for s in await store.lastn("Patient/a", access=EVERYTHING)] == ["o2"]
    await engine.dispose()


async def test_versions_get_the_patient_they_named(empty_url: str) -> None:
    # fhir_0007: a resource that moved from Patient/b to Patient/a keeps each version's own
    engine = create_engine(empty_url)
    async with engine.begin() as connection:
        await connection.run_sync(lambda c: command.upgrade(alembic_config(c), "fhir_0006"))
        stamp = datetime(2024, 1, 1)
        await connection.execute(
            text("INSERT INTO fhir_resource VALUES ('Observation', 'o1', 3, :ts, :d, :p)"),
            {"ts": stamp, "d": True, "p": "Patient/a"},
        )
        contents = [_observation("o1", "Patient/b", 60, "2024-03-01T08:00:00Z")]
        contents.append(_observation("o1", "Patient/a", 60, "2024-03-01T08:00:00Z"))
        for version, content in enumerate([*contents, None], start=1):
            await connection.execute(
                text(
                    "INSERT INTO fhir_version (seq, res_type, res_id, version_id, last_updated,"
                    " method, content) VALUES (:s, 'Observation', 'o1', :v, :ts, 'PUT', :c)"
                ),
                {
                    "s": version,
                    "v": version,
                    "ts": stamp,
                    "c": json.dumps(content) if content else None,
                },
            )
    await engine.dispose()
    await migrate(empty_url)
    engine = create_engine(empty_url)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT version_id, patient FROM fhir_version ORDER BY version_id")
        )
        assert rows.all() == [(1, "Patient/b"), (2, "Patient/a"), (3, "Patient/a")]
        clocks = await connection.execute(text("SELECT id, seq FROM fhir_clock ORDER BY id"))
        assert clocks.all() == [(1, 0), (2, 1 << 62)]
    await engine.dispose()


async def test_a_store_of_fhir_0007_answers_the_r4_searches(empty_url: str) -> None:
    # fhir_0009: rows written by the older table (no strings, numbers or composites) are
    # rebuilt, so the new searches find what was stored before
    engine = create_engine(empty_url)
    patient = {
        "resourceType": "Patient",
        "id": "a",
        "meta": {"versionId": "1", "lastUpdated": "2024-01-01T00:00:00Z"},
        "name": [{"family": "Ávila", "given": ["Zoë"]}],
    }
    contents = [
        ("Patient", "a", patient),
        ("Observation", "o1", _observation("o1", "Patient/a", 60, "2024-03-01T08:00:00Z")),
        ("Observation", "o2", _observation("o2", "Patient/a", 95, "2024-03-02T08:00:00Z")),
    ]
    async with engine.begin() as connection:
        await connection.run_sync(lambda c: command.upgrade(alembic_config(c), "fhir_0007"))
        stamp = datetime(2024, 1, 1)
        for seq, (rtype, rid, content) in enumerate(contents, start=1):
            await connection.execute(
                text("INSERT INTO fhir_resource VALUES (:t, :i, 1, :ts, :d, 'Patient/a')"),
                {"t": rtype, "i": rid, "ts": stamp, "d": False},
            )
            await connection.execute(
                text(
                    "INSERT INTO fhir_version (seq, res_type, res_id, version_id, last_updated,"
                    " method, content, patient) VALUES (:s, :t, :i, 1, :ts, 'PUT', :c, 'Patient/a')"
                ),
                {"s": seq, "t": rtype, "i": rid, "ts": stamp, "c": json.dumps(content)},
            )
            # what the older index held: a subject row only
            await connection.execute(
                text(
                    "INSERT INTO fhir_search (res_type, res_id, param, patient)"
                    " VALUES (:t, :i, 'subject', 'Patient/a')"
                ),
                {"t": rtype, "i": rid},
            )
    await engine.dispose()
    await migrate(empty_url)
    engine = create_engine(empty_url)
    store = FhirStore(create_sessionmaker(engine))

    async def ids(rtype: str, *params: tuple[str, str]) -> list[str]:
        result = await store.search(build_plan(rtype, list(params)), access=EVERYTHING)
        return sorted(s.resource_id for s in result.matches)

    assert await ids("Patient", ("family", "avi")) == ["a"]
    assert await ids("Patient", ("given:exact", "Zoë")) == ["a"]
    assert await ids("Observation", ("value-quantity", "gt90")) == ["o2"]
    assert await ids("Observation", ("code-value-quantity", f"{HR}$lt70")) == ["o1"]
    assert await ids("Observation", ("subject:Patient.family", "avila")) == ["o1", "o2"]
    await engine.dispose()
