"""A running service with two patients' vitals and registered SMART clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bot.services import Services
from integrations.fhir_store.smart_clients import add_smart_client
from tests.bot.service import running_app, service_settings
from tests.security.smart_flow import REDIRECT_URI

APP_SCOPES = "launch/patient openid fhirUser offline_access patient/*.rs user/*.rs"


def observation(
    rid: str, patient: str, category: str, code: str, value: float
) -> dict[str, object]:
    """An Observation of PATIENT in CATEGORY."""
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": category,
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": patient},
        "effectiveDateTime": "2026-12-01T08:00:00Z",
        "valueQuantity": {"value": value, "unit": "/min"},
    }


RECORD = (
    {
        "resourceType": "Patient",
        "id": "demo-patient-alice",
        "name": [{"family": "Martin"}],
        "generalPractitioner": [{"reference": "Practitioner/demo-practitioner-chen"}],
    },
    {"resourceType": "Patient", "id": "demo-patient-david", "name": [{"family": "Okafor"}]},
    observation("alice-hr", "Patient/demo-patient-alice", "vital-signs", "8867-4", 72),
    observation("alice-lab", "Patient/demo-patient-alice", "laboratory", "2339-0", 101),
    observation("david-hr", "Patient/demo-patient-david", "vital-signs", "8867-4", 88),
)


@dataclass(frozen=True)
class SmartWorld:
    """The service's base URL, its services, and the app's client_id."""

    base: str
    services: Services
    app_id: str


@asynccontextmanager
async def smart_world(tmp_path: Path, database_url: str) -> AsyncIterator[SmartWorld]:
    """The service with RECORD stored and a public app registered."""
    settings = service_settings(tmp_path, database_url)
    async with running_app(settings) as (base, services):
        token = services.fhir.system_token()
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            for resource in RECORD:
                url = f"{base}/fhir/{resource['resourceType']}/{resource['id']}"
                async with http.put(url, json=resource) as response:
                    assert response.status in (200, 201), await response.text()
        app_id = await add_smart_client(
            services.sessions, "vitals-app", APP_SCOPES, redirect_uris=(REDIRECT_URI,)
        )
        yield SmartWorld(base, services, app_id)


def browser_session() -> aiohttp.ClientSession:
    """A client session that keeps cookies for 127.0.0.1, as a browser does."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
