"""Findings of the attack on the FHIR store (issue 10: C1, H2, M3, L5, L6, L8, L1), each a
test that failed on 615cd3a; and the AuditEvents kept off the change feed (issue 11)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.fhir.conftest import RunningStore, running_store  # noqa: F401
from tests.fhir.helpers import vital_json
from tests.security.fhir_world import IDS, World, clinical_versions, condition_json, make_world


@pytest.fixture
async def world(running_store: RunningStore) -> World:  # noqa: F811
    """Alice and Bruno in a running store."""
    return await make_world(running_store)


def _own_obs(world: World, value: float = 99) -> dict[str, Any]:
    return vital_json(world.alice, "8867-4", value, "2024-02-01T00:00:00Z")


def _outcome(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.json()["resourceType"] == "OperationOutcome"


# ----- C1: conditional operations search only the token's compartment ------------------


async def test_c1_conditional_create_never_matches_another_patient(world: World) -> None:
    bruno_id = world.bruno_obs.partition("/")[2]
    for condition in (f"_id={bruno_id}", f"identifier={IDS}|{world.bruno}"):  # one, then two
        response = await world.call(
            "POST",
            "Observation",
            world.alice_token,
            _own_obs(world),
            {"If-None-Exist": condition},
        )
        assert response.status_code == 201, (condition, response.text)  # no 200, no 412
        assert response.json()["subject"]["reference"] == world.alice
        assert bruno_id not in response.headers["Location"]
    response = await world.call(
        "POST",
        "Condition",
        world.alice_token,
        condition_json(world.alice),
        {"If-None-Exist": f"subject={world.bruno}"},
    )
    assert response.status_code == 201, response.text
    # her own match is still found
    own = await world.call(
        "POST",
        "Observation",
        world.alice_token,
        _own_obs(world),
        {"If-None-Exist": f"_id={world.alice_obs.partition('/')[2]}"},
    )
    assert own.status_code == 200 and own.json()["id"] == world.alice_obs.partition("/")[2]


async def test_c1_conditional_update_and_delete_stay_in_the_compartment(world: World) -> None:
    query = f"Observation?identifier={IDS}|{world.bruno}"  # two of Bruno's
    updated = await world.call("PUT", query, world.alice_token, _own_obs(world))
    assert updated.status_code == 201, updated.text  # no match of hers: created, no 412
    assert updated.json()["subject"]["reference"] == world.alice
    # naming Bruno's resource by id in the body does not reach it either
    hijack = {**_own_obs(world), "id": world.bruno_obs.partition("/")[2]}
    refused = await world.call(
        "PUT", "Observation?identifier=urn:x|none", world.alice_token, hijack
    )
    _outcome(refused, 403)
    deleted = await world.call("DELETE", query, world.alice_token)
    assert deleted.status_code == 204
    bruno = await world.admin("GET", f"Observation?patient={world.bruno}")
    assert bruno["total"] == 2
    assert bruno["entry"][0]["resource"]["subject"]["reference"] == world.bruno


# ----- H2: AuditEvents are written by the store only ------------------------------------


async def test_h2_nobody_writes_audit_events_through_the_api(world: World) -> None:
    await world.call("GET", world.alice_obs, world.alice_token)  # leaves an AuditEvent
    events = await world.admin("GET", "AuditEvent")
    event = events["entry"][0]["resource"]
    forged = {k: v for k, v in event.items() if k not in ("id", "meta")}
    before = (await world.admin("GET", "AuditEvent?_summary=count"))["total"]
    for token in (world.alice_token, world.store.admin_token):
        _outcome(await world.call("POST", "AuditEvent", token, forged), 403)
        changed = {**event, "agent": [{**event["agent"][0], "requestor": False}]}
        _outcome(await world.call("PUT", f"AuditEvent/{event['id']}", token, changed), 403)
        _outcome(await world.call("DELETE", f"AuditEvent/{event['id']}", token), 403)
        _outcome(await world.call("DELETE", "AuditEvent?outcome=0", token), 403)
        patched = await world.call("PATCH", f"AuditEvent/{event['id']}", token, [])
        assert patched.status_code in (403, 405)
    transaction = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": forged, "request": {"method": "POST", "url": "AuditEvent"}}],
    }
    _outcome(await world.call("POST", "", body=transaction), 403)
    # the refusals were audited only for Alice (person-bound); the event itself is unchanged
    after = await world.admin("GET", f"AuditEvent/{event['id']}")
    assert after["meta"]["versionId"] == "1" and after["agent"] == event["agent"]
    count = (await world.admin("GET", "AuditEvent?_summary=count"))["total"]
    assert count > before
    forged_ones = await world.admin("GET", "AuditEvent?outcome=0&_count=1000")
    assert all(e["resource"]["source"] == event["source"] for e in forged_ones["entry"])


async def test_h2_patients_read_only_their_own_audit_events(world: World) -> None:
    await world.call("GET", world.alice_obs, world.alice_token)
    await world.call("GET", world.bruno_obs, world.bruno_token)
    mine = (await world.call("GET", "AuditEvent?_count=1000", world.alice_token)).json()
    assert mine["entry"], "Alice reads her own"
    for entry in mine["entry"]:
        assert entry["resource"]["entity"][0]["what"]["reference"] == world.alice
    bruno_events = await world.admin("GET", f"AuditEvent?patient={world.bruno}")
    bruno_event = bruno_events["entry"][0]["resource"]["id"]
    seen = await world.call("GET", f"AuditEvent/{bruno_event}", world.alice_token)
    _outcome(seen, 404)


# ----- M3: _include honours resource-type scopes ----------------------------------------


async def test_m3_include_brings_only_types_the_scopes_name(world: World) -> None:
    device = await world.admin(
        "POST", "Device", {"resourceType": "Device", "patient": {"reference": world.alice}}
    )
    obs = {**_own_obs(world), "device": {"reference": f"Device/{device['id']}"}}
    await world.admin("POST", "Observation", obs)
    narrow = await world.store.token("scoring-obs", "system/Observation.read")
    for include in ("Observation:subject", "Observation:device"):
        response = await world.call(
            "GET", f"Observation?patient={world.alice}&_include={include}", narrow
        )
        assert response.status_code == 200, response.text
        types = {e["resource"]["resourceType"] for e in response.json()["entry"]}
        assert types == {"Observation"}, include
    wide = await world.call(
        "GET", f"Observation?patient={world.alice}&_include=Observation:subject"
    )
    assert "Patient" in {e["resource"]["resourceType"] for e in wide.json()["entry"]}


# ----- L5: a patient writes only resources naming no other patient ----------------------


async def test_l5_patient_cannot_list_another_patient_in_an_appointment(world: World) -> None:
    before = await clinical_versions(world.store)
    appointment = {
        "resourceType": "Appointment",
        "status": "proposed",
        "participant": [
            {"actor": {"reference": world.alice}, "status": "accepted"},
            {"actor": {"reference": world.bruno}, "status": "needs-action"},
        ],
    }
    _outcome(await world.call("POST", "Appointment", world.alice_token, appointment), 403)
    own = {**appointment, "participant": appointment["participant"][:1]}
    created = await world.call("POST", "Appointment", world.alice_token, own)
    assert created.status_code == 201
    sneaked = {**created.json(), "participant": appointment["participant"]}
    _outcome(
        await world.call("PUT", f"Appointment/{sneaked['id']}", world.alice_token, sneaked), 403
    )
    performer = {**_own_obs(world), "performer": [{"reference": world.bruno}]}
    _outcome(await world.call("POST", "Observation", world.alice_token, performer), 403)
    assert await clinical_versions(world.store) == before + 1
    by_actor = await world.admin("GET", f"Appointment?actor={world.bruno}")
    by_patient = await world.admin("GET", f"Appointment?patient={world.bruno}")
    assert by_actor.get("total") == by_patient.get("total") == 0


# ----- L6: history follows each version's own patient -----------------------------------


async def test_l6_history_and_vread_follow_each_versions_patient(world: World) -> None:
    moved = await world.admin("GET", world.bruno_obs)
    moved = {k: v for k, v in moved.items() if k != "meta"}
    await world.admin("PUT", world.bruno_obs, {**moved, "subject": {"reference": world.alice}})
    history = await world.call("GET", f"{world.bruno_obs}/_history", world.alice_token)
    assert [e["resource"]["meta"]["versionId"] for e in history.json()["entry"]] == ["2"]
    _outcome(await world.call("GET", f"{world.bruno_obs}/_history/1", world.alice_token), 404)
    assert (await world.call("GET", f"{world.bruno_obs}/_history/2", world.alice_token)).is_success
    system = await world.call("GET", "Observation/_history?_count=1000", world.alice_token)
    seen = {
        (e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in system.json()["entry"]
    }
    assert (world.bruno_obs.partition("/")[2], "1") not in seen
    # Bruno keeps his own version 1, not the current one that is now Alice's
    assert (await world.call("GET", f"{world.bruno_obs}/_history/1", world.bruno_token)).is_success
    _outcome(await world.call("GET", world.bruno_obs, world.bruno_token), 404)


# ----- L8: paging past the end, $lastn max, the audit of a refused read -----------------


async def test_l8_paging_lastn_and_audit_of_refusals(world: World) -> None:
    page = await world.admin("GET", "Observation?_getpagesoffset=1000000000")
    assert page["total"] == 4 and not page.get("entry")
    for bad in ("-5", "0", "two", "1.5"):
        response = await world.call("GET", f"Observation/$lastn?patient={world.alice}&max={bad}")
        _outcome(response, 400)
    refused = await world.call("GET", world.bruno_obs, world.alice_token)
    _outcome(refused, 404)
    events = await world.admin("GET", f"AuditEvent?entity={world.bruno_obs}&outcome=4")
    (event,) = [e["resource"] for e in events["entry"]]
    whats = [e["what"]["reference"] for e in event["entity"] if "what" in e]
    assert whats == [world.alice, world.bruno_obs]


# ----- L1: malformed input is a 4xx and stores nothing ----------------------------------


def _bundle_with(entry: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}


@pytest.mark.parametrize("bad", [{"a": 1}, 7, ["x"]])
async def test_l1_bundle_fields_of_the_wrong_type_are_400(world: World, bad: Any) -> None:
    before = await clinical_versions(world.store)
    obs = _own_obs(world)
    for entry in (
        {"resource": obs, "request": {"method": "POST", "url": "Observation", "ifNoneExist": bad}},
        {"fullUrl": bad, "resource": obs, "request": {"method": "POST", "url": "Observation"}},
        {"resource": obs, "request": {"method": "PUT", "url": "Observation/x", "ifMatch": bad}},
        {"resource": obs, "request": {"method": bad, "url": "Observation"}},
    ):
        for kind in ("transaction", "batch"):
            bundle = {**_bundle_with(entry), "type": kind}
            _outcome(await world.call("POST", "", body=bundle), 400)
    assert await clinical_versions(world.store) == before


async def test_l1_search_form_that_is_not_utf8_is_400(world: World) -> None:
    response = await world.call(
        "POST",
        "Observation/_search",
        content=b"patient=\xff",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    _outcome(response, 400)


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-01:00"]
)
async def test_l1_datetimes_out_of_range_in_utc_are_400(world: World, when: str) -> None:
    before = await clinical_versions(world.store)
    indexed = vital_json(world.alice, "8867-4", 70, when)
    unindexed = {**_own_obs(world), "issued": when}
    for body in (indexed, unindexed):
        _outcome(await world.call("POST", "Observation", body=body), 400)
    _outcome(await world.call("GET", f"Observation?date=lt{when.replace('+', '%2B')}"), 400)
    assert await clinical_versions(world.store) == before
    # the last representable day itself is fine
    ok = await world.call(
        "POST", "Observation", body=vital_json(world.alice, "8867-4", 1, "9999-12-31")
    )
    assert ok.status_code == 201, ok.text


# ----- issue 11: AuditEvents outside the change feed and the clinical clock -------------


async def test_audit_events_stay_out_of_the_change_feed(world: World) -> None:
    await world.call("GET", world.alice_obs, world.alice_token)
    await world.call("GET", f"Observation?patient={world.alice}", world.alice_token)
    audits = await world.admin("GET", "AuditEvent/_history")
    assert len(audits["entry"]) >= 2, "AuditEvent's own history holds them"
    worker = await world.store.token("scoring-worker", "system/*.read")
    for path in ("_history?_count=1000", "_history?_sort=_lastUpdated&_since=2000-01-01"):
        feed = (await world.call("GET", path, worker)).json()
        types = {e["resource"]["resourceType"] for e in feed["entry"]}
        assert "AuditEvent" not in types and "Observation" in types, path


async def _clock(store: RunningStore, row: int) -> int:
    async with store.sessionmaker() as session:
        seq = await session.execute(text("SELECT seq FROM fhir_clock WHERE id = :id"), {"id": row})
        return int(seq.scalar_one())


async def test_audit_writes_take_their_own_clock(world: World) -> None:
    clinical = await _clock(world.store, 1)
    audit = await _clock(world.store, 2)
    for _ in range(3):
        await world.call("GET", world.alice_obs, world.alice_token)
    assert await _clock(world.store, 1) == clinical
    assert await _clock(world.store, 2) == audit + 3
    if world.store.sessionmaker.kw["bind"].dialect.name == "sqlite":
        return  # SQLite has one writer at a time whatever the rows: nothing more to show
    # PostgreSQL: a clinical writer holding the clinical clock does not hold up the audit
    async with world.store.sessionmaker() as session, session.begin():
        await session.execute(text("UPDATE fhir_clock SET seq = seq WHERE id = 1"))
        response = await asyncio.wait_for(
            world.call("GET", world.alice_obs, world.alice_token), timeout=10
        )
        assert response.status_code == 200
        assert await asyncio.wait_for(_clock(world.store, 2), timeout=10) == audit + 4
