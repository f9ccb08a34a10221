"""Transaction bundles are atomic and resolve urn:uuid references; batches go entry by entry."""

from __future__ import annotations

from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from integrations.fhir import FhirClient, InvalidResource
from integrations.fhir.search import SearchQuery
from tests.fhir.helpers import patient_json, vital_json


def _bundle(kind: str, entries: list[dict[str, Any]]) -> Bundle:
    return Bundle.model_validate({"resourceType": "Bundle", "type": kind, "entry": entries})


def _post(full_url: str, resource: dict[str, Any], **request: str) -> dict[str, Any]:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }


async def test_transaction_resolves_references_atomically(fhir: FhirClient) -> None:
    entries = [_post("urn:uuid:p1", patient_json("tx-1"))]
    entries += [
        _post(f"urn:uuid:o{i}", vital_json("urn:uuid:p1", "8867-4", 60 + i, f"2024-02-0{i + 1}"))
        for i in range(3)
    ]
    response = await fhir.transaction(_bundle("transaction", entries))
    assert response.type == "transaction-response"
    statuses = [e.response.status for e in response.entry or [] if e.response]
    assert statuses == ["201 Created"] * 4
    patient_id = (response.entry or [])[0].response.location.split("/")[1]  # type: ignore[union-attr]
    found = await fhir.search_all(SearchQuery(Observation).where(patient=f"Patient/{patient_id}"))
    assert len(found) == 3
    assert all(o.subject.reference == f"Patient/{patient_id}" for o in found)  # type: ignore[union-attr]


async def test_failed_transaction_stores_nothing(fhir: FhirClient) -> None:
    bad = vital_json("urn:uuid:p1", "8867-4", 60, "2024-02-01")
    bad["status"] = "wrong"
    entries = [_post("urn:uuid:p1", patient_json("tx-2")), _post("urn:uuid:o1", bad)]
    with pytest.raises(InvalidResource) as caught:
        await fhir.transaction(_bundle("transaction", entries))
    assert caught.value.outcome is not None
    assert await fhir.count(SearchQuery(Patient).where(identifier="urn:test:mrn|tx-2")) == 0
    # a conflict discovered while writing (If-Match on a missing resource) also rolls back
    put = {
        "fullUrl": "Patient/nope",
        "resource": {**patient_json("tx-3"), "id": "nope"},
        "request": {"method": "PUT", "url": "Patient/nope", "ifMatch": 'W/"4"'},
    }
    with pytest.raises(Exception) as conflict:
        await fhir.transaction(
            _bundle("transaction", [_post("urn:uuid:p2", patient_json("tx-3")), put])
        )
    assert getattr(conflict.value, "status", None) == 412
    assert await fhir.count(SearchQuery(Patient).where(identifier="urn:test:mrn|tx-3")) == 0


async def test_batch_entries_succeed_or_fail_alone(fhir: FhirClient) -> None:
    bad = patient_json("batch-2", gender="robot")
    entries = [_post("urn:uuid:a", patient_json("batch-1")), _post("urn:uuid:b", bad)]
    response = await fhir.batch(_bundle("batch", entries))
    statuses = [e.response.status for e in response.entry or [] if e.response]
    assert statuses[0] == "201 Created" and statuses[1] == "400"
    assert await fhir.count(SearchQuery(Patient).where(identifier="urn:test:mrn|batch-1")) == 1


async def test_conditional_create_in_transaction_is_idempotent(fhir: FhirClient) -> None:
    obs = vital_json("Patient/cc", "8867-4", 60, "2024-02-01", identifier="tx-cc")
    entry = _post("urn:uuid:o", obs, ifNoneExist="identifier=urn:carebot:test:reading|tx-cc")
    first = await fhir.transaction(_bundle("transaction", [entry]))
    second = await fhir.transaction(_bundle("transaction", [entry]))
    assert (first.entry or [])[0].response.status == "201 Created"  # type: ignore[union-attr]
    assert (second.entry or [])[0].response.status == "200 OK"  # type: ignore[union-attr]
    assert await fhir.count(SearchQuery(Observation).where(patient="Patient/cc")) == 1
