"""A patient's token against another patient's data through PATCH and the conditional
interactions (issue 13): nothing of Bruno's is reached, changed or revealed by Alice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.fhir.conftest import RunningStore, running_store  # noqa: F401
from tests.security.fhir_world import IDS, World, clinical_versions, make_world

JSON_PATCH = "application/json-patch+json"


@pytest.fixture
async def world(running_store: RunningStore) -> World:  # noqa: F811
    """Alice and Bruno in a running store."""
    return await make_world(running_store)


def _ops(value: Any = 61) -> list[dict[str, Any]]:
    return [{"op": "replace", "path": "/valueQuantity/value", "value": value}]


async def _patch(world: World, path: str, token: str, ops: Any) -> Any:
    return await world.call("PATCH", path, token, ops, {"Content-Type": JSON_PATCH})


async def test_patch_of_another_patients_resource_is_404_and_changes_nothing(
    world: World,
) -> None:
    before = await clinical_versions(world.store)
    refused = await _patch(world, world.bruno_obs, world.alice_token, _ops(1))
    assert refused.status_code == 404, refused.text
    assert refused.json()["resourceType"] == "OperationOutcome"
    # nothing of the record: neither its content nor whose it is (its id may hold any digits)
    assert "valueQuantity" not in refused.text and world.bruno not in refused.text
    own = await _patch(world, world.alice_obs, world.alice_token, _ops(77))
    assert own.status_code == 200, own.text
    assert own.json()["valueQuantity"]["value"] == 77
    assert await clinical_versions(world.store) == before + 1


async def test_patch_may_not_move_a_resource_to_another_patient(world: World) -> None:
    before = await clinical_versions(world.store)
    moved = [{"op": "replace", "path": "/subject/reference", "value": world.bruno}]
    refused = await _patch(world, world.alice_obs, world.alice_token, moved)
    assert refused.status_code == 403, refused.text
    named = [{"op": "add", "path": "/performer", "value": [{"reference": world.bruno}]}]
    assert (await _patch(world, world.alice_obs, world.alice_token, named)).status_code == 403
    assert await clinical_versions(world.store) == before
    current = await world.admin("GET", world.alice_obs)
    assert current["subject"]["reference"] == world.alice


async def test_conditional_patch_update_delete_search_only_the_callers_compartment(
    world: World,
) -> None:
    before = await clinical_versions(world.store)
    bruno_id = world.bruno_obs.partition("/")[2]
    # patch: Bruno's matches are not matches for Alice (404), never a 412 that tells of them
    for criteria in (f"_id={bruno_id}", f"identifier={IDS}|{world.bruno}"):
        response = await _patch(world, f"Observation?{criteria}", world.alice_token, _ops(5))
        assert response.status_code == 404, (criteria, response.text)
    # delete: matches nothing, deletes nothing
    deleted = await world.call("DELETE", f"Observation?_id={bruno_id}", world.alice_token)
    assert deleted.status_code == 204
    assert (await world.admin("GET", world.bruno_obs))["valueQuantity"]["value"] == 60
    assert await clinical_versions(world.store) == before
    # update: no match in her compartment, so it creates her own, leaving Bruno's alone
    body = {k: v for k, v in (await world.admin("GET", world.alice_obs)).items() if k != "id"}
    body.pop("meta")
    made = await world.call("PUT", f"Observation?_id={bruno_id}", world.alice_token, body)
    assert made.status_code == 201, made.text
    assert made.json()["id"] != bruno_id and made.json()["subject"]["reference"] == world.alice
    assert (await world.admin("GET", world.bruno_obs))["meta"]["versionId"] == "1"


async def test_patch_is_audited_naming_the_patient(world: World) -> None:
    await _patch(world, world.alice_obs, world.alice_token, _ops(70))
    await _patch(world, world.bruno_obs, world.alice_token, _ops(70))
    events = await world.admin("GET", f"AuditEvent?patient={world.alice}&_count=100")
    updates = [e["resource"] for e in events.get("entry", []) if e["resource"]["action"] == "U"]
    outcomes = sorted(e["outcome"] for e in updates)
    assert outcomes == ["0", "4"], outcomes
    refused = next(e for e in updates if e["outcome"] == "4")
    assert {"reference": world.bruno_obs} in [x["what"] for x in refused["entity"]]


async def test_everything_stays_in_the_callers_compartment(world: World) -> None:
    bruno_id = world.bruno.partition("/")[2]
    refused = await world.call("GET", f"Patient/{bruno_id}/$everything", world.alice_token)
    assert refused.status_code == 404, refused.text
    assert world.bruno_obs.partition("/")[2] not in refused.text
    alice_id = world.alice.partition("/")[2]
    own = await world.call("GET", f"Patient/{alice_id}/$everything", world.alice_token)
    assert own.status_code == 200, own.text
    entries = [e["resource"] for e in own.json()["entry"]]
    assert {e["resourceType"] for e in entries} == {"Patient", "Observation", "Condition"}
    assert all(world.bruno not in str(e) for e in entries)
    # a token that reads Observations only gets the Observations of the compartment
    narrow = await world.store.token(
        "obs-only", "patient/Patient.read patient/Observation.read", world.alice
    )
    seen = await world.call("GET", f"Patient/{alice_id}/$everything", narrow)
    assert {e["resource"]["resourceType"] for e in seen.json()["entry"]} == {
        "Patient",
        "Observation",
    }
    events = await world.admin("GET", f"AuditEvent?patient={world.alice}&_count=200")
    reads = [
        e["resource"]
        for e in events["entry"]
        if {"reference": world.alice_obs} in [x["what"] for x in e["resource"]["entity"]]
    ]
    assert reads, "the $everything read of her Observation is audited"


async def test_export_gives_a_patient_their_compartment_and_nobody_else_the_files(
    world: World,
) -> None:
    asynchronous = {"Prefer": "respond-async"}
    refused = await world.call("GET", "$export", world.alice_token, headers=asynchronous)
    assert refused.status_code == 403, refused.text
    kick = await world.call("GET", "Patient/$export", world.alice_token, headers=asynchronous)
    assert kick.status_code == 202, kick.text
    status_path = kick.headers["Content-Location"].removeprefix(world.store.base_url + "/")
    manifest: Any = None
    for _ in range(200):
        status = await world.call("GET", status_path, world.alice_token)
        if status.status_code == 200:
            manifest = status.json()
            break
        await asyncio.sleep(0.05)
    assert manifest is not None
    for item in manifest["output"]:
        path = item["url"].removeprefix(world.store.base_url + "/")
        own = await world.call("GET", path, world.alice_token)
        assert own.status_code == 200
        assert world.bruno not in own.text and world.bruno_obs.partition("/")[2] not in own.text
        stolen = await world.call("GET", path, world.bruno_token)
        assert stolen.status_code == 404 and world.alice not in stolen.text
    assert (await world.call("GET", status_path, world.bruno_token)).status_code == 404
    assert (await world.call("DELETE", status_path, world.bruno_token)).status_code == 404
    alice_id = world.alice.partition("/")[2]
    mine = await world.admin("GET", f"AuditEvent?patient={world.alice}&_count=200")
    count_before = len(mine["entry"])
    await world.call("GET", "Patient/$export", world.alice_token, headers=asynchronous)
    after = await world.admin("GET", f"AuditEvent?patient={world.alice}&_count=200")
    assert len(after["entry"]) == count_before + 1  # the kick-off is audited, naming her
    assert alice_id in str(after["entry"])
