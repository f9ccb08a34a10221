"""The worker end to end through the embedded store: an episode from the gateway's
simulator raises one Flag, recovery closes it, and a restart writes no duplicates."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
from scoring.assessments import FLAG_SYSTEM, RISK_ASSESSMENT_SYSTEM, window_identifier
from scoring.follower import FeedFollower
from scoring.model import TrainedModel, load_model
from scoring.windows import DEFAULT_WIDTH, samples_from_observation, window_start
from scoring.work_queue import WorkQueue, claim_strategy
from scoring.worker import ScoringWorker, WorkerConfig

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


@dataclasses.dataclass
class Store:
    access: FhirAccess
    sessions: async_sessionmaker[AsyncSession]
    url: str

    def follower(self, model: TrainedModel, name: str = "default") -> FeedFollower:
        worker = ScoringWorker(self.access.system(), model, WorkerConfig(page_size=1000))
        return FeedFollower(worker, WorkQueue(self.sessions, claim_strategy(self.url), name=name))


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    await migrate(sqlite_url)
    engine = create_engine(sqlite_url)
    sessions = create_sessionmaker(engine)
    async with standalone_access(FhirConfig(secret_key="s" * 32), sessions) as seam:
        yield Store(seam, sessions, sqlite_url)
    await engine.dispose()


async def ours(client: FhirClient, rtype: str, system: str) -> list[dict[str, Any]]:
    _, page = await client.request_json(
        "GET", rtype, params=[("identifier", f"{system}|"), ("_count", "1000")]
    )
    return [e["resource"] for e in (page or {}).get("entry", [])]


async def test_episode_raises_one_flag_recovery_closes_it_restart_duplicates_nothing(
    store: Store,
) -> None:
    client = store.access.system()
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
    follower = store.follower(model)
    scored: list[str] = []
    while (done := await follower.poll_once()).patients:  # until the feed is drained
        scored += done.windows
    # (the bundle's devices come one after another, so each page of the feed touches
    # every hour and rescoring follows the data: a window is scored once per page)
    assert {*scored} == {window_identifier(pid, hour) for hour in hours}
    assessments = await ours(client, "RiskAssessment", RISK_ASSESSMENT_SYSTEM)
    flags = await ours(client, "Flag", FLAG_SYSTEM)
    assert len(assessments) == len(hours)  # one per hour window with readings
    assert len({a["identifier"][0]["value"] for a in assessments}) == len(hours)
    assert len(flags) == 1
    (episode,) = flags
    assert episode["status"] == "inactive"
    opened = datetime.fromisoformat(episode["period"]["start"])
    # raised within one window: the window the episode begins in, or the next
    assert window_start(EPISODE.start) <= opened <= window_start(EPISODE.start) + DEFAULT_WIDTH
    assert "end" in episode["period"]
    first = assessments[0]
    assert first["basis"] and first["basis"][0]["reference"].startswith("Observation/")
    news2_part = first["prediction"][1]["extension"][0]["extension"]
    assert {"url": "missing", "valueCode": "respiration_rate"} in news2_part
    assert {"url": "missing", "valueCode": "consciousness"} in news2_part

    # The whole feed read again (another feed name starts at its beginning), as if every
    # claim had been lost after writing: it scores again and writes nothing new.
    again = store.follower(model, name="replay")
    while (done := await again.poll_once()).patients:
        assert done.assessments == 0 and done.flags == 0
    batch = await again.worker.run_batch(END - timedelta(hours=11), END)
    assert (batch.assessments, batch.flags, batch.unchanged) == (0, 0, len(hours))
    assert len(await ours(client, "RiskAssessment", RISK_ASSESSMENT_SYSTEM)) == len(hours)
    assert len(await ours(client, "Flag", FLAG_SYSTEM)) == 1
    json.dumps(assessments)
