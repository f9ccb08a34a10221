"""Attacks on the R4 search kinds (issue 13): a patient token and a staff token try to reach
another patient's data through `:not`, `:missing`, chains, `_has`, `_revinclude`,
`_include:iterate`, composites, `_summary=count`, `_elements` and paging links.

Each test was written before the search kind existed and names the leak it would catch: a
negated or absent filter that drops the asked-for patient, a chained or `_has` subquery
that reads outside the caller's compartment (an oracle on another patient's values), an
included resource that skips `visible`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web
from sqlalchemy import text

from integrations.fhir_store import create_fhir_app, ensure_client
from integrations.fhir_store.access_tokens import AccessTokenKey
from integrations.persistence.database import create_engine, create_sessionmaker
from tests.fhir.conftest import serve
from tests.fhir.helpers import vital_json

SECRET = "search-attack-secret-0123456789abcdef"
LOINC = "http://loinc.org"


@dataclass
class Clinic:
    """Dr A looks after Alice and Carol, Dr B after Bruno. Bruno's Observation names Alice
    as performer; one of Alice's names Bruno (both written by the service)."""

    base: str
    http: httpx.AsyncClient
    sessions: Any
    admin: str
    alice_token: str
    dr_a: str  # a staff token for Practitioner/dr-a
    ids: dict[str, str]

    async def get(self, path: str, token: str) -> httpx.Response:
        """GET PATH (relative to the base, or absolute) with TOKEN."""
        url = path if path.startswith("http") else f"{self.base}/{path}"
        return await self.http.get(url, headers={"Authorization": f"Bearer {token}"})

    async def refs(self, path: str, token: str) -> set[str]:
        """`Type/id` of every entry (matches and includes) of a search that succeeded."""
        response = await self.get(path, token)
        assert response.status_code == 200, (path, response.text)
        bundle = response.json()
        return {
            f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in bundle.get("entry", [])
        }

    async def put(self, resource: dict[str, Any]) -> None:
        url = f"{self.base}/{resource['resourceType']}/{resource['id']}"
        response = await self.http.put(
            url, json=resource, headers={"Authorization": f"Bearer {self.admin}"}
        )
        assert response.status_code < 300, response.text


def _obs(
    oid: str, patient: str, code: str, value: float, unit: str = "/min", **extra: Any
) -> dict[str, Any]:
    obs = vital_json(f"Patient/{patient}", code, value, "2024-03-01T10:00:00Z", unit)
    return {**obs, "id": oid, **extra}


def _bp(oid: str, patient: str, systolic: float) -> dict[str, Any]:
    obs = _obs(oid, patient, "85354-9", 0)
    del obs["valueQuantity"]
    obs["component"] = [
        {
            "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
            "valueQuantity": {
                "value": systolic,
                "unit": "mm[Hg]",
                "system": "http://unitsofmeasure.org",
                "code": "mm[Hg]",
            },
        }
    ]
    return obs


def _patient(pid: str, family: str, gp: str, gender: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": pid,
        "name": [{"family": family, "given": [pid.capitalize()]}],
        "gender": gender,
        "telecom": [{"system": "email", "value": f"{pid}@example.org"}],
        "generalPractitioner": [{"reference": f"Practitioner/{gp}"}],
    }


@pytest.fixture
async def clinic(database_url: str) -> AsyncIterator[Clinic]:
    """The store with signed staff tokens, seeded with three patients of two doctors."""
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    key = AccessTokenKey(SECRET)
    root = web.Application()
    root.add_subapp("/fhir", create_fhir_app(sessions, access_key=key))
    runner, url = await serve(root)
    admin = await ensure_client(sessions, "admin", "system/*.*")
    alice_token = await ensure_client(sessions, "alice-app", "patient/*.*", "Patient/alice")
    dr_a = key.issue("svc", "user/*.rs", person="acc-a", practitioner="Practitioner/dr-a")
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            world = Clinic(f"{url}/fhir", http, sessions, admin, alice_token, dr_a, {})
            for dr in ("dr-a", "dr-b"):
                await world.put({"resourceType": "Practitioner", "id": dr})
            await world.put(_patient("alice", "Shared", "dr-a", "female"))
            await world.put(_patient("bruno", "Zedsecret", "dr-b", "male"))
            await world.put(_patient("carol", "Shared", "dr-a", "female"))
            await world.put(
                _obs("a-hr", "alice", "8867-4", 60, performer=[{"reference": "Patient/bruno"}])
            )
            await world.put(_obs("a-hr2", "alice", "8867-4", 62))
            await world.put(_obs("b-hr", "bruno", "8867-4", 95))
            await world.put(
                _obs("b-rr", "bruno", "9279-1", 20, performer=[{"reference": "Patient/alice"}])
            )
            await world.put(_obs("c-temp", "carol", "8310-5", 37, unit="Cel"))
            await world.put(_bp("b-bp", "bruno", 180))
            await world.put(_bp("c-bp", "carol", 170))
            yield world
    finally:
        await runner.cleanup()
        await engine.dispose()


