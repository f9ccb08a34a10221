"""A transaction of conditional creates by identifier resolves them in one query and answers
as entry-by-entry resolution would (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from integrations.fhir_store.access import EVERYTHING
from integrations.fhir_store.bundles import answer_bundle
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.query import build_plan
from integrations.fhir_store.store import FhirStore
from integrations.persistence.database import create_engine, create_sessionmaker
from tests.fhir.helpers import DEVICE_IDS, vital_json


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the migrated database."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


def _bundle(identifiers: list[str]) -> dict[str, Any]:
    entries = []
    for n, ident in enumerate(identifiers):
        obs = vital_json(
            "Patient/ic", "8867-4", 60 + n, f"2024-01-01T00:{n:02d}:00Z", identifier=ident
        )
        entries.append(
            {
                "fullUrl": f"urn:uuid:00000000-0000-0000-0000-{n:012d}",
                "resource": obs,
                "request": {
                    "method": "POST",
                    "url": "Observation",
                    "ifNoneExist": f"identifier={DEVICE_IDS}|{ident}",
                },
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _statuses(bundle: dict[str, Any]) -> list[str]:
    return [e["response"]["status"].split()[0] for e in bundle["entry"]]


async def test_conditional_creates_resolve_in_one_query(engine: AsyncEngine) -> None:
    store = FhirStore(create_sessionmaker(engine))
    first, _ = await answer_bundle(store, _bundle(["a", "b"]), None)
    assert _statuses(first) == ["201", "201"]
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        # a, b exist; c is new; the second c matches the first c's creation
        second, _ = await answer_bundle(store, _bundle(["a", "b", "c", "c", *"defghijk"]), None)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert _statuses(second) == ["200", "200", "201", "200", *["201"] * 8]
    ids = [e["fullUrl"] for e in second["entry"]]
    assert ids[:2] == [e["fullUrl"] for e in first["entry"]] and ids[2] == ids[3]
    searches = [
        s for s in statements if "fhir_search" in s and s.lstrip().upper().startswith("SELECT")
    ]
    assert len(searches) == 1, searches  # one lookup for all twelve conditions
    # the result is what one-by-one resolution gives: one resource per identifier
    plan = build_plan("Observation", [("patient", "Patient/ic"), ("_summary", "count")])
    assert (await store.search(plan, access=EVERYTHING)).total == 11


async def test_several_matches_refuse_the_transaction(engine: AsyncEngine) -> None:
    store = FhirStore(create_sessionmaker(engine))
    for _ in range(2):  # two resources with one identifier, made by plain creates
        bundle = _bundle(["dup"])
        del bundle["entry"][0]["request"]["ifNoneExist"]
        await answer_bundle(store, bundle, None)
    with pytest.raises(StoreError) as refused:
        await answer_bundle(store, _bundle(["new-1", "dup"]), None)
    assert refused.value.status == 412
    plan_args = [("identifier", f"{DEVICE_IDS}|new-1")]
    found = await store.search(build_plan("Observation", plan_args), access=EVERYTHING)
    assert found.matches == []  # nothing of the refused transaction was written
