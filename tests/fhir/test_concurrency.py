"""Races: conditional creates with one identifier, If-Match updates, the change feed order."""

from __future__ import annotations

import asyncio

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from integrations.fhir import FhirClient, PreconditionFailed
from integrations.fhir.search import SearchQuery
from tests.fhir.helpers import patient, vital


async def test_twenty_concurrent_conditional_creates_leave_one(fhir: FhirClient) -> None:
    obs = vital("Patient/race", "8867-4", 80, "2024-01-01T00:00:00Z", identifier="race-1")
    condition = "identifier=urn:carebot:test:reading|race-1"
    results = await asyncio.gather(*[fhir.create(obs, if_none_exist=condition) for _ in range(20)])
    assert len({r.id for r in results}) == 1
    assert (
        await fhir.count(
            SearchQuery(Observation).where(identifier="urn:carebot:test:reading|race-1")
        )
        == 1
    )


async def test_concurrent_if_match_updates_one_wins(fhir: FhirClient) -> None:
    created = await fhir.create(patient("race-2"))
    attempts = []
    for index in range(10):
        copy = created.model_copy(deep=True)
        copy.birthDate = f"2000-01-{index + 1:02d}"  # type: ignore[assignment]
        attempts.append(fhir.update(copy, if_match=True))
    results = await asyncio.gather(*attempts, return_exceptions=True)
    wins = [r for r in results if isinstance(r, Patient)]
    assert len(wins) == 1
    assert all(isinstance(r, PreconditionFailed) for r in results if not isinstance(r, Patient))
    assert created.id is not None
    current = await fhir.read(Patient, created.id)
    assert current.meta is not None and current.meta.versionId == "2"


async def test_change_feed_has_every_write_in_commit_order(fhir: FhirClient) -> None:
    start = await fhir.create(patient("feed-0"))
    assert start.meta is not None and start.meta.lastUpdated is not None
    since = start.meta.lastUpdated.isoformat()
    writes = [
        fhir.create(vital("Patient/feed", "8867-4", 60 + i, "2024-01-01T00:00:00Z"))
        for i in range(30)
    ]
    created = await asyncio.gather(*writes)
    seen = []
    async for page in fhir.history(since=since, oldest_first=True, page_size=7):
        seen.extend(page.entry or [])
    ids = [e.resource.id for e in seen if e.resource is not None]
    assert ids[0] == start.id
    assert set(ids[1:]) == {c.id for c in created} and len(ids) == 31
    stamps = [e.response.lastModified for e in seen if e.response is not None]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    # resuming just after the last change seen returns nothing new
    last = stamps[-1]
    assert last is not None
    after = [
        e
        async for page in fhir.history(since=last.isoformat(), oldest_first=True)
        for e in page.entry or []
    ]
    assert len(after) == 1  # _since is inclusive: only the last change itself
