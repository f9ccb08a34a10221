"""The access policy below the REST API (issue 10: C1 in bundles, H2): what a caller sees
and may do is decided in access.py and applied by the store on every path."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.fhir_store.access import Access, access_for, authorize
from integrations.fhir_store.bundles import authorizer, parse_bundle, run_batch
from integrations.fhir_store.outcome import StoreError
from integrations.fhir_store.scopes import Action, Grant, parse_scopes
from integrations.fhir_store.store import FhirStore
from tests.fhir.conftest import RunningStore, running_store  # noqa: F401
from tests.fhir.helpers import vital_json
from tests.security.fhir_world import IDS, World, make_world


@pytest.fixture
async def world(running_store: RunningStore) -> World:  # noqa: F811
    """Alice and Bruno in a running store."""
    return await make_world(running_store)


def _own_obs(world: World) -> dict[str, Any]:
    return vital_json(world.alice, "8867-4", 99, "2024-02-01T00:00:00Z")


async def test_c1_bundle_entries_condition_within_the_compartment(world: World) -> None:
    # the store's bundle path with a patient's access (the REST API refuses patient bundles)
    store = FhirStore(world.store.sessionmaker)
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {
                "resource": _own_obs(world),
                "request": {
                    "method": "POST",
                    "url": "Observation",
                    "ifNoneExist": f"identifier={IDS}|{world.bruno}",
                },
            },
            {"request": {"method": "DELETE", "url": f"Observation?identifier={IDS}|{world.bruno}"}},
            {"request": {"method": "GET", "url": world.bruno_obs}},
        ],
    }
    _, entries = parse_bundle(bundle)
    answers = await run_batch(store, entries, authorizer(None), access=Access(world.alice))
    statuses = [a["response"]["status"] for a in answers]
    assert statuses == ["201 Created", "204 No Content", "404"], answers
    assert (await world.admin("GET", f"Observation?patient={world.bruno}"))["total"] == 2


async def test_write_only_tokens_match_their_own_conditional_creates(world: World) -> None:
    # a gateway (system/Observation.write, no read) resends a bundle: one resource stays
    gateway = await world.store.token("gateway", "system/Observation.write")
    body = {**_own_obs(world), "identifier": [{"system": IDS, "value": "retried-upload"}]}
    entry = {
        "resource": body,
        "request": {
            "method": "POST",
            "url": "Observation",
            "ifNoneExist": f"identifier={IDS}|retried-upload",
        },
    }
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    first = await world.call("POST", "", gateway, bundle)
    again = await world.call("POST", "", gateway, bundle)
    assert (first.status_code, again.status_code) == (200, 200), again.text
    statuses = [e["response"]["status"] for e in (first.json()["entry"] + again.json()["entry"])]
    assert [s.split()[0] for s in statuses] == ["201", "200"], statuses
    found = await world.admin("GET", f"Observation?identifier={IDS}|retried-upload")
    assert found["total"] == 1


def test_h2_a_person_without_a_patient_reads_no_audit_events() -> None:
    staff = Grant("c1", "staff", parse_scopes("user/*.*"))
    with pytest.raises(StoreError) as refused:
        authorize(staff, "AuditEvent", Action.SEARCH)
    assert refused.value.status == 403
    assert not access_for(staff).sees_type("AuditEvent")
    system = Grant("c2", "auditor", parse_scopes("system/AuditEvent.read"))
    authorize(system, "AuditEvent", Action.SEARCH)  # system clients may read them
    with pytest.raises(StoreError):
        authorize(system, "AuditEvent", Action.CREATE)


async def test_write_only_tokens_still_replace_what_they_cannot_read(world: World) -> None:
    gateway = await world.store.token("gateway", "system/Observation.write")
    current = await world.admin("GET", world.alice_obs)
    body = {k: v for k, v in current.items() if k != "meta"}
    updated = await world.call("PUT", world.alice_obs, gateway, {**body, "status": "amended"})
    assert updated.status_code == 200, updated.text
    assert (await world.call("DELETE", world.alice_obs, gateway)).status_code == 204
