"""Buffer -> mapper -> uploader against the real embedded FHIR store."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation

from gateway.buffer import FrameBuffer
from gateway.clock import WallClock
from gateway.codes import OBSERVATION_IDENTIFIER_SYSTEM, CharacteristicUuid
from gateway.frames import DeviceBinding
from gateway.mapping import frames_to_observations
from gateway.pairing import device_id_for, pair_device
from gateway.service import GatewayService
from gateway.simulator import Profile, Schedule, VirtualDevice, merged_frames
from gateway.uploader import Uploader, UploadFailed, transaction_bundle
from integrations.fhir import SearchQuery
from tests.gateway.conftest import GatewayStore

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
SCHEDULE = Schedule(blood_pressure_every_s=120, temperature_every_s=90, spot_check_every_s=60)


class FakeOutage:
    """A poster whose server is down: every call fails like a refused connection."""

    calls = 0

    async def post_bundle_json(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        self.calls += 1
        raise ConnectionRefusedError("connection refused")


async def _stored(store: GatewayStore) -> list[dict[str, Any]]:
    reader = store.client(store.reader_token)
    found = await reader.search_all(SearchQuery(Observation).where(_count="1000"))
    return [json.loads(o.model_dump_json(exclude_none=True)) for o in found]


def _devices() -> list[VirtualDevice]:
    return [
        VirtualDevice("C0:FF:EE:00:10:01", Profile.HEART_RATE, seed=1),
        VirtualDevice("C0:FF:EE:00:10:02", Profile.BLOOD_PRESSURE, seed=2),
        VirtualDevice("C0:FF:EE:00:10:03", Profile.THERMOMETER, seed=3),
        VirtualDevice("C0:FF:EE:00:10:04", Profile.PULSE_OXIMETER, seed=4),
    ]


async def test_frames_reach_the_store_once(gateway_store: GatewayStore, tmp_path: Path) -> None:
    buffer = FrameBuffer(tmp_path / "gw.db")
    service = GatewayService(buffer, gateway_store.client(), WallClock())
    for d in _devices():
        pair_device(buffer, d.address, "pat-1", T0, manufacturer="sim")
    frames = list(merged_frames(_devices(), T0, T0 + timedelta(minutes=5), SCHEDULE))
    for frame in frames:
        await service.store_frame(frame)
    await service.pump_once()
    expected: list[str] = []
    for d in _devices():
        binding = DeviceBinding(d.address, "pat-1", device_id_for(d.address))
        expected += [
            r.identifier
            for r in frames_to_observations([f for f in frames if f.device == d.address], binding)
        ]
    stored = await _stored(gateway_store)
    identifiers = sorted(o["identifier"][0]["value"] for o in stored)
    assert identifiers == sorted(expected)
    assert all(o["subject"]["reference"] == "Patient/pat-1" for o in stored)
    # Sending the same bundle again stores nothing new: conditional creates.
    items = buffer.pending(10_000)
    assert items == []
    reader = gateway_store.client(gateway_store.reader_token)
    device = await reader.read(Device, device_id_for("C0:FF:EE:00:10:02"))
    assert device.patient is not None and device.patient.reference == "Patient/pat-1"
    assert device.identifier is not None
    buffer.close()


async def test_resending_a_committed_bundle_makes_no_duplicates(
    gateway_store: GatewayStore, tmp_path: Path
) -> None:
    buffer = FrameBuffer(tmp_path / "gw.db")
    device = VirtualDevice("C0:FF:EE:00:11:01", Profile.BLOOD_PRESSURE, seed=5)
    pair_device(buffer, device.address, "pat-2", T0)
    service = GatewayService(buffer, None, WallClock())
    for frame in merged_frames([device], T0, T0 + timedelta(minutes=10), SCHEDULE):
        await service.store_frame(frame)
    await service.pump_once()
    items = buffer.pending(1000)
    assert len(items) > 5
    client = gateway_store.client()
    await client.post_bundle_json(transaction_bundle(items))
    await client.post_bundle_json(transaction_bundle(items))  # the answer was "lost"
    await Uploader(buffer, client).upload_batch()  # and the gateway sends it a third time
    stored = await _stored(gateway_store)
    assert len(stored) == len([i for i in items if i.resource_type == "Observation"])
    buffer.close()


async def test_unpaired_readings_wait_in_quarantine(
    gateway_store: GatewayStore, tmp_path: Path
) -> None:
    buffer = FrameBuffer(tmp_path / "gw.db")
    service = GatewayService(buffer, gateway_store.client(), WallClock())
    device = VirtualDevice("C0:FF:EE:00:12:01", Profile.THERMOMETER, seed=6)
    buffer.upsert_device(device.address, device_id_for(device.address))
    for frame in merged_frames([device], T0, T0 + timedelta(minutes=10), SCHEDULE):
        await service.store_frame(frame)
    await service.pump_once()
    assert await _stored(gateway_store) == []
    ((address, count, _, _),) = buffer.quarantine()
    assert address == device.address and count > 3
    pair_device(buffer, device.address, "pat-3", T0)
    await service.pump_once()
    stored = await _stored(gateway_store)
    assert len(stored) == count
    assert {o["subject"]["reference"] for o in stored} == {"Patient/pat-3"}
    assert buffer.quarantine() == []
    buffer.close()


async def test_outage_keeps_everything_and_restart_resumes(
    gateway_store: GatewayStore, tmp_path: Path
) -> None:
    path = tmp_path / "gw.db"
    buffer = FrameBuffer(path)
    outage = FakeOutage()
    service = GatewayService(buffer, outage, WallClock())
    device = VirtualDevice("C0:FF:EE:00:13:01", Profile.BLOOD_PRESSURE, seed=7)
    pair_device(buffer, device.address, "pat-4", T0)
    for frame in merged_frames([device], T0, T0 + timedelta(minutes=10), SCHEDULE):
        await service.store_frame(frame)
    with pytest.raises(UploadFailed):
        await service.pump_once()
    assert outage.calls == 1
    pending = buffer.counts().outbox_pending
    assert pending > 0
    buffer.close()
    # A new process on the same buffer file uploads everything.
    reopened = FrameBuffer(path)
    await GatewayService(reopened, gateway_store.client(), WallClock()).pump_once()
    assert reopened.counts().outbox_pending == 0
    assert len(await _stored(gateway_store)) == pending - 1  # minus the Device
    reopened.close()


async def test_a_refused_resource_is_kept_and_the_rest_flows(
    gateway_store: GatewayStore, tmp_path: Path
) -> None:
    buffer = FrameBuffer(tmp_path / "gw.db")
    device = VirtualDevice("C0:FF:EE:00:14:01", Profile.THERMOMETER, seed=8)
    pair_device(buffer, device.address, "pat-5", T0)
    service = GatewayService(buffer, gateway_store.client(), WallClock())
    for frame in merged_frames([device], T0, T0 + timedelta(minutes=10), SCHEDULE):
        await service.store_frame(frame)
    service.mapper.map_pending(datetime.now(UTC))
    items = buffer.pending(100)
    broken = items[2]
    buffer._db.execute(  # corrupt one queued Observation: no status
        "UPDATE outbox SET resource = ? WHERE item = ?",
        (broken.resource_json.replace('"status":"final",', ""), broken.item),
    )
    await service.pump_once()
    assert [identifier for identifier, _ in buffer.rejected()] == [broken.identifier]
    assert len(await _stored(gateway_store)) == len(items) - 2  # minus Device and broken
    buffer.close()


def test_observation_identifier_is_in_the_conditional_create() -> None:
    from gateway.buffer import OutboxItem

    item = OutboxItem(
        1, "dev/heart-rate/x", "Observation", "POST", '{"resourceType":"Observation"}', 0
    )
    entry = transaction_bundle([item])["entry"][0]
    assert (
        entry["request"]["ifNoneExist"]
        == f"identifier={OBSERVATION_IDENTIFIER_SYSTEM}|dev/heart-rate/x"
    )
    assert CharacteristicUuid.HEART_RATE_MEASUREMENT == 0x2A37


def test_mapper_keeps_open_minutes_across_passes_and_restarts(tmp_path: Path) -> None:
    from gateway.mapper import Mapper

    path = tmp_path / "gw.db"
    buffer = FrameBuffer(path)
    device = VirtualDevice("C0:FF:EE:00:15:01", Profile.HEART_RATE, seed=11)
    pair_device(buffer, device.address, "pat-6", T0)
    frames = [
        f
        for f in merged_frames([device], T0, T0 + timedelta(minutes=2), SCHEDULE)
        if f.uuid is CharacteristicUuid.HEART_RATE_MEASUREMENT
    ]
    first_minute = [f for f in frames if f.received_at < T0 + timedelta(minutes=1)]
    mapper = Mapper(buffer)
    buffer.append_many(first_minute[:20])
    assert mapper.map_pending(T0 + timedelta(seconds=20)).observations == 0
    buffer.append_many(first_minute[20:40])
    assert mapper.map_pending(T0 + timedelta(seconds=40)).observations == 0
    buffer.close()
    # A restart in the middle of the minute: the new mapper rebuilds it from the buffer.
    buffer = FrameBuffer(path)
    mapper = Mapper(buffer)
    buffer.append_many(first_minute[40:])
    assert mapper.map_pending(T0 + timedelta(seconds=59)).observations == 0
    result = mapper.map_pending(T0 + timedelta(seconds=63))
    assert result.observations == 1 and result.frames == len(first_minute)
    (item,) = [i for i in buffer.pending(10) if i.resource_type == "Observation"]
    resource = json.loads(item.resource_json)
    count = next(
        c for c in resource["component"] if c["code"]["coding"][0]["code"] == "sample-count"
    )
    assert count["valueInteger"] == len(first_minute)
    buffer.close()


def test_a_resource_replaced_during_its_upload_is_sent_again(tmp_path: Path) -> None:
    buffer = FrameBuffer(tmp_path / "gw.db")
    pair_device(buffer, "C0:FF:EE:00:16:01", "pat-7", T0)
    (in_flight,) = buffer.pending(10)
    # While that upload is on the wire, the gateway learns the maker and re-queues the Device.
    pair_device(buffer, "C0:FF:EE:00:16:01", "pat-7", T0, manufacturer="Acme")
    buffer.mark_uploaded([in_flight])
    (again,) = buffer.pending(10)
    assert '"manufacturer":"Acme"' in again.resource_json
    assert again.revision == in_flight.revision + 1
    buffer.mark_uploaded([again])
    assert buffer.pending(10) == []
    buffer.close()


async def test_prune_forgets_only_what_is_safely_stored(
    gateway_store: GatewayStore, tmp_path: Path
) -> None:
    import time

    buffer = FrameBuffer(tmp_path / "gw.db")
    device = VirtualDevice("C0:FF:EE:00:17:01", Profile.THERMOMETER, seed=12)
    pair_device(buffer, device.address, "pat-8", T0)
    stray = VirtualDevice("C0:FF:EE:00:17:02", Profile.THERMOMETER, seed=13)  # unpaired
    service = GatewayService(buffer, gateway_store.client(), WallClock())
    for frame in merged_frames([device, stray], T0, T0 + timedelta(minutes=10), SCHEDULE):
        await service.store_frame(frame)
    await service.pump_once()
    uploaded = buffer.counts().uploaded
    assert uploaded > 0
    frames, rows = buffer.prune(time.time() + 1)
    assert rows == uploaded and frames > 0
    counts = buffer.counts()
    assert counts.uploaded == 0 and counts.quarantined_frames > 0  # quarantine kept
    # A pending upload holds back pruning of everything newer than itself.
    pair_device(buffer, device.address, "pat-8", T0, manufacturer="Acme")
    assert buffer.prune(time.time() + 1) == (0, 0)
    buffer.close()
