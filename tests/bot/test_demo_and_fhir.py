"""`carebot demo` seeds a clinical record; the service reaches it with patient-bound tokens."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitionerrole import PractitionerRole
from fhir.resources.R4B.schedule import Schedule

from bot.demo import run_demo_seed
from bot.demo_clinical import DEMO_PATIENTS
from bot.settings import Settings
from integrations.fhir.errors import FhirError
from integrations.fhir.search import SearchQuery
from tests.bot.service import running_app, running_service, service_settings


@pytest.fixture
async def seeded(tmp_path: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> Settings:
    settings = service_settings(tmp_path, sqlite_url)
    assert await run_demo_seed(settings, days=0.25) == 0
    first = capsys.readouterr().out
    assert "demo data seeded (" in first
    assert "alice      Alice Martin" in first
    assert await run_demo_seed(settings, days=0.25) == 0  # a second run reuses the data
    assert "demo data already seeded" in capsys.readouterr().out
    return settings


async def test_embedded_fhir_store_is_mounted_and_closed(seeded: Settings) -> None:
    async with running_service(seeded, seed=False) as base, aiohttp.ClientSession() as http:
        async with http.get(f"{base}/fhir/metadata") as response:
            assert response.status == 200
            assert (await response.json())["resourceType"] == "CapabilityStatement"
        async with http.get(f"{base}/fhir/Patient") as response:
            assert response.status == 401  # no token: refused


async def test_demo_record_holds_staff_hours_care_teams_devices_and_vitals(
    seeded: Settings,
) -> None:
    async with running_app(seeded, seed=False) as (_, services):
        system = services.fhir.system()
        assert await system.count(SearchQuery(Patient)) == 5
        roles = await system.search_all(SearchQuery(PractitionerRole))
        assert len(roles) == 3
        assert sum(1 for r in roles if r.availableTime) == 2  # the providers' weekly hours
        assert await system.count(SearchQuery(Schedule)) == 2
        assert await system.count(SearchQuery(CareTeam)) == 5
        devices = await system.search_all(SearchQuery(Device))
        patients = {f"Patient/{p.fhir_id}" for p in DEMO_PATIENTS}
        assert {d.patient.reference for d in devices if d.patient} == patients
        for reference in patients:
            assert await system.latest_vitals(reference), f"{reference} has device vitals"


async def test_patient_bound_access_reaches_only_that_patient(seeded: Settings) -> None:
    async with running_app(seeded, seed=False) as (_, services):
        alice = services.fhir.for_patient("Patient/demo-patient-alice", person="test-reader")
        patient = await alice.read(Patient, "demo-patient-alice")
        assert patient.name and patient.name[0].given == ["Alice"]
        vitals = await alice.latest_vitals("Patient/demo-patient-alice")
        assert vitals
        assert all(
            o.subject and o.subject.reference == "Patient/demo-patient-alice" for o in vitals
        )
        with pytest.raises(FhirError) as denied:
            await alice.read(Patient, "demo-patient-bruno")
        assert denied.value.status in (403, 404)
        system = services.fhir.system()
        assert await system.count(SearchQuery(AuditEvent)) > 0, "person-bound reads are audited"
