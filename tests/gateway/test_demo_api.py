"""The two things the service uses: the simulated gateway task and the week of history."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation

from bot.cli import main
from gateway.clock import ScaledClock
from gateway.pairing import device_id_for
from gateway.service import GatewayOptions
from gateway.simulated_gateway import demo_devices, demo_history_bundle, run_simulated_gateway
from gateway.simulator import Profile
from integrations.fhir import SearchQuery
from tests.gateway.conftest import GatewayStore

END = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def test_week_of_history_covers_the_week() -> None:
    bundle = demo_history_bundle("pat-week", END, days=7)
    entries = [e["resource"] for e in bundle["entry"]]
    days = {
        r.get("effectiveDateTime", r.get("effectivePeriod", {}).get("start", ""))[:10]
        for r in entries
    }
    assert len(days - {""}) == 8  # 08:00 on the 13th to 08:00 on the 20th
    codes = {r["code"]["coding"][0]["code"] for r in entries if r["resourceType"] == "Observation"}
    assert codes >= {"8867-4", "2708-6", "85354-9", "8310-5", "29463-7", "2339-0"}


async def test_history_posts_once(gateway_store: GatewayStore) -> None:
    bundle = demo_history_bundle("pat-week", END, days=1.5)
    observations = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    client = gateway_store.client()
    await client.post_bundle_json(bundle)
    await client.post_bundle_json(bundle)  # seeding twice stores it once
    reader = gateway_store.client(gateway_store.reader_token)
    stored = await reader.count(SearchQuery(Observation).where(subject="Patient/pat-week"))
    assert stored == len(observations)
    for device in demo_devices("pat-week"):
        fetched = await reader.read(Device, device_id_for(device.address))
        assert fetched.patient is not None
        assert fetched.patient.reference == "Patient/pat-week"


async def test_simulated_gateway_task_uploads_for_each_patient(
    gateway_store: GatewayStore, tmp_path: Path
) -> None:
    clock = ScaledClock(END, speed=120.0)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_simulated_gateway(
            fhir_base_url=gateway_store.base_url,
            token=gateway_store.token,
            patient_ids=["pat-a", "pat-b"],
            buffer_path=tmp_path / "gateway.db",
            clock=clock,
            options=GatewayOptions(pump_interval_s=0.05),
            stop=stop,
            http=gateway_store.http,
        )
    )
    reader = gateway_store.client(gateway_store.reader_token)
    try:
        for _ in range(200):
            a = await reader.count(SearchQuery(Observation).where(subject="Patient/pat-a"))
            b = await reader.count(SearchQuery(Observation).where(subject="Patient/pat-b"))
            if a >= 3 and b >= 3:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("no Observations from the simulated gateway")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert clock.now() - END < timedelta(hours=2)


def test_status_lists_quarantine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.buffer import FrameBuffer
    from gateway.simulator import VirtualDevice, device_frames

    path = tmp_path / "gw.db"
    buffer = FrameBuffer(path)
    device = VirtualDevice("C0:FF:EE:00:30:01", Profile.THERMOMETER)
    buffer.upsert_device(device.address, device_id_for(device.address))
    buffer.append_many(list(device_frames(device, END, END + timedelta(hours=3))))
    buffer.close()
    assert main(["gateway", "status", "--json", "--buffer", str(path)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["quarantine"][0]["address"] == device.address
    assert status["quarantine"][0]["frames"] == 6
    assert status["buffer_depth"]["frames_quarantined"] == 6
    assert status["devices"][0]["patient"] is None
    assert main(["gateway", "pair", device.address, "pat-q", "--buffer", str(path)]) == 0
    assert "6 quarantined readings will upload" in capsys.readouterr().out
    assert main(["gateway", "status", "--buffer", str(path)]) == 0
    assert "Patient/pat-q" in capsys.readouterr().out
    monkeypatch.delenv("CAREBOT_GATEWAY_BUFFER_PATH", raising=False)


def test_a_deteriorating_patient_shows_it_in_the_history() -> None:
    def last_hours(bundle: dict[str, object], code: str) -> list[float]:
        entries = bundle["entry"]
        assert isinstance(entries, list)
        values = []
        for entry in entries:
            r = entry["resource"]
            if r["resourceType"] != "Observation":
                continue
            when = r.get("effectiveDateTime") or r.get("effectivePeriod", {}).get("start", "")
            if (
                r["code"]["coding"][0]["code"] == code
                and "valueQuantity" in r
                and when >= "2026-11-19T20"
            ):
                values.append(r["valueQuantity"]["value"])
        return values

    sick = demo_history_bundle("pat-x", END, days=1, deteriorating=True)
    well = demo_history_bundle("pat-x", END, days=1, deteriorating=False)
    assert max(last_hours(sick, "8310-5")) > max(last_hours(well, "8310-5")) + 0.3
    assert min(last_hours(sick, "2708-6")) < min(last_hours(well, "2708-6")) - 2
    assert max(last_hours(sick, "8867-4")) > max(last_hours(well, "8867-4")) + 10
