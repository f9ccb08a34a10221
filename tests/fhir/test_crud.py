"""Instance interactions: create, read, vread, update with If-Match, delete, headers."""

from __future__ import annotations

import httpx
import pytest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from integrations.fhir import FhirClient, PreconditionFailed, ResourceGone, ResourceNotFound
from integrations.fhir.search import SearchQuery
from tests.fhir.conftest import RunningStore
from tests.fhir.helpers import patient, vital


async def test_create_read_vread_update_delete(fhir: FhirClient) -> None:
    created = await fhir.create(patient("crud-1"))
    assert created.id is not None and created.meta is not None
    assert created.meta.versionId == "1"
    created.gender = "male"
    updated = await fhir.update(created, if_match=True)
    assert updated.meta is not None and updated.meta.versionId == "2"
    assert (await fhir.read(Patient, created.id)).gender == "male"
    assert (await fhir.vread(Patient, created.id, "1")).gender == "female"
    with pytest.raises(PreconditionFailed):
        await fhir.update(created, if_match="1")
    await fhir.delete(Patient, created.id)
    with pytest.raises(ResourceGone):
        await fhir.read(Patient, created.id)
    await fhir.delete(Patient, created.id)  # deleting again is fine
    with pytest.raises(ResourceNotFound):
        await fhir.read(Patient, "no-such-id")
    versions = [e async for page in fhir.history(Patient, created.id) for e in page.entry or []]
    assert [e.request.method for e in versions] == ["DELETE", "PUT", "POST"]


async def test_update_creates_with_client_id_and_headers(running_store: RunningStore) -> None:
    headers = {
        "Authorization": f"Bearer {running_store.admin_token}",
        "Content-Type": "application/fhir+json",
    }
    url = f"{running_store.base_url}/Patient/chosen-id"
    body = {"resourceType": "Patient", "id": "chosen-id", "active": True}
    first = await running_store.http.put(url, json=body, headers=headers)
    assert first.status_code == 201
    assert first.headers["ETag"] == 'W/"1"'
    assert first.headers["Location"].endswith("/fhir/Patient/chosen-id/_history/1")
    assert "GMT" in first.headers["Last-Modified"]
    minimal = await running_store.http.put(
        url, json=body, headers={**headers, "Prefer": "return=minimal"}
    )
    assert minimal.status_code == 200 and minimal.content == b""
    assert minimal.headers["ETag"] == 'W/"2"'
    wrong_id = await running_store.http.put(url, json={**body, "id": "other"}, headers=headers)
    assert wrong_id.status_code == 400
    assert wrong_id.json()["resourceType"] == "OperationOutcome"


async def test_conditional_create_and_update(fhir: FhirClient) -> None:
    obs = vital("Patient/x", "8867-4", 70, "2024-05-01T10:00:00Z", identifier="dev|hr|1")
    condition = "identifier=urn:carebot:test:reading|dev|hr|1"
    first = await fhir.create(obs, if_none_exist=condition)
    again = await fhir.create(obs, if_none_exist=condition)
    assert first.id == again.id
    obs.valueQuantity.value = 71  # type: ignore[union-attr]
    query = SearchQuery(Observation).where(identifier="urn:carebot:test:reading|dev|hr|1")
    updated = await fhir.conditional_update(obs, query)
    assert updated.id == first.id and updated.meta is not None and updated.meta.versionId == "2"
    other = vital("Patient/x", "8867-4", 72, "2024-05-01T10:01:00Z", identifier="dev|hr|2")
    made = await fhir.conditional_update(
        other, SearchQuery(Observation).where(identifier="urn:carebot:test:reading|dev|hr|2")
    )
    assert made.id != first.id
    assert await fhir.count(SearchQuery(Observation).where(patient="Patient/x")) == 2


async def test_unstored_type_is_a_clear_4xx(running_store: RunningStore) -> None:
    headers = {
        "Authorization": f"Bearer {running_store.admin_token}",
        "Content-Type": "application/fhir+json",
    }
    response = await running_store.http.post(
        f"{running_store.base_url}/Basic",
        json={"resourceType": "Basic", "code": {"text": "x"}},
        headers=headers,
    )
    assert response.status_code == 404
    assert "not stored" in response.json()["issue"][0]["diagnostics"]


async def test_metadata_lists_what_is_supported(running_store: RunningStore) -> None:
    response = await running_store.http.get(f"{running_store.base_url}/metadata")
    cap = response.json()
    assert response.status_code == 200 and cap["fhirVersion"] == "4.0.1"
    types = {r["type"]: r for r in cap["rest"][0]["resource"]}
    assert "Observation" in types and "Basic" not in types
    names = {p["name"] for p in types["Observation"]["searchParam"]}
    assert {"_id", "_lastUpdated", "code", "date", "patient", "category", "status"} <= names
    assert {i["code"] for i in cap["rest"][0]["interaction"]} == {
        "transaction",
        "batch",
        "history-system",
    }


async def test_read_response_is_plain_http(running_store: RunningStore) -> None:
    token = running_store.admin_token
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{running_store.base_url}/Patient/none", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/fhir+json")
