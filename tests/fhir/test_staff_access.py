"""A staff member's FHIR access (`FhirAccess.for_staff`): their patients only (whose
`generalPractitioner` names them), read-only, and one AuditEvent per access naming them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from integrations.fhir import AccessDenied, FhirClient, FhirError, SearchQuery
from integrations.fhir.access import FhirAccess, FhirConfig, standalone_access
from integrations.fhir_store.access_tokens import AccessTokenKey
from integrations.fhir_store.audit import ACCOUNT_SYSTEM
from integrations.fhir_store.scopes import ScopeError
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate

SECRET = "test-secret-" + "s" * 40


def _patient(pid: str, practitioner: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": pid}],
        "generalPractitioner": [{"reference": f"Practitioner/{practitioner}"}],
    }


def _observation(oid: str, pid: str, value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": "2026-11-20T08:00:00Z",
        "valueQuantity": {"value": value, "unit": "/min"},
    }


def _put_bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }


async def _audits(access: FhirAccess) -> list[AuditEvent]:
    return await access.system().search_all(SearchQuery(AuditEvent))


def _names_staff(event: AuditEvent, account: str, practitioner: str) -> bool:
    person = event.agent[0]
    return bool(
        person.requestor
        and person.who is not None
        and person.who.reference == practitioner
        and person.who.identifier is not None
        and (person.who.identifier.system, person.who.identifier.value) == (ACCOUNT_SYSTEM, account)
    )


async def _ids(client: FhirClient, query: SearchQuery[Any]) -> set[str]:
    return {str(r.id) for r in await client.search_all(query)}


async def test_staff_see_only_their_patients_and_each_access_is_audited(
    database_url: str, tmp_path: Path
) -> None:
    await migrate(database_url)
    engine = create_engine(database_url)
    config = FhirConfig(secret_key=SECRET)
    try:
        async with standalone_access(config, create_sessionmaker(engine)) as access:
            system = access.system()
            await system.post_bundle_json(
                _put_bundle(
                    {"resourceType": "Practitioner", "id": "dr-a"},
                    {"resourceType": "Practitioner", "id": "dr-b"},
                    _patient("p1", "dr-a"),
                    _patient("p2", "dr-b"),
                    _observation("o1", "p1", 70),
                    _observation("o2", "p2", 80),
                )
            )
            before = len(await _audits(access))  # the service's own work is not audited
            assert before == 0
            dr_a = access.for_staff("Practitioner/dr-a", person="account-dr-a")

            assert await _ids(dr_a, SearchQuery(Patient)) == {"p1"}
            assert await _ids(dr_a, SearchQuery(Observation)) == {"o1"}
            assert await _ids(dr_a, SearchQuery(Observation).where(patient="Patient/p2")) == set()
            assert (await dr_a.read(Observation, "o1")).id == "o1"
            with pytest.raises(FhirError) as hidden:
                await dr_a.read(Patient, "p2")
            assert hidden.value.status == 404  # another's patient is not even said to exist
            with pytest.raises(FhirError):
                await dr_a.read(Observation, "o2")
            _, lastn = await dr_a.request_json("GET", "Observation/$lastn?patient=Patient/p2")
            assert lastn is not None and lastn["total"] == 0
            _, history = await dr_a.request_json("GET", "Observation/_history")
            assert history is not None
            assert {e["resource"]["id"] for e in history["entry"]} == {"o1"}
            # read-only: a staff token writes nothing, even for their own patient
            with pytest.raises(AccessDenied):
                await dr_a.create(Observation.model_validate(_observation("x", "p1", 60)))
            assert await _ids(system, SearchQuery(Observation)) == {"o1", "o2"}
            # AuditEvents are not theirs to read
            with pytest.raises(AccessDenied):
                await dr_a.search_all(SearchQuery(AuditEvent))

            events = await _audits(access)
            assert len(events) == 10  # one per access above, refusals included
            assert all(_names_staff(e, "account-dr-a", "Practitioner/dr-a") for e in events)

            # the current generalPractitioner decides: p2 moves to dr-a
            await system.update(Patient.model_validate(_patient("p2", "dr-a")))
            assert await _ids(dr_a, SearchQuery(Observation)) == {"o1", "o2"}
    finally:
        await engine.dispose()


def test_a_staff_token_is_read_only_and_names_a_practitioner() -> None:
    key = AccessTokenKey(SECRET)
    token = key.issue("svc", "user/*.rs", person="acc", practitioner="Practitioner/dr-a")
    grant = key.verify(token)
    assert grant is not None and grant.practitioner == "Practitioner/dr-a" and grant.person_bound
    for scopes, person, practitioner in [
        ("user/*.*", "acc", "Practitioner/dr-a"),  # writes
        ("system/*.read", "acc", "Practitioner/dr-a"),  # not a person's scopes
        ("user/*.rs", None, "Practitioner/dr-a"),  # no person
        ("user/*.rs", "acc", "Patient/p1"),  # not a practitioner
    ]:
        with pytest.raises(ScopeError):
            key.issue("svc", scopes, person=person, practitioner=practitioner)


async def test_an_active_care_team_brings_its_members_patients_and_only_while_active(
    database_url: str,
) -> None:
    await migrate(database_url)
    engine = create_engine(database_url)
    team = {
        "resourceType": "CareTeam",
        "id": "t3",
        "status": "active",
        "subject": {"reference": "Patient/p3"},
        "participant": [{"member": {"reference": "Practitioner/cm"}}],
    }
    try:
        async with standalone_access(
            FhirConfig(secret_key=SECRET), create_sessionmaker(engine)
        ) as access:
            system = access.system()
            await system.post_bundle_json(
                _put_bundle(
                    _patient("p3", "dr-b"), _patient("p4", "dr-b"),
                    _observation("o3", "p3", 70), _observation("o4", "p4", 75), team,
                )
            )  # fmt: skip
            cm = access.for_staff("Practitioner/cm", person="account-cm")
            assert await _ids(cm, SearchQuery(Patient)) == {"p3"}
            assert await _ids(cm, SearchQuery(Observation)) == {"o3"}
            with pytest.raises(FhirError):
                await cm.read(Patient, "p4")
            await system.post_bundle_json(_put_bundle({**team, "status": "inactive"}))
            assert await _ids(cm, SearchQuery(Patient)) == set()
            assert await _ids(cm, SearchQuery(Observation)) == set()
    finally:
        await engine.dispose()
