"""R4 search as a third-party client makes it: fhirpy (PyPI) against `carebot fhir`'s store on
SQLite and PostgreSQL, and the same flows against Medplum's engine (tests/fhir/medplum), so
our answers match a server we did not write.

Every resource carries this run's tag and every search asks for it, so Medplum's engine
(one in-memory server for the module) answers each test from its own resources only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome

from integrations.fhir_store import create_fhir_app, ensure_client
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from tests.conftest import fresh_pg_database
from tests.fhir.conftest import serve
from tests.fhir.test_interop import medplum_url  # noqa: F401

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RUN = "urn:carebot:test:run"
# What Medplum's in-memory engine (MemoryRepository 5.2.13) does not answer: measured by this
# suite; its answers to everything else must equal ours.
MEDPLUM_LACKS = frozenset(
    {
        "accent-folding",
        "token-text",
        "absolute-reference",
        "quantity",
        "composite",
        "chain",
        "total-method",
        "type-modifier",
        "number",
        "elements",
        "has",
    }
)


@dataclass
class Server:
    """A fhirpy client of one server, the run's tag, and a lenient client beside it."""

    name: str
    client: AsyncFHIRClient
    lenient: AsyncFHIRClient
    tag: str
    base: str

    def lacks(self, feature: str) -> bool:
        """True when this server is known not to answer FEATURE (Medplum's engine only)."""
        return self.name == "medplum" and feature in MEDPLUM_LACKS

    def search(self, rtype: str, **params: Any) -> Any:
        return self.client.resources(rtype).search(_tag=f"{RUN}|{self.tag}", **params)

    async def create(self, resource: dict[str, Any]) -> Any:
        meta = {"tag": [{"system": RUN, "code": self.tag}]}
        created = self.client.resource(resource["resourceType"], **{**resource, "meta": meta})
        await created.save()
        return created

    async def ids(self, rtype: str, **params: Any) -> set[str]:
        return {str(r.id) for r in await self.search(rtype, **params).fetch_all()}


async def _carebot(url: str) -> AsyncIterator[Server]:
    await migrate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    root = web.Application()
    root.add_subapp("/fhir", create_fhir_app(sessions))
    runner, base = await serve(root)
    token = await ensure_client(sessions, "fhirpy", "system/*.*")
    auth = f"Bearer {token}"
    lenient = {"Prefer": "handling=lenient"}
    try:
        yield Server(
            "carebot",
            AsyncFHIRClient(f"{base}/fhir", authorization=auth),
            AsyncFHIRClient(f"{base}/fhir", authorization=auth, extra_headers=lenient),
            uuid.uuid4().hex,
            f"{base}/fhir",
        )
    finally:
        await runner.cleanup()
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "medplum"])
async def server(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[Server]:
    """fhirpy on our store (SQLite, PostgreSQL) or on Medplum's engine."""
    if request.param == "medplum":
        url = request.getfixturevalue("medplum_url")
        client = AsyncFHIRClient(url, authorization="Bearer medplum-ignores-it")
        yield Server("medplum", client, client, uuid.uuid4().hex, url)
        return
    if request.param == "sqlite":
        async for server in _carebot(sqlite_url):
            yield server
        return
    async with fresh_pg_database() as url:
        async for server in _carebot(url):
            yield server


@dataclass
class Seeded:
    alice: str
    bruno: str
    dr: str
    org: str
    hr: list[str]  # Alice's heart rates 60, 95 and Bruno's 120
    bp: str  # Alice's blood pressure panel, systolic 150


def _obs(patient: str, code: str, value: float, when: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code, "display": "Heart rate"}]},
        "subject": {"reference": patient},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": "/min", "system": UCUM, "code": "/min"},
        **extra,
    }