_ALICE = {"Observation/a-hr", "Observation/a-hr2"}
_DR_A = _ALICE | {"Observation/c-temp", "Observation/c-bp"}


# ----- negation and absence keep the asked-for patient ------------------------------------


async def test_not_keeps_the_asked_for_patient_for_staff_and_system(clinic: Clinic) -> None:
    # a leak: dropping `patient=` for the negated filter returns Carol's (or Bruno's) too
    query = "Observation?patient=Patient/alice&code:not=9279-1"
    assert await clinic.refs(query, clinic.dr_a) == _ALICE
    assert await clinic.refs(query, clinic.admin) == _ALICE
    assert await clinic.refs("Observation?subject=Patient/alice&code:not=8867-4", clinic.admin) == (
        set()
    )
    # and the caller's compartment: Bruno's 8867-4 is not Dr A's
    assert await clinic.refs("Observation?code:not=9279-1", clinic.dr_a) == _DR_A
    assert await clinic.refs("Observation?code:not=9279-1", clinic.alice_token) == _ALICE


async def test_missing_keeps_patient_and_compartment(clinic: Clinic) -> None:
    query = "Observation?patient=Patient/alice&performer:missing=true"
    assert await clinic.refs(query, clinic.admin) == {"Observation/a-hr2"}
    assert await clinic.refs(query, clinic.dr_a) == {"Observation/a-hr2"}
    missing = await clinic.refs("Observation?value-quantity:missing=true", clinic.dr_a)
    assert missing == {"Observation/c-bp"}  # not Bruno's panel
    assert await clinic.refs("Observation?performer:missing=false", clinic.alice_token) == {
        "Observation/a-hr"
    }
    assert await clinic.refs("Patient?email:missing=false", clinic.alice_token) == {"Patient/alice"}


# ----- chains and _has read only what the caller sees ------------------------------------


async def test_chain_is_no_oracle_on_another_patients_values(clinic: Clinic) -> None:
    # Alice's own Observation names Bruno as performer: chaining through it must not tell
    # her Bruno's family name or gender
    for query in (
        "Observation?performer:Patient.family=Zedsecret",
        "Observation?performer:Patient.gender=male",
        "Observation?performer:Patient.general-practitioner=Practitioner/dr-b",
    ):
        assert await clinic.refs(query, clinic.alice_token) == set(), query
    # her own subject chain works
    assert await clinic.refs("Observation?subject:Patient.family=Shared", clinic.alice_token) == (
        _ALICE
    )
    # staff: Bruno is not Dr A's, even where a name is shared
    assert await clinic.refs("Observation?subject:Patient.family=Zedsecret", clinic.dr_a) == set()
    two_levels = "Observation?subject:Patient.general-practitioner:Practitioner._id=dr-b"
    assert await clinic.refs(two_levels, clinic.dr_a) == set()
    bruno = {"Observation/b-hr", "Observation/b-rr", "Observation/b-bp"}
    assert await clinic.refs(two_levels, clinic.admin) == bruno


async def test_has_is_no_oracle_on_another_patients_resources(clinic: Clinic) -> None:
    # Bruno's respiratory rate names Alice as performer: _has must not see it for her
    assert await clinic.refs(
        "Patient?_has:Observation:performer:code=9279-1", clinic.alice_token
    ) == (set())
    assert await clinic.refs("Patient?_has:Observation:subject:code=8867-4", clinic.dr_a) == {
        "Patient/alice"
    }
    assert await clinic.refs("Patient?_has:Observation:subject:code=8867-4", clinic.admin) == {
        "Patient/alice",
        "Patient/bruno",
    }


