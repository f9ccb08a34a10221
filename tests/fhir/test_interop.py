"""The FHIR client's behaviour against two servers: ours, and Medplum's engine (npm).

Medplum's `FhirRouter` + `MemoryRepository` run behind `medplum/server.mjs` (node:http);
`make pytest` installs it (`npm ci` in tests/fhir/medplum).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from integrations.fhir import (
    BearerAuth,
    FhirClient,
    InvalidResource,
    PreconditionFailed,
    ResourceGone,
    ResourceNotFound,
)
from integrations.fhir.search import SearchQuery
from integrations.fhir_store import create_fhir_app, ensure_client
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from tests.fhir.conftest import serve
from tests.fhir.helpers import LOINC, patient, patient_json, vital, vital_json

MEDPLUM = Path(__file__).with_name("medplum")


def start_medplum() -> tuple[subprocess.Popen[str], str]:
    """Start the Medplum wrapper on a free loopback port; the process and its FHIR base URL."""
    if not (MEDPLUM / "node_modules" / "@medplum" / "fhir-router").exists():
        raise RuntimeError("run `npm ci` in tests/fhir/medplum (make pytest does)")
    process = subprocess.Popen(
        ["node", "--experimental-websocket", "--no-warnings", "server.mjs"],
        cwd=MEDPLUM,
        env={**os.environ, "PORT": "0"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening "):
        process.kill()
        raise RuntimeError(f"Medplum wrapper did not start: {line!r}")
    return process, f"http://127.0.0.1:{line.split()[1]}/fhir"


@pytest.fixture(scope="module")
def medplum_url() -> Iterator[str]:
    """One Medplum engine for the module (it starts in a few seconds)."""
    process, url = start_medplum()
    yield url
    process.terminate()
    process.wait(10)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture(params=["carebot", "medplum"])
async def server(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[FhirClient]:
    """A client for our embedded store (SQLite) or for Medplum's engine."""
    async with httpx.AsyncClient(timeout=30) as http:
        if request.param == "medplum":
            url = request.getfixturevalue("medplum_url")
            yield FhirClient(url, http=http, auth=BearerAuth("medplum-ignores-it"))
            return
        await migrate(sqlite_url)
        engine = create_engine(sqlite_url)
        sessionmaker = create_sessionmaker(engine)
        root = __import__("aiohttp").web.Application()
        root.add_subapp("/fhir", create_fhir_app(sessionmaker))
        runner, base = await serve(root)
        token = await ensure_client(sessionmaker, "interop", "system/*.*")
        yield FhirClient(f"{base}/fhir", http=http, auth=BearerAuth(token))
        await runner.cleanup()
        await engine.dispose()


async def test_crud_versions_and_if_match(server: FhirClient) -> None:
    created = await server.create(patient("interop-1"))
    assert created.id and created.meta and created.meta.versionId
    first_version = created.meta.versionId
    created.gender = "male"
    updated = await server.update(created, if_match=True)
    assert updated.meta is not None and updated.meta.versionId != first_version
    assert (await server.read(Patient, created.id)).gender == "male"
    assert (await server.vread(Patient, created.id, str(first_version))).gender == "female"
    with pytest.raises(PreconditionFailed):
        await server.update(created, if_match=str(first_version))
    pages = [page async for page in server.history(Patient, created.id)]
    assert len(pages[0].entry or []) == 2
    await server.delete(Patient, created.id)
    with pytest.raises((ResourceGone, ResourceNotFound)):
        await server.read(Patient, created.id)
    with pytest.raises(ResourceNotFound):
        await server.read(Patient, "00000000-0000-0000-0000-000000000000")


async def test_conditional_create_and_update(server: FhirClient) -> None:
    obs = vital("Patient/interop", "8867-4", 70, "2024-05-01T10:00:00Z", identifier="io-1")
    condition = "identifier=urn:carebot:test:reading|io-1"
    first = await server.create(obs, if_none_exist=condition)
    again = await server.create(obs, if_none_exist=condition)
    assert first.id == again.id
    obs.status = "amended"
    updated = await server.conditional_update(obs, condition)
    assert updated.id == first.id and updated.status == "amended"


async def test_search_follows_next_links(server: FhirClient) -> None:
    owner = await server.create(patient("interop-2"))
    ref = f"Patient/{owner.id}"
    await asyncio.gather(
        *[
            server.create(vital(ref, "8867-4", 60 + i, f"2024-05-0{i + 1}T10:00:00Z"))
            for i in range(7)
        ]
    )
    query = (
        SearchQuery(Observation).where(patient=ref, code=f"{LOINC}|8867-4").sort("-date").count(3)
    )
    page = await server.search_page(query)
    assert len(page.entry or []) == 3 and any(link.relation == "next" for link in page.link or [])
    values = [float(o.valueQuantity.value) async for o in server.search(query)]  # type: ignore[union-attr,arg-type]
    assert values == [66, 65, 64, 63, 62, 61, 60]
    latest = await server.latest_vitals(ref, [f"{LOINC}|8867-4"])
    assert [float(o.valueQuantity.value) for o in latest] == [66]  # type: ignore[union-attr,arg-type]


async def test_transaction_resolves_references(server: FhirClient) -> None:
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": "urn:uuid:8f4f5a3c-0000-4000-8000-000000000001",
                    "resource": patient_json("interop-3"),
                    "request": {"method": "POST", "url": "Patient"},
                },
                {
                    "fullUrl": "urn:uuid:8f4f5a3c-0000-4000-8000-000000000002",
                    "resource": vital_json(
                        "urn:uuid:8f4f5a3c-0000-4000-8000-000000000001", "9279-1", 14, "2024-05-01"
                    ),
                    "request": {"method": "POST", "url": "Observation"},
                },
            ],
        }
    )
    response = await server.transaction(bundle)
    locations = [e.response.location for e in response.entry or [] if e.response]
    assert all(str(e.response.status).startswith("201") for e in response.entry or [] if e.response)
    patient_ref = "/".join(str(locations[0]).split("/")[:2])
    found = await server.search_all(SearchQuery(Observation).where(patient=patient_ref))
    assert len(found) == 1 and found[0].subject.reference == patient_ref  # type: ignore[union-attr]


async def test_batch_and_invalid_resources(server: FhirClient) -> None:
    bad = vital_json("Patient/x", "8867-4", 1, "2024")
    del bad["status"]
    with pytest.raises(InvalidResource) as error:
        await server.request_json("POST", "Observation", body=bad)
    assert error.value.outcome is not None
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [
                {
                    "resource": patient_json("interop-4"),
                    "request": {"method": "POST", "url": "Patient"},
                },
                {
                    "request": {
                        "method": "GET",
                        "url": "Patient/00000000-0000-0000-0000-000000000000",
                    }
                },
            ],
        }
    )
    response = await server.batch(bundle)
    statuses = [str(e.response.status) for e in response.entry or [] if e.response]
    assert statuses[0].startswith("201") and statuses[1].startswith("404")
