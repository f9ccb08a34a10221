"""The worker end to end through the embedded store: an episode from the gateway's
simulator raises one Flag, recovery closes it, and a restart writes no duplicates."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.buffer import OutboxItem
from gateway.history import week_of_readings
from gateway.physiology import Episode
from gateway.simulated_gateway import _binding, demo_devices
from gateway.simulator import Schedule
from gateway.uploader import transaction_bundle
from integrations.fhir.access import FhirAccess, FhirConfig, standalone_access
from integrations.fhir.client import FhirClient
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from scoring.assessments import FLAG_SYSTEM, RISK_ASSESSMENT_SYSTEM
from scoring.model import load_model
from scoring.windows import samples_from_observation
from scoring.worker import FileCursor, ScoringWorker, WorkerConfig

END = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
EPISODE = Episode(END - timedelta(hours=9), timedelta(hours=6), 1.0)


def episode_bundle(patient: str, end: datetime, hours: float) -> dict[str, Any]:
    """The patient's simulated devices over HOURS before END, with one deterioration."""
    items: list[OutboxItem] = []
    for device in demo_devices(patient, None, False):
        physiology = dataclasses.replace(device.physiology, episodes=(EPISODE,))
        device = dataclasses.replace(device, physiology=physiology)
        binding = _binding(device, patient)
        for record in week_of_readings(device, binding, end, hours / 24, schedule=Schedule()):
            items.append(
                OutboxItem(0, record.identifier, "Observation", "POST", record.resource_json, 0.0)
            )
    return transaction_bundle(items)


@pytest.fixture
async def access(sqlite_url: str) -> AsyncIterator[FhirAccess]:
    await migrate(sqlite_url)
    engine = create_engine(sqlite_url)
    async with standalone_access(
        FhirConfig(secret_key="s" * 32), create_sessionmaker(engine)
    ) as seam:
        yield seam
    await engine.dispose()


async def ours(client: FhirClient, rtype: str, system: str) -> list[dict[str, Any]]:
    _, page = await client.request_json(
        "GET", rtype, params=[("identifier", f"{system}|"), ("_count", "1000")]
    )
    return [e["resource"] for e in (page or {}).get("entry", [])]


async def test_episode_raises_one_flag_recovery_closes_it_restart_duplicates_nothing(
    access: FhirAccess, tmp_path: Path
) -> None:
    client = access.system()
    _, patient = await client.request_json(
        "POST",
        "Patient",
        body={"resourceType": "Patient", "gender": "female", "birthDate": "1950-03-01"},
    )
    pid = str((patient or {})["id"])
    bundle = episode_bundle(pid, END, 11)
    await client.post_bundle_json(bundle)
    hours = {
        sample.at.replace(minute=0, second=0, microsecond=0)
        for entry in bundle["entry"]
        for sample in samples_from_observation(entry["resource"])
    }
    assert len(hours) >= 6
    model = load_model()
    cursor = FileCursor(tmp_path / "cursor.json")
    worker = ScoringWorker(client, model, WorkerConfig(page_size=1000), cursor)
    while True:  # follow the change feed until it is drained
        done = await worker.poll_once()
        if not done.patients:
            break
    assessments = await ours(client, "RiskAssessment", RISK_ASSESSMENT_SYSTEM)
    flags = await ours(client, "Flag", FLAG_SYSTEM)
    assert len(assessments) == len(hours)  # one per hour window with readings
    assert len({a["identifier"][0]["value"] for a in assessments}) == len(hours)
    assert len(flags) == 1
    (episode,) = flags
    assert episode["status"] == "inactive"
    opened = datetime.fromisoformat(episode["period"]["start"])
    assert EPISODE.start <= opened < EPISODE.start + EPISODE.duration
    assert "end" in episode["period"]
    first = assessments[0]
    assert first["basis"] and first["basis"][0]["reference"].startswith("Observation/")
    news2_part = first["prediction"][1]["extension"][0]["extension"]
    assert {"url": "missing", "valueCode": "respiration_rate"} in news2_part
    assert {"url": "missing", "valueCode": "consciousness"} in news2_part

    # A worker killed after writing but before saving its cursor scores again: nothing new.
    cursor.path.unlink()
    again = ScoringWorker(client, model, WorkerConfig(page_size=1000), FileCursor(cursor.path))
    while (done := await again.poll_once()).patients:
        assert done.assessments == 0 and done.flags == 0
    batch = await again.run_batch(END - timedelta(hours=11), END)
    assert (batch.assessments, batch.flags, batch.unchanged) == (0, 0, len(hours))
    assert len(await ours(client, "RiskAssessment", RISK_ASSESSMENT_SYSTEM)) == len(hours)
    assert len(await ours(client, "Flag", FLAG_SYSTEM)) == 1
    json.dumps(assessments)
