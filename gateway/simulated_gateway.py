"""A simulated gateway for demos: virtual devices per patient, paired, uploading live.

For the service (`carebot serve` starts this as a background task)::

    task = asyncio.create_task(run_simulated_gateway(
        fhir_base_url="http://127.0.0.1:8080/fhir", token=token,
        patient_ids=["pat-1", "pat-2"], buffer_path=Path("var/gateway.db")))
    ...
    task.cancel()   # or pass stop=asyncio.Event() and set it

`token` needs `system/Observation.write system/Device.write` (for the embedded store:
`await ensure_client(sessionmaker, "gateway", GATEWAY_SCOPES)`). Each patient gets a heart-
rate strap, pulse oximeter, blood-pressure cuff, thermometer, scale and glucose meter with
addresses derived from the patient id, so the FHIR Device ids are stable across runs.

For demo seeding, `demo_history_bundle(patient_id, end)` is a transaction bundle (JSON) of
the same Devices and a week of Observations produced through GATT bytes -> decoder ->
mapping (`gateway.history.week_of_readings`); post it with `FhirClient.post_bundle_json`.
Its identifiers are deterministic, so posting it twice stores it once.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from gateway.buffer import DeviceRow, FrameBuffer, OutboxItem
from gateway.clock import Clock, WallClock
from gateway.frames import DeviceBinding
from gateway.history import week_of_readings
from gateway.mapping import GroupMode
from gateway.pairing import device_id_for, device_resource_json, pair_device
from gateway.physiology import Episode, Physiology
from gateway.service import GatewayOptions, GatewayService
from gateway.simulated_link import DeviceLog, SimulatedLink
from gateway.simulator import Profile, Schedule, VirtualDevice
from gateway.uploader import transaction_bundle
from integrations.fhir import BearerAuth, FhirClient

# A demo-friendly cadence: something new on every device within a few minutes.
DEMO_SCHEDULE = Schedule(
    blood_pressure_every_s=600.0,
    temperature_every_s=900.0,
    weight_every_s=3600.0,
    glucose_every_s=1800.0,
    spot_check_every_s=300.0,
)
# The fault test's cadence: many spot readings in a five-minute session.
FAST_SCHEDULE = Schedule(
    blood_pressure_every_s=20.0,
    temperature_every_s=15.0,
    weight_every_s=60.0,
    glucose_every_s=30.0,
    spot_check_every_s=10.0,
)
SCHEDULES = {"demo": DEMO_SCHEDULE, "fast": FAST_SCHEDULE, "realistic": Schedule()}


def _digest(patient_id: str) -> bytes:
    return hashlib.sha256(f"carebot-sim:{patient_id}".encode()).digest()


def demo_devices(
    patient_id: str, now: datetime | None = None, deteriorating: bool | None = None
) -> list[VirtualDevice]:
    """The six virtual devices of a demo patient, with that patient's physiology.

    With `now`, one patient in three (by id) is deteriorating since twelve hours before
    `now` and one in three had an episode three days earlier; `deteriorating` overrides.
    """
    digest = _digest(patient_id)
    seed = int.from_bytes(digest[:4], "big")
    episodes: tuple[Episode, ...] = ()
    current = digest[4] % 3 == 0 if deteriorating is None else deteriorating
    if now is not None and current:
        # One patient in three is deteriorating now: worse over the last twelve hours.
        episodes = (Episode(now - timedelta(hours=12), timedelta(hours=36), 0.8),)
    elif now is not None and deteriorating is None and digest[4] % 3 == 1:
        # One in three had an episode earlier in the week and recovered.
        episodes = (Episode(now - timedelta(days=3, hours=digest[3] % 24), timedelta(hours=12)),)
    physiology = Physiology(
        heart_rate_bpm=62 + digest[5] % 20,
        spo2_pct=95.5 + (digest[6] % 30) / 10,
        systolic_mmhg=112 + digest[7] % 30,
        diastolic_mmhg=70 + digest[8] % 15,
        temperature_c=36.5 + (digest[9] % 6) / 10,
        weight_kg=55 + digest[10] % 45,
        height_m=1.55 + (digest[11] % 35) / 100,
        glucose_mg_dl=90 + digest[12] % 40,
        episodes=episodes,
    )
    prefix = "C0:" + ":".join(f"{b:02X}" for b in digest[13:16])
    return [
        VirtualDevice(f"{prefix}:{index:02X}:{0x10 + index:02X}", profile, physiology, seed + index)
        for index, profile in enumerate(Profile)
    ]


def _binding(device: VirtualDevice, patient_id: str) -> DeviceBinding:
    return DeviceBinding(device.address, patient_id, device_id_for(device.address))


def demo_history_bundle(
    patient_id: str,
    end: datetime,
    days: float = 7.0,
    mode: GroupMode = GroupMode.SUMMARY,
    deteriorating: bool | None = None,
) -> dict[str, Any]:
    """A transaction bundle: the patient's demo Devices and `days` of Observations before `end`."""
    items: list[OutboxItem] = []
    for device in demo_devices(patient_id, end, deteriorating):
        binding = _binding(device, patient_id)
        row = DeviceRow(
            device.address,
            device.name,
            device.manufacturer,
            device.model_number,
            device.serial_number,
            patient_id,
            binding.device_id,
            False,
            None,
            None,
            None,
        )
        row_json = device_resource_json(row, patient_id)
        items.append(OutboxItem(0, f"Device/{binding.device_id}", "Device", "PUT", row_json, 0.0))
        for record in week_of_readings(device, binding, end, days, mode=mode):
            items.append(
                OutboxItem(0, record.identifier, "Observation", "POST", record.resource_json, 0.0)
            )
    return transaction_bundle(items)


