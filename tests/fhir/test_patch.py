"""PATCH through the REST API (SQLite and PostgreSQL): JSON Patch, FHIRPath Patch, merge
patch, If-Match, invalid results, and conditional patch, update and delete."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fhir.conftest import RunningStore
from tests.fhir.helpers import patient_json

JSON_PATCH = "application/json-patch+json"


async def _call(
    store: RunningStore,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/fhir+json",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {
        "Authorization": f"Bearer {store.admin_token}",
        "Content-Type": content_type,
        **(headers or {}),
    }
    return await store.http.request(method, f"{store.base_url}/{path}", json=body, headers=sent)


async def _versions(store: RunningStore, ref: str) -> int:
    history = (await _call(store, "GET", f"{ref}/_history")).json()
    return len(history["entry"])


async def test_json_patch_with_if_match(running_store: RunningStore) -> None:
    made = (await _call(running_store, "POST", "Patient", patient_json("jp-1"))).json()
    ref = f"Patient/{made['id']}"
    ops = [
        {"op": "test", "path": "/gender", "value": "female"},
        {"op": "replace", "path": "/gender", "value": "male"},
        {"op": "add", "path": "/name", "value": [{"family": "Okafor", "given": ["Ada"]}]},
    ]
    stale = await _call(running_store, "PATCH", ref, ops, JSON_PATCH, {"If-Match": 'W/"9"'})
    assert stale.status_code == 412, stale.text
    assert stale.json()["resourceType"] == "OperationOutcome"
    done = await _call(running_store, "PATCH", ref, ops, JSON_PATCH, {"If-Match": 'W/"1"'})
    assert done.status_code == 200, done.text
    assert done.headers["ETag"] == 'W/"2"'
    body = done.json()
    assert body["gender"] == "male" and body["name"] == [{"family": "Okafor", "given": ["Ada"]}]
    assert body["meta"]["versionId"] == "2"
    read = (await _call(running_store, "GET", ref)).json()
    assert read["gender"] == "male"
    # the patched values are searchable: the index follows the new version
    found = await _call(running_store, "GET", f"Patient?_id={made['id']}&gender=male")
    assert found.json()["total"] == 1
    # a failed test changes nothing
    again = await _call(running_store, "PATCH", ref, ops, JSON_PATCH)
    assert again.status_code == 422, again.text
    assert await _versions(running_store, ref) == 2


async def test_fhirpath_patch(running_store: RunningStore) -> None:
    made = (await _call(running_store, "POST", "Patient", patient_json("fp-1"))).json()
    ref = f"Patient/{made['id']}"
    parameters = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "add"},
                    {"name": "path", "valueString": "Patient"},
                    {"name": "name", "valueString": "birthDate"},
                    {"name": "value", "valueDate": "1950-03-04"},
                ],
            },
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "delete"},
                    {"name": "path", "valueString": "Patient.gender"},
                ],
            },
        ],
    }
    done = await _call(running_store, "PATCH", ref, parameters)
    assert done.status_code == 200, done.text
    assert done.json()["birthDate"] == "1950-03-04" and "gender" not in done.json()
    unsupported = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "delete"},
                    {"name": "path", "valueString": "Patient.name.where(use='old')"},
                ],
            }
        ],
    }
    refused = await _call(running_store, "PATCH", ref, unsupported)
    assert refused.status_code == 400, refused.text
    assert "subset" in refused.json()["issue"][0]["diagnostics"]


async def test_merge_patch_as_fhirpy_sends_it(running_store: RunningStore) -> None:
    made = (await _call(running_store, "POST", "Patient", patient_json("mp-1"))).json()
    ref = f"Patient/{made['id']}"
    done = await _call(running_store, "PATCH", ref, {"active": False}, "application/json")
    assert done.status_code == 200, done.text
    assert done.json()["active"] is False and done.json()["gender"] == "female"


async def test_invalid_results_and_bad_patches_change_nothing(running_store: RunningStore) -> None:
    made = (await _call(running_store, "POST", "Patient", patient_json("bad-1"))).json()
    ref = f"Patient/{made['id']}"
    cases: list[tuple[Any, str, int]] = [
        ([{"op": "replace", "path": "/gender", "value": "sometimes"}], JSON_PATCH, 422),
        ([{"op": "replace", "path": "/birthDate", "value": "yesterday"}], JSON_PATCH, 422),
        ([{"op": "replace", "path": "/id", "value": "other"}], JSON_PATCH, 422),
        ([{"op": "replace", "path": "/resourceType", "value": "Group"}], JSON_PATCH, 422),
        ([{"op": "add", "path": "/name", "value": []}], JSON_PATCH, 422),
        ([{"op": "remove", "path": "/nothing"}], JSON_PATCH, 422),
        ([{"op": "jump", "path": "/gender"}], JSON_PATCH, 400),
        ({"not": "a list"}, JSON_PATCH, 400),
        ({"resourceType": "Patient"}, "application/fhir+json", 400),
        ([{"op": "remove", "path": "/gender"}], "text/plain", 415),
    ]
    for body, content_type, status in cases:
        response = await _call(running_store, "PATCH", ref, body, content_type)
        assert response.status_code == status, (body, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
    assert await _versions(running_store, ref) == 1
    missing = await _call(
        running_store, "PATCH", "Patient/nope", [{"op": "remove", "path": "/gender"}], JSON_PATCH
    )
    assert missing.status_code == 404
    await _call(running_store, "DELETE", ref)
    gone = await _call(
        running_store, "PATCH", ref, [{"op": "remove", "path": "/gender"}], JSON_PATCH
    )
    assert gone.status_code == 410


async def test_conditional_patch_update_delete(running_store: RunningStore) -> None:
    for mrn in ("c-1", "c-2", "c-2"):
        await _call(running_store, "POST", "Patient", patient_json(mrn))
    ops = [{"op": "add", "path": "/active", "value": True}]
    one = await _call(
        running_store, "PATCH", "Patient?identifier=urn:test:mrn|c-1", ops, JSON_PATCH
    )
    assert one.status_code == 200 and one.json()["active"] is True
    none = await _call(
        running_store, "PATCH", "Patient?identifier=urn:test:mrn|c-9", ops, JSON_PATCH
    )
    assert none.status_code == 404, none.text
    several = await _call(
        running_store, "PATCH", "Patient?identifier=urn:test:mrn|c-2", ops, JSON_PATCH
    )
    assert several.status_code == 412, several.text
    # conditional update by identifier updates the match; no match creates
    body = patient_json("c-1", active=False)
    updated = await _call(running_store, "PUT", "Patient?identifier=urn:test:mrn|c-1", body)
    assert updated.status_code == 200 and updated.json()["id"] == one.json()["id"]
    assert updated.json()["meta"]["versionId"] == "3"
    created = await _call(
        running_store, "PUT", "Patient?identifier=urn:test:mrn|c-5", patient_json("c-5")
    )
    assert created.status_code == 201
    many = await _call(
        running_store, "PUT", "Patient?identifier=urn:test:mrn|c-2", patient_json("c-2")
    )
    assert many.status_code == 412
    # a criteria in the URL of a POST is a conditional create (fhirpy's `create(**search)`)
    again = await _call(
        running_store, "POST", "Patient?identifier=urn:test:mrn|c-5", patient_json("c-5")
    )
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    # conditional delete: several is 412 and deletes nothing; one deletes it
    refused = await _call(running_store, "DELETE", "Patient?identifier=urn:test:mrn|c-2")
    assert refused.status_code == 412
    count = await _call(running_store, "GET", "Patient?identifier=urn:test:mrn|c-2")
    assert count.json()["total"] == 2
    deleted = await _call(running_store, "DELETE", "Patient?identifier=urn:test:mrn|c-5")
    assert deleted.status_code == 204
    gone = await _call(running_store, "GET", f"Patient/{created.json()['id']}")
    assert gone.status_code == 410
