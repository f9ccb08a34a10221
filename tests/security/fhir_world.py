"""Two patients in a running FHIR store, their tokens, and a count of what is stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import text

from tests.fhir.conftest import RunningStore
from tests.fhir.helpers import patient_json, vital_json

JSON = "application/fhir+json"
IDS = "urn:carebot:test:reading"


@dataclass
class World:
    """Alice and Bruno, each with Observations and Conditions; tokens bound to each."""

    store: RunningStore
    alice: str  # Patient/...
    bruno: str
    alice_obs: str  # Observation/...
    bruno_obs: str
    alice_token: str
    bruno_token: str

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """One request to the store with TOKEN (default: the admin's)."""
        sent = {
            "Authorization": f"Bearer {token or self.store.admin_token}",
            "Content-Type": JSON,
            **(headers or {}),
        }
        url = f"{self.store.base_url}/{path}" if path else self.store.base_url
        if content is not None:
            return await self.store.http.request(method, url, content=content, headers=sent)
        return await self.store.http.request(method, url, json=body, headers=sent)

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer of an admin request that must succeed."""
        response = await self.call(method, path, body=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


async def clinical_versions(store: RunningStore) -> int:
    """How many versions of anything but AuditEvents the database holds."""
    async with store.sessionmaker() as session:
        count = await session.execute(
            text("SELECT count(*) FROM fhir_version WHERE res_type <> 'AuditEvent'")
        )
        return int(count.scalar_one())


def condition_json(patient: str, code: str = "38341003") -> dict[str, Any]:
    """A Condition of PATIENT."""
    return {
        "resourceType": "Condition",
        "subject": {"reference": patient},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
    }


async def make_world(store: RunningStore) -> World:
    """Seed both patients (two Observations and two Conditions each) and their tokens."""
    world = World(store, "", "", "", "", "", "")
    refs = []
    for name in ("alice", "bruno"):
        pid = (await world.admin("POST", "Patient", patient_json(name)))["id"]
        refs.append(f"Patient/{pid}")
    world.alice, world.bruno = refs
    observations = []
    for ref in refs:
        for n in range(2):
            obs = vital_json(ref, "8867-4", 60 + n, f"2024-01-0{n + 1}T00:00:00Z", identifier=ref)
            observations.append((await world.admin("POST", "Observation", obs))["id"])
            await world.admin("POST", "Condition", condition_json(ref))
    world.alice_obs, world.bruno_obs = (
        f"Observation/{observations[0]}",
        (f"Observation/{observations[2]}"),
    )
    world.alice_token = await store.token("alice-app", "patient/*.*", world.alice)
    world.bruno_token = await store.token("bruno-app", "patient/*.*", world.bruno)
    return world
