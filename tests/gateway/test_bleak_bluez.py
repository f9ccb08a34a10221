"""End to end through bleak and BlueZ's D-Bus API (python3-dbusmock) into the FHIR store.

No radio exists on these machines; everything from bleak's D-Bus calls inward is the real
path: discovery by advertisement, connect, GATT service resolution, Device Information
reads, StartNotify, and `Value` PropertiesChanged signals carrying the real bytes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation

from gateway.bleak_link import BleakLink
from gateway.buffer import FrameBuffer
from gateway.clock import ScaledClock
from gateway.codes import CharacteristicUuid, PressureUnit, ServiceUuid
from gateway.encoders import encode_blood_pressure, encode_heart_rate
from gateway.measurements import BloodPressureMeasurement, GattDateTime, HeartRateMeasurement
from gateway.pairing import device_id_for, pair_device
from gateway.service import GatewayOptions, GatewayService
from integrations.fhir import SearchQuery
from tests.gateway import bluez_mock
from tests.gateway.bluez_mock import MockBluez
from tests.gateway.conftest import GatewayStore

pytestmark = pytest.mark.skipif(
    not bluez_mock.available(), reason="needs dbus-daemon and python3-dbusmock (.ci/system-deps)"
)

HRM = "C0:FF:EE:00:20:01"
BPM = "C0:FF:EE:00:20:02"


@pytest.fixture
async def bluez(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MockBluez]:
    mock = MockBluez(tmp_path)
    address = await mock.start()
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
    await mock.add_peripheral(
        HRM,
        "Polar H10 sim",
        ServiceUuid.HEART_RATE,
        {CharacteristicUuid.HEART_RATE_MEASUREMENT: "notify"},
        {},
        ("Polar Electro Oy", "H10", "HR-0001"),
    )
    await mock.add_peripheral(
        BPM,
        "Omron sim",
        ServiceUuid.BLOOD_PRESSURE,
        {
            CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT: "indicate",
            CharacteristicUuid.INTERMEDIATE_CUFF_PRESSURE: "notify",
        },
        {},
        ("OMRON HEALTHCARE", "BP7000", "BP-0042"),
    )
    mock.start_advertising(0.2)
    yield mock
    await mock.stop()


async def test_scan_by_service_uuid(bluez: MockBluez) -> None:
    link = BleakLink()
    found = await link.scan([ServiceUuid.BLOOD_PRESSURE], 1.0)
    assert [(a.address, a.services) for a in found] == [(BPM, (ServiceUuid.BLOOD_PRESSURE,))]
    both = await link.scan([ServiceUuid.BLOOD_PRESSURE, ServiceUuid.HEART_RATE], 1.0)
    assert sorted(a.address for a in both) == [HRM, BPM]
    assert {a.name for a in both} == {"Polar H10 sim", "Omron sim"}


async def _until(condition: Any, seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_heart_rate_and_blood_pressure_reach_the_store(
    bluez: MockBluez, gateway_store: GatewayStore, tmp_path: Path
) -> None:
    # Simulated time runs 30x: a minute of heart rate takes two seconds.
    clock = ScaledClock(datetime(2026, 11, 20, 8, 0, 50, tzinfo=UTC), speed=30.0)
    buffer = FrameBuffer(tmp_path / "gateway.db")
    for address in (HRM, BPM):
        pair_device(buffer, address, "pat-ble", clock.now())
    options = GatewayOptions(reconnect_initial_s=0.1, reconnect_max_s=0.5, pump_interval_s=0.05)
    service = GatewayService(buffer, gateway_store.client(), clock, options)
    stop = asyncio.Event()
    runner = asyncio.create_task(service.run(BleakLink(scan_timeout_s=5), [HRM, BPM], stop))

    async def subscribed() -> bool:
        return await bluez.is_notifying(
            HRM, CharacteristicUuid.HEART_RATE_MEASUREMENT
        ) and await bluez.is_notifying(BPM, CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT)

    try:
        await _until(subscribed)
        sent_hr: list[int] = []
        for bpm in (71, 72, 74, 73, 75):
            m = HeartRateMeasurement(bpm, True, None, (60 / bpm,))
            await bluez.notify(HRM, CharacteristicUuid.HEART_RATE_MEASUREMENT, encode_heart_rate(m))
            sent_hr.append(bpm)
            await asyncio.sleep(0.05)
        # The strap drops out of range; the gateway reconnects on its own.
        await bluez.drop(HRM)

        async def resubscribed() -> bool:
            return await bluez.is_notifying(HRM, CharacteristicUuid.HEART_RATE_MEASUREMENT)

        await asyncio.sleep(0.2)
        await _until(resubscribed)
        for bpm in (76, 77):
            m = HeartRateMeasurement(bpm, True)
            await bluez.notify(HRM, CharacteristicUuid.HEART_RATE_MEASUREMENT, encode_heart_rate(m))
            sent_hr.append(bpm)
        readings = [
            BloodPressureMeasurement(
                131.0, 84.0, 100.0, PressureUnit.MMHG, GattDateTime(2026, 11, 20, 7, 58, s), 70.0, 1
            )
            for s in (5, 40)
        ]
        for reading in readings:
            await bluez.notify(
                BPM, CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT, encode_blood_pressure(reading)
            )
        reader = gateway_store.client(gateway_store.reader_token)

        async def stored() -> list[dict[str, Any]]:
            found = await reader.search_all(SearchQuery(Observation).where(_count="100"))
            return [json.loads(o.model_dump_json(exclude_none=True)) for o in found]

        def hr_samples(observations: list[dict[str, Any]]) -> int:
            return sum(
                c["valueInteger"]
                for o in observations
                if "/heart-rate-1min/" in o["identifier"][0]["value"]
                for c in o["component"]
                if c["code"]["coding"][0]["code"] == "sample-count"
            )

        async def complete() -> bool:
            observations = await stored()
            panels = [o for o in observations if o["code"]["coding"][0]["code"] == "85354-9"]
            return hr_samples(observations) >= len(sent_hr) and len(panels) == 2

        await _until(complete, 30)
        await asyncio.sleep(0.5)  # nothing more may arrive
        observations = await stored()
    finally:
        stop.set()
        await runner
    hr_minutes = [o for o in observations if "/heart-rate-1min/" in o["identifier"][0]["value"]]
    counts = [
        next(
            c["valueInteger"]
            for c in o["component"]
            if c["code"]["coding"][0]["code"] == "sample-count"
        )
        for o in hr_minutes
    ]
    assert sum(counts) == len(sent_hr)  # every notification, none twice
    panels = [o for o in observations if o["code"]["coding"][0]["code"] == "85354-9"]
    assert sorted(p["effectiveDateTime"] for p in panels) == [
        "2026-11-20T07:58:05Z",
        "2026-11-20T07:58:40Z",
    ]
    for panel in panels:
        assert [c["valueQuantity"]["value"] for c in panel["component"]] == [131.0, 84.0, 100.0]
        assert panel["device"]["reference"] == f"Device/{device_id_for(BPM)}"
        assert panel["subject"]["reference"] == "Patient/pat-ble"
    device = await reader.read(Device, device_id_for(BPM))
    assert device.manufacturer == "OMRON HEALTHCARE"
    assert device.serialNumber == "BP-0042"
    assert device.patient is not None and device.patient.reference == "Patient/pat-ble"
    assert buffer.counts().outbox_pending == 0
    buffer.close()


async def test_command_line_scan_pair_run_status(
    bluez: MockBluez, gateway_store: GatewayStore, tmp_path: Path
) -> None:
    """The same path from the command line, as a person at the bedside box would use it."""
    import os
    import sys

    repo = Path(__file__).parents[2]
    env = {**os.environ, "CAREBOT_GATEWAY_BUFFER_PATH": str(tmp_path / "cli-gateway.db")}

    async def carebot_gateway(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway.cli",
            *args,
            cwd=repo,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        return process.returncode or 0, out.decode()

    code, out = await carebot_gateway("scan", "--timeout", "1.5")
    assert code == 0 and BPM in out and HRM in out and "blood_pressure" in out
    code, out = await carebot_gateway("pair", BPM.lower(), "pat-cli")
    assert code == 0 and f"{BPM} paired to Patient/pat-cli" in out
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.cli",
        "run",
        "--fhir-url",
        gateway_store.base_url,
        "--token",
        gateway_store.token,
        "--pump-interval",
        "0.05",
        cwd=repo,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:

        async def subscribed() -> bool:
            return await bluez.is_notifying(BPM, CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT)

        await _until(subscribed, 30)
        reading = BloodPressureMeasurement(
            118.0, 76.0, 90.0, PressureUnit.MMHG, GattDateTime(2026, 11, 20, 9, 15, 0), 64.0, 1
        )
        await bluez.notify(
            BPM, CharacteristicUuid.BLOOD_PRESSURE_MEASUREMENT, encode_blood_pressure(reading)
        )
        reader = gateway_store.client(gateway_store.reader_token)

        async def stored() -> bool:
            query = SearchQuery(Observation).where(subject="Patient/pat-cli", code="85354-9")
            return await reader.count(query) == 1

        await _until(stored, 30)
        code, out = await carebot_gateway("status", "--json")
        status = json.loads(out)
        (device,) = status["devices"]
        assert device["address"] == BPM and device["connected"] and device["patient"] == "pat-cli"
        assert device["manufacturer"] == "OMRON HEALTHCARE"
        assert "systolic_mmhg=118.0" in device["last_reading"]
    finally:
        run.terminate()
        assert await asyncio.wait_for(run.wait(), 20) == 0