async def _seed(server: Server) -> Seeded:
    org = await server.create({"resourceType": "Organization", "name": "Clinique Saint-Éloi"})
    dr = await server.create(
        {
            "resourceType": "Practitioner",
            "name": [{"family": "Okafor", "given": ["Ada"]}],
            "identifier": [{"system": "urn:npi", "value": "123"}],
        }
    )
    alice = await server.create(
        {
            "resourceType": "Patient",
            "name": [{"family": "Ávila", "given": ["Zoë"]}],
            "gender": "female",
            "birthDate": "1980-05-17",
            "telecom": [{"system": "email", "value": "alice@example.org"}],
            "generalPractitioner": [{"reference": f"Practitioner/{dr.id}"}],
            "managingOrganization": {"reference": f"Organization/{org.id}"},
        }
    )
    bruno = await server.create(
        {"resourceType": "Patient", "name": [{"family": "Avilés"}], "gender": "male"}
    )
    a, b = f"Patient/{alice.id}", f"Patient/{bruno.id}"
    hr = [
        await server.create(_obs(a, "8867-4", 60, "2024-03-01T08:00:00Z")),
        await server.create(
            _obs(
                a,
                "8867-4",
                95,
                "2024-03-05T08:00:00Z",
                performer=[{"reference": f"Practitioner/{dr.id}"}],
            )
        ),
        await server.create(_obs(b, "8867-4", 120, "2024-04-01T08:00:00Z")),
    ]
    panel = _obs(a, "85354-9", 0, "2024-03-02T08:00:00Z")
    del panel["valueQuantity"]
    panel["component"] = [
        {
            "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
            "valueQuantity": {"value": 150, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"},
        }
    ]
    bp = await server.create(panel)
    return Seeded(
        str(alice.id), str(bruno.id), str(dr.id), str(org.id), [str(o.id) for o in hr], str(bp.id)
    )


async def test_string_searches(server: Server) -> None:
    s = await _seed(server)
    if not server.lacks("accent-folding"):
        assert await server.ids("Patient", family="avil") == {s.alice, s.bruno}  # accents, case
        assert await server.ids("Patient", family="AVILA") == {s.alice}
        assert await server.ids("Patient", name="zoe") == {s.alice}
        assert await server.ids("Patient", given="Zo") == {s.alice}
    assert await server.ids("Patient", family__exact="Ávila") == {s.alice}
    assert await server.ids("Patient", family__exact="avila") == set()
    assert await server.ids("Patient", family__contains="vil") == {s.alice, s.bruno}
    assert await server.ids("Practitioner", name="okafor") == {s.dr}
    assert await server.ids("Patient", email="alice@example.org") == {s.alice}


async def test_token_searches(server: Server) -> None:
    s = await _seed(server)
    hr = set(s.hr)
    assert await server.ids("Observation", code=f"{LOINC}|8867-4") == hr
    assert await server.ids("Observation", code="8867-4") == hr
    assert await server.ids("Observation", code=f"{LOINC}|") == hr | {s.bp}
    assert await server.ids("Observation", code="|8867-4") == set()  # a code with no system
    assert await server.ids("Observation", code__not="8867-4") == {s.bp}
    if not server.lacks("token-text"):
        assert await server.ids("Observation", code__text="heart") == hr | {s.bp}
    assert await server.ids("Patient", gender="female") == {s.alice}
    assert await server.ids("Practitioner", identifier="urn:npi|123") == {s.dr}


async def test_reference_searches(server: Server) -> None:
    s = await _seed(server)
    mine = {*s.hr[:2], s.bp}
    assert await server.ids("Observation", subject=f"Patient/{s.alice}") == mine
    assert await server.ids("Observation", patient=s.alice) == mine
    if not server.lacks("absolute-reference"):
        absolute = f"{server.base}/Patient/{s.alice}"
        assert await server.ids("Observation", subject=absolute) == mine
    if not server.lacks("type-modifier"):
        assert await server.ids("Observation", subject__Patient=s.alice) == mine
    assert await server.ids("Observation", performer=f"Practitioner/{s.dr}") == {s.hr[1]}


async def test_date_prefixes(server: Server) -> None:
    s = await _seed(server)
    a60, a95, b120 = s.hr
    every = {a60, a95, b120, s.bp}
    cases = {
        "2024-03-01": {a60},
        "eq2024-03": {a60, a95, s.bp},
        "ne2024-03": {b120},
        "gt2024-03-02": {a95, b120},
        "ge2024-03-05": {a95, b120},
        "lt2024-03-02": {a60},
        "le2024-03-02": {a60, s.bp},
        "sa2024-03-04": {a95, b120},
        "eb2024-03-02": {a60},
    }
    for value, expected in cases.items():
        assert await server.ids("Observation", date=value) == expected, value
    assert await server.ids("Observation", date="ap2024-03-03") <= every
    assert await server.ids("Patient", birthdate="lt1990") == {s.alice}


async def test_quantity_and_number_prefixes(server: Server) -> None:
    s = await _seed(server)
    a60, a95, b120 = s.hr
    cases = {
        "gt90": {a95, b120},
        "lt90": {a60},
        "ge95": {a95, b120},
        "le95": {a60, a95},
        "95": {a95},
        "ne95": {a60, b120},
        "sa100": {b120},
        "eb61": {a60},
        "ap100": {a95},
        f"95|{UCUM}|/min": {a95},
        "gt50||/min": {a60, a95, b120},
        "gt50||mm[Hg]": set(),
    }
    for value, expected in cases.items():
        if not server.lacks("quantity"):
            assert await server.ids("Observation", value_quantity=value) == expected, value
    risk = await server.create(
        {
            "resourceType": "RiskAssessment",
            "status": "final",
            "subject": {"reference": f"Patient/{s.alice}"},
            "prediction": [{"probabilityDecimal": 0.7}],
        }
    )
    if not server.lacks("number"):
        assert await server.ids("RiskAssessment", probability="gt0.5") == {str(risk.id)}
        assert await server.ids("RiskAssessment", probability="lt0.5") == set()


async def test_missing_and_composites(server: Server) -> None:
    s = await _seed(server)
    assert await server.ids("Observation", performer__missing="false") == {s.hr[1]}
    assert await server.ids("Observation", value_quantity__missing="true") == {s.bp}
    assert await server.ids("Patient", email__missing="true") == {s.bruno}
    if server.lacks("composite"):
        return
    assert await server.ids("Observation", code_value_quantity="8867-4$gt100") == {s.hr[2]}
    assert await server.ids("Observation", code_value_quantity=f"{LOINC}|8867-4$lt100") == set(
        s.hr[:2]
    )
    found = await server.ids("Observation", component_code_value_quantity=f"{LOINC}|8480-6$gt140")
    assert found == {s.bp}
    assert await server.ids("Observation", component_code_value_quantity="8480-6$gt160") == set()


async def test_chained_and_reverse_chained(server: Server) -> None:
    s = await _seed(server)
    mine = {*s.hr[:2], s.bp}
    if not server.lacks("chain"):
        assert await server.ids("Observation", subject__Patient__family="avila") == mine
        assert await server.ids("Observation", patient__name="zoe") == mine
        two = await server.ids("Observation", subject__Patient__general_practitioner__name="okafor")
        assert two == mine
        via_org = await server.ids("Observation", subject__Patient__organization__name="clinique")
        assert via_org == mine
    has = server.client.resources("Patient").search(_tag=f"{RUN}|{server.tag}")
    found = await has.has("Observation", "patient", code="8480-6").fetch_all()
    assert {str(p.id) for p in found} == set()  # 8480-6 is a component code only
    if server.lacks("has"):
        return
    found = await has.has("Observation", "patient", code="8867-4").fetch_all()
    assert {str(p.id) for p in found} == {s.alice, s.bruno}
    if not server.lacks("quantity"):
        found = await has.has("Observation", "patient", value_quantity="gt100").fetch_all()
        assert {str(p.id) for p in found} == {s.bruno}


async def test_include_revinclude_and_iterate(server: Server) -> None:
    s = await _seed(server)
    base = server.search("Observation", _id=s.hr[1])
    bundle = await base.include("Observation", "patient").fetch_raw()
    refs = {f"{e.resource.resourceType}/{e.resource.id}" for e in bundle.entry}
    assert refs == {f"Observation/{s.hr[1]}", f"Patient/{s.alice}"}
    iterated = base.include("Observation", "patient").include(
        "Patient", "general-practitioner", iterate=True
    )
    refs = {
        f"{e.resource.resourceType}/{e.resource.id}" for e in (await iterated.fetch_raw()).entry
    }
    assert f"Practitioner/{s.dr}" in refs
    patients = server.search("Patient", _id=s.bruno).revinclude("Observation", "subject")
    refs = {
        f"{e.resource.resourceType}/{e.resource.id}" for e in (await patients.fetch_raw()).entry
    }
    assert refs == {f"Patient/{s.bruno}", f"Observation/{s.hr[2]}"}


async def test_summary_elements_total_and_paging(server: Server) -> None:
    s = await _seed(server)
    obs = server.search("Observation")
    if not server.lacks("total-method"):  # fhirpy's count() sends Aidbox's _totalMethod
        counter = server.lenient.resources("Observation").search(_tag=f"{RUN}|{server.tag}")
        assert await counter.count() == 4
    counted = await obs.search(_summary="count").fetch_raw()
    assert counted.total == 4 and not counted.get("entry")
    summary = await obs.search(_id=s.hr[0], _summary="true").fetch()
    assert summary[0].get("subject") and not summary[0].get("text")
    elements = await obs.search(_id=s.hr[0]).elements("code").fetch()
    assert elements[0].get("code")
    if not server.lacks("elements"):
        assert not elements[0].get("valueQuantity")
    data = await obs.search(_id=s.hr[0], _summary="data").fetch()
    assert data[0].get("valueQuantity")
    total = await obs.search(_total="accurate", _count=1).fetch_raw()
    assert total.total == 4
    pages = await obs.sort("_id").limit(1).fetch_all()
    assert len(pages) == 4 and len({p.id for p in pages}) == 4


async def test_new_types_and_unknown_parameters(server: Server) -> None:
    s = await _seed(server)
    a = f"Patient/{s.alice}"
    task = await server.create(
        {"resourceType": "Task", "status": "requested", "intent": "order", "for": {"reference": a}}
    )
    request = await server.create(
        {
            "resourceType": "ServiceRequest",
            "status": "active",
            "intent": "order",
            "subject": {"reference": a},
        }
    )
    encounter = await server.create(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"},
            "subject": {"reference": a},
        }
    )
    place = await server.create({"resourceType": "Location", "name": "Salle Été"})
    service = await server.create({"resourceType": "HealthcareService", "name": "Télésanté"})
    form = await server.create(
        {
            "resourceType": "Questionnaire",
            "status": "active",
            "name": "intake",
            "url": "http://example.org/q/intake",
        }
    )
    assert await server.ids("Task", patient=s.alice, status="requested") == {str(task.id)}
    assert await server.ids("ServiceRequest", subject=a) == {str(request.id)}
    assert await server.ids("Encounter", patient=s.alice, **{"class": "VR"}) == {str(encounter.id)}
    assert await server.ids("Location", name="salle") == {str(place.id)}
    assert await server.ids("HealthcareService", name="Tél") == {str(service.id)}
    if not server.lacks("accent-folding"):
        assert await server.ids("Location", name="salle ete") == {str(place.id)}
        assert await server.ids("HealthcareService", name="tele") == {str(service.id)}
    assert await server.ids("Questionnaire", url="http://example.org/q/intake") == {str(form.id)}
    if server.name == "carebot":  # Medplum accepts any parameter
        with pytest.raises(OperationOutcome):
            await server.search("Patient", colour="red").fetch()
        lenient = server.lenient.resources("Patient").search(
            _tag=f"{RUN}|{server.tag}", colour="red"
        )
        assert {str(p.id) for p in await lenient.fetch_all()} == {s.alice, s.bruno}