def pair_demo_devices(
    buffer: FrameBuffer, devices_by_patient: dict[str, list[VirtualDevice]], at: datetime
) -> None:
    """Pair every demo device to its patient (idempotent)."""
    paired = buffer.bindings()
    for patient_id, devices in devices_by_patient.items():
        for device in devices:
            current = paired.get(device.address)
            if current is not None and current.patient_id == patient_id:
                continue
            pair_device(
                buffer,
                device.address,
                patient_id,
                at,
                device.name,
                device.manufacturer,
                device.model_number,
                device.serial_number,
            )


async def run_simulated_gateway(
    *,
    fhir_base_url: str,
    token: str | httpx.Auth,
    patient_ids: Sequence[str],
    buffer_path: Path,
    clock: Clock | None = None,
    schedule: Schedule = DEMO_SCHEDULE,
    options: GatewayOptions | None = None,
    stop: asyncio.Event | None = None,
    session_start: datetime | None = None,
    session_end: datetime | None = None,
    device_log: Path | None = None,
    http: httpx.AsyncClient | None = None,
    deteriorating: Collection[str] | None = None,
) -> None:
    """Run virtual devices for `patient_ids` through the whole gateway until stopped.

    `deteriorating`: patient ids whose vitals worsen now (default: one in three, by id).
    `token`: a bearer token, or an `httpx.Auth` that renews short-lived ones.
    """
    clock = clock or WallClock()
    stop = stop or asyncio.Event()
    buffer = FrameBuffer(buffer_path)
    log = DeviceLog(device_log) if device_log is not None else None
    own_http = http is None
    client_http = http or httpx.AsyncClient(timeout=httpx.Timeout(30.0))
    try:
        now = clock.now()
        by_patient = {
            p: demo_devices(p, now, None if deteriorating is None else p in deteriorating)
            for p in patient_ids
        }
        pair_demo_devices(buffer, by_patient, now)
        devices = [d for ds in by_patient.values() for d in ds]
        link = SimulatedLink(
            devices, clock, schedule, start=session_start, end=session_end, log=log
        )
        poster = FhirClient(
            fhir_base_url,
            http=client_http,
            auth=token if isinstance(token, httpx.Auth) else BearerAuth(token),
        )
        service = GatewayService(buffer, poster, clock, options)
        await service.run(link, [d.address for d in devices], stop)
    finally:
        if own_http:
            await client_http.aclose()
        if log is not None:
            log.close()
        buffer.close()
