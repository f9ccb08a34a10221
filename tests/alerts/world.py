"""A small FHIR world for alert tests: care managers, patients with or without a care
team, and the notes and Flags that raise alerts, written through the service's FHIR."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from integrations.accounts import AccountRepository, Role
from integrations.alerts.codes import (
    BACKUP_CARE_MANAGER_ROLE,
    CARE_MANAGER_ROLE,
    CARE_TEAM_ROLE_SYSTEM,
)
from integrations.fhir.client import FhirClient

Json = dict[str, Any]
GRACE = "Practitioner/demo-practitioner-miller"
"""The demo care manager (account `grace`)."""


def practitioner(pid: str, email: str | None = None) -> Json:
    """A Practitioner, with a mail address when EMAIL is given."""
    resource: Json = {"resourceType": "Practitioner", "id": pid, "name": [{"family": pid}]}
    if email:
        resource["telecom"] = [{"system": "email", "value": email}]
    return resource


def patient(pid: str, given: str, family: str) -> Json:
    """A Patient named GIVEN FAMILY."""
    return {"resourceType": "Patient", "id": pid, "name": [{"given": [given], "family": family}]}


def care_team(pid: str, manager: str | None, backup: str | None = None) -> Json:
    """PID's active CareTeam: MANAGER in the care-manager role, BACKUP as backup."""

    def member(who: str, code: str | None) -> Json:
        role = {"coding": [{"system": CARE_TEAM_ROLE_SYSTEM, "code": code}]} if code else None
        return {"member": {"reference": who}, **({"role": [role]} if role else {})}

    participants = [member("Practitioner/dr-other", None)]
    if manager:
        participants.append(member(manager, CARE_MANAGER_ROLE))
    if backup:
        participants.append(member(backup, BACKUP_CARE_MANAGER_ROLE))
    return {
        "resourceType": "CareTeam",
        "id": f"{pid}-team",
        "status": "active",
        "subject": {"reference": f"Patient/{pid}"},
        "participant": participants,
    }


def note(
    pid: str, text: str = "Seen today; breathless on exertion.", code: str = "11506-3"
) -> Json:
    """A progress note (LOINC 11506-3 unless CODE) for PID."""
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        "date": "2026-12-04T09:00:00Z",
        "author": [{"reference": "Practitioner/dr-other"}],
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": base64.b64encode(text.encode()).decode(),
                }
            }
        ],
    }


def flag(pid: str, status: str = "active", fid: str | None = None) -> Json:
    """A clinical Flag for PID."""
    return {
        "resourceType": "Flag",
        "id": fid or uuid.uuid4().hex[:16],
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                        "code": "clinical",
                    }
                ]
            }
        ],
        "code": {"text": "Deteriorating vital signs"},
        "subject": {"reference": f"Patient/{pid}"},
    }


async def put(client: FhirClient, *resources: Json) -> None:
    """PUT each resource (they carry ids)."""
    for resource in resources:
        await client.request_json(
            "PUT", f"{resource['resourceType']}/{resource['id']}", body=resource
        )


async def grace_and_alice(client: FhirClient, accounts: AccountRepository) -> None:
    """Care manager Grace (account `grace`, with a mail address) and her patient p1, Alice
    Martin, on Grace's care team."""
    await accounts.create(
        username="grace", password="grace-password", role=Role.CARE_MANAGER,
        display_name="Grace", fhir_reference=GRACE,
    )  # fmt: skip
    await put(
        client,
        practitioner("demo-practitioner-miller", "grace@clinic.example.org"),
        patient("p1", "Alice", "Martin"),
        care_team("p1", GRACE),
    )


async def create(client: FhirClient, resource: Json) -> str:
    """POST RESOURCE; its `Type/id`."""
    _, data = await client.request_json("POST", resource["resourceType"], body=resource)
    assert data is not None
    return f"{resource['resourceType']}/{data['id']}"


async def search(client: FhirClient, path: str, **params: str) -> list[Json]:
    """Every resource of one search page (up to 1000)."""
    _, bundle = await client.request_json("GET", path, params=[*params.items(), ("_count", "1000")])
    return [e["resource"] for e in (bundle or {}).get("entry") or []]


async def eventually(
    check: Callable[[], Awaitable[Any]], within: float = 15.0, every: float = 0.05
) -> Any:
    """CHECK's first truthy answer, asked until WITHIN seconds have passed."""
    deadline = time.monotonic() + within
    while True:
        answer = await check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: last answer {answer!r}")
        await asyncio.sleep(every)