# ----- included resources pass `visible` -------------------------------------------------


async def test_revinclude_shows_only_visible_resources(clinic: Clinic) -> None:
    found = await clinic.refs("Patient?_revinclude=Observation:performer", clinic.alice_token)
    assert found == {"Patient/alice"}  # not Bruno's Observation naming her
    found = await clinic.refs("Patient?_revinclude=Observation:subject", clinic.dr_a)
    assert found == {"Patient/alice", "Patient/carol"} | _DR_A


async def test_include_iterate_does_not_reach_another_patient(clinic: Clinic) -> None:
    query = (
        "Observation?_include=Observation:performer&_include:iterate=Patient:general-practitioner"
    )
    found = await clinic.refs(query, clinic.alice_token)
    assert "Patient/bruno" not in found and "Practitioner/dr-b" not in found
    assert found >= _ALICE
    found = await clinic.refs(
        "Observation?_id=a-hr&_include=Observation:subject&_include:iterate=Patient:general-practitioner",
        clinic.alice_token,
    )
    assert found == {"Observation/a-hr", "Patient/alice", "Practitioner/dr-a"}


# ----- composites, counts, elements and paging -------------------------------------------


async def test_composite_searches_stay_in_the_compartment(clinic: Clinic) -> None:
    query = f"Observation?component-code-value-quantity={LOINC}|8480-6$gt150"
    assert await clinic.refs(query, clinic.dr_a) == {"Observation/c-bp"}
    assert await clinic.refs(query, clinic.alice_token) == set()
    assert await clinic.refs(query, clinic.admin) == {"Observation/b-bp", "Observation/c-bp"}
    query = "Observation?patient=Patient/alice&code-value-quantity=8867-4$gt50"
    assert await clinic.refs(query, clinic.dr_a) == _ALICE


async def test_counts_count_only_what_the_caller_sees(clinic: Clinic) -> None:
    for token, expected in ((clinic.alice_token, 2), (clinic.dr_a, 4), (clinic.admin, 7)):
        for query in (
            "Observation?_summary=count",
            "Observation?_summary=count&code:not=0000-0",
            "Observation?_total=accurate&_count=1&_summary=data",
        ):
            response = await clinic.get(query, token)
            assert response.status_code == 200, response.text
            assert response.json()["total"] == expected, query
    response = await clinic.get("Observation?patient=Patient/bruno&_summary=count", clinic.dr_a)
    assert response.json()["total"] == 0


async def test_elements_and_summary_shape_only_visible_resources(clinic: Clinic) -> None:
    response = await clinic.get("Observation?_elements=subject&patient=Patient/bruno", clinic.dr_a)
    assert response.status_code == 200 and response.json().get("entry", []) == []
    response = await clinic.get("Observation?_elements=code", clinic.alice_token)
    entries = response.json()["entry"]
    assert {e["resource"]["id"] for e in entries} == {"a-hr", "a-hr2"}
    assert all("valueQuantity" not in e["resource"] for e in entries)


async def test_paging_links_keep_every_filter_and_the_base(clinic: Clinic) -> None:
    for token, expected in ((clinic.alice_token, _ALICE), (clinic.dr_a, _DR_A)):
        url: str | None = "Observation?_count=1&code:not=0000-0&_sort=_id"
        seen: list[str] = []
        while url:
            response = await clinic.get(url, token)
            assert response.status_code == 200, response.text
            bundle = response.json()
            seen += [f"Observation/{e['resource']['id']}" for e in bundle.get("entry", [])]
            url = next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None)
            if url:
                assert urlsplit(url).netloc == urlsplit(clinic.base).netloc
                assert "code%3Anot=0000-0" in url or "code:not=0000-0" in url
        assert sorted(seen) == sorted(expected)


