"""Many patients with a few hours of device vitals each, loaded through the store's
transactions: one reading per hour window, so that every window's data arrives at once."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from integrations.fhir.client import FhirClient
from scoring.assessments import FLAG_SYSTEM, RISK_ASSESSMENT_SYSTEM, window_identifier

Json = dict[str, Any]
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LOW_SPO2_EVERY = 10
"""Every tenth patient reads SpO2 85 % (NEWS2 3 in a single parameter: a Flag)."""


@dataclass
class Population:
    """Who was loaded and which windows they have."""

    patients: list[str]
    low_spo2: set[str]
    start: datetime
    hours: int

    def windows(self) -> set[str]:
        """The RiskAssessment identifier of every window with a reading."""
        return {
            window_identifier(p, self.start + timedelta(hours=h))
            for p in self.patients
            for h in range(self.hours)
        }


def _observation(ref: str, at: datetime, low_spo2: bool, i: int) -> Json:
    code = [{"system": "http://loinc.org", "code": "8867-4"}]
    quantity = {"value": 70 + i % 20, "unit": "/min", "system": "http://unitsofmeasure.org"}
    if low_spo2:
        code = [
            {"system": "http://loinc.org", "code": "59408-5"},
            {"system": "http://loinc.org", "code": "2708-6"},
        ]
        quantity = {"value": 85, "unit": "%", "system": "http://unitsofmeasure.org"}
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": code},
        "subject": {"reference": ref},
        "effectiveDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "valueQuantity": {**quantity, "code": quantity["unit"]},
    }


async def load_population(
    client: FhirClient, count: int, start: datetime, hours: int = 3, per_bundle: int = 100
) -> Population:
    """COUNT patients, each with one reading in each of HOURS hour windows from START."""
    population = Population([], set(), start, hours)
    for first in range(0, count, per_bundle):
        entries: list[Json] = []
        indexes = range(first, min(count, first + per_bundle))
        for i in indexes:
            ref = f"urn:uuid:{uuid.uuid4()}"
            patient = {"resourceType": "Patient", "gender": "male", "birthDate": "1960-01-01"}
            entries.append({"fullUrl": ref, "resource": patient, "request": _post("Patient")})
            for h in range(hours):
                at = start + timedelta(hours=h, minutes=30)
                observation = _observation(ref, at, i % LOW_SPO2_EVERY == 0, i)
                entries.append({"resource": observation, "request": _post("Observation")})
        response = await client.post_bundle_json(
            {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        )
        locations = [e["response"]["location"] for e in response["entry"]]
        ids = [loc.split("/")[1] for loc in locations if loc.startswith("Patient/")]
        for i, pid in zip(indexes, ids, strict=True):
            population.patients.append(pid)
            if i % LOW_SPO2_EVERY == 0:
                population.low_spo2.add(pid)
    return population


def _post(rtype: str) -> Json:
    return {"method": "POST", "url": rtype}


async def ours(client: FhirClient, rtype: str, system: str) -> list[Json]:
    """Every RTYPE with an identifier of SYSTEM, all pages."""
    found: list[Json] = []
    _, page = await client.request_json(
        "GET", rtype, params=[("identifier", f"{system}|"), ("_count", "1000")]
    )
    while page:
        found += [e["resource"] for e in page.get("entry", [])]
        url = next((k["url"] for k in page.get("link", []) if k["relation"] == "next"), None)
        page = (await client.request_json("GET", url))[1] if url else None
    return found


async def identifier_counts(client: FhirClient) -> tuple[Counter[str], Counter[str]]:
    """How many RiskAssessments and Flags the store holds per identifier."""
    assessments = await ours(client, "RiskAssessment", RISK_ASSESSMENT_SYSTEM)
    flags = await ours(client, "Flag", FLAG_SYSTEM)
    return (
        Counter(a["identifier"][0]["value"] for a in assessments),
        Counter(f["identifier"][0]["value"] for f in flags),
    )