async def test_string_searches_find_no_other_patient(clinic: Clinic) -> None:
    assert await clinic.refs("Patient?family=zedsecret", clinic.alice_token) == set()
    assert await clinic.refs("Patient?name:contains=secret", clinic.dr_a) == set()
    assert await clinic.refs("Patient?family=shared", clinic.dr_a) == {
        "Patient/alice",
        "Patient/carol",
    }
    assert await clinic.refs("Patient?email=bruno@example.org", clinic.dr_a) == set()


async def test_new_search_kinds_are_audited_with_what_they_showed(clinic: Clinic) -> None:
    async with clinic.sessions() as session:
        before = int(
            (
                await session.execute(
                    text("SELECT count(*) FROM fhir_version WHERE res_type = 'AuditEvent'")
                )
            ).scalar_one()
        )
    await clinic.refs(
        "Patient?_revinclude=Observation:subject&_has:Observation:subject:code=8867-4", clinic.dr_a
    )
    async with clinic.sessions() as session:
        rows = (
            await session.execute(
                text("SELECT content FROM fhir_version WHERE res_type = 'AuditEvent'")
            )
        ).scalars()
        contents = list(rows)
    assert len(contents) == before + 1
    assert "Observation/a-hr" in contents[-1] or "Patient/alice" in contents[-1]


# ----- shared types: read by every reader of the type, written by none bound to a person ---


async def test_shared_types_are_read_but_not_written_by_patient_tokens(clinic: Clinic) -> None:
    headers = {"Authorization": f"Bearer {clinic.alice_token}"}
    assert await clinic.refs("Practitioner", clinic.alice_token) == {
        "Practitioner/dr-a",
        "Practitioner/dr-b",
    }
    assert await clinic.refs("Practitioner?_id=dr-b", clinic.dr_a) == {"Practitioner/dr-b"}
    url = f"{clinic.base}/Practitioner/dr-a"
    changed = {"resourceType": "Practitioner", "id": "dr-a", "active": False}
    assert (await clinic.http.put(url, json=changed, headers=headers)).status_code == 403
    assert (await clinic.http.delete(url, headers=headers)).status_code in (403, 404)
    created = await clinic.http.post(
        f"{clinic.base}/Organization", json={"resourceType": "Organization"}, headers=headers
    )
    assert created.status_code == 403
    response = await clinic.get("Practitioner/dr-a", clinic.admin)
    assert response.status_code == 200 and "active" not in response.json()


async def test_subscriptions_are_no_patient_tokens_business(clinic: Clinic) -> None:
    # a Subscription's criteria may name a patient: a person's token sees none
    await clinic.put(
        {
            "resourceType": "Subscription",
            "id": "watch-bruno",
            "status": "off",
            "reason": "test",
            "criteria": "Observation?patient=Patient/bruno",
            "channel": {"type": "rest-hook", "endpoint": "http://127.0.0.1:9/hook"},
        }
    )
    assert await clinic.refs("Subscription", clinic.admin) == {"Subscription/watch-bruno"}
    for token in (clinic.alice_token, clinic.dr_a):
        response = await clinic.get("Subscription", token)
        assert response.status_code in (200, 403)
        assert response.status_code == 403 or response.json().get("entry", []) == []
        response = await clinic.get("Subscription/watch-bruno", token)
        assert response.status_code in (403, 404)


async def test_tasks_and_encounters_stay_in_their_patients_compartment(clinic: Clinic) -> None:
    for rtype, field in (("Task", "for"), ("Encounter", "subject"), ("ServiceRequest", "subject")):
        extra: dict[str, Any] = {"status": "requested", "intent": "order"}
        if rtype == "Encounter":
            extra = {"status": "finished", "class": {"code": "VR"}}
        if rtype == "ServiceRequest":
            extra = {"status": "active", "intent": "order"}
        await clinic.put(
            {
                "resourceType": rtype,
                "id": f"{rtype.lower()}-b",
                field: {"reference": "Patient/bruno"},
            }
            | extra
        )
        assert await clinic.refs(rtype, clinic.alice_token) == set(), rtype
        assert await clinic.refs(f"{rtype}?patient=Patient/bruno", clinic.dr_a) == set(), rtype
        assert await clinic.refs(f"{rtype}?status:not=x", clinic.dr_a) == set(), rtype
        assert await clinic.refs(rtype, clinic.admin) == {f"{rtype}/{rtype.lower()}-b"}
