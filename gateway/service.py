"""The running gateway: device sessions feed the buffer; a pump maps and uploads.

    service = GatewayService(buffer, poster, clock)
    await service.run(link, addresses, stop)      # until `stop` is set

A notification is written to the SQLite buffer before its handler returns (the link's
acknowledgement). Each device has a session that connects, reads Device Information and
the feature characteristics, subscribes to every measurement characteristic it has and,
when the link drops or cannot be made, reconnects with exponential backoff. The pump wakes
on every stored frame and on a short timer, maps what can be mapped and uploads batches;
while the FHIR server is unreachable it backs off and everything waits in the buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from gateway.buffer import FrameBuffer
from gateway.clock import Clock
from gateway.codes import SERVICE_FEATURES, SERVICE_MEASUREMENTS, CharacteristicUuid
from gateway.decoders import DecodeError, decode
from gateway.frames import Frame
from gateway.link import BleLink, DeviceConnection, LinkError
from gateway.mapper import Mapper
from gateway.mapping import GroupMode
from gateway.pairing import device_id_for, pair_device
from gateway.to_json import to_json_object
from gateway.uploader import BundlePoster, Uploader, UploadFailed

log = logging.getLogger(__name__)

MEASUREMENT_UUIDS = frozenset(u for uuids in SERVICE_MEASUREMENTS.values() for u in uuids)
FEATURE_UUIDS = frozenset(SERVICE_FEATURES.values())


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """Tuning of a running gateway."""

    group_mode: GroupMode = GroupMode.SUMMARY
    batch_size: int = 200
    pump_interval_s: float = 0.5
    minute_grace_s: float = 2.0
    reconnect_initial_s: float = 1.0
    reconnect_max_s: float = 30.0
    upload_backoff_initial_s: float = 0.5
    upload_backoff_max_s: float = 30.0
    connect_timeout_s: float = 20.0
    retention_s: float = 7 * 86400.0  # uploaded data kept locally this long (wall time)
    prune_every_s: float = 600.0


@dataclass(slots=True)
class GatewayStats:
    """Counters of this process (status reads the buffer; these are for logs and bench)."""

    frames: int = 0
    duplicates: int = 0
    uploaded: int = 0
    latencies_s: list[float] = field(default_factory=list)


def _summary(uuid: CharacteristicUuid, data: bytes) -> str:
    try:
        decoded = to_json_object(decode(uuid, data))
    except DecodeError as error:
        return f"undecodable: {error.reason}"
    keep = {k: v for k, v in decoded.items() if not isinstance(v, dict | list) and v is not None}
    return ", ".join(f"{k}={v}" for k, v in list(keep.items())[:5])


class GatewayService:
    """Buffer, mapper and uploader around any number of device sessions."""

    def __init__(
        self,
        buffer: FrameBuffer,
        poster: BundlePoster | None,
        clock: Clock,
        options: GatewayOptions | None = None,
    ) -> None:
        self.buffer = buffer
        self.clock = clock
        self.options = options or GatewayOptions()
        self.mapper = Mapper(buffer, self.options.group_mode, self.options.minute_grace_s)
        self.uploader = (
            Uploader(buffer, poster, self.options.batch_size) if poster is not None else None
        )
        self.stats = GatewayStats()
        self._wake = asyncio.Event()
        self._last_reading: dict[str, tuple[datetime, CharacteristicUuid, bytes]] = {}
        self._next_prune = 0.0

    # ---- the acknowledgement path ---------------------------------------------------
    async def store_frame(self, frame: Frame) -> None:
        """Commit a received frame to the buffer (this is the acknowledgement) and wake the pump."""
        if self.buffer.append(frame):
            self.stats.frames += 1
        else:
            self.stats.duplicates += 1
        if frame.uuid in MEASUREMENT_UUIDS:
            self._last_reading[frame.device] = (frame.received_at, frame.uuid, frame.data)
        self._wake.set()

    # ---- mapping and upload ---------------------------------------------------------
    def _flush_last_readings(self) -> None:
        for address, (at, uuid, data) in self._last_reading.items():
            self.buffer.set_last_reading(address, at, _summary(uuid, data))
        self._last_reading.clear()

    async def pump_once(self) -> int:
        """Map what can be mapped and upload until the outbox is empty; uploaded count."""
        self._flush_last_readings()
        wall = time.time()
        if wall >= self._next_prune:
            self._next_prune = wall + self.options.prune_every_s
            self.buffer.prune(wall - self.options.retention_s)
        self.mapper.map_pending(self.clock.now())
        if self.uploader is None:
            return 0
        total = 0
        while True:
            result = await self.uploader.upload_batch()
            total += result.uploaded
            self.stats.uploaded += result.uploaded
            self.stats.latencies_s.extend(result.latencies_s)
            if result.uploaded + result.rejected == 0:
                return total

    async def pump(self, stop: asyncio.Event) -> None:
        """Run `pump_once` on every new frame and timer tick, backing off while uploads fail."""
        backoff = self.options.upload_backoff_initial_s
        while not stop.is_set():
            self._wake.clear()
            delay = self.options.pump_interval_s
            try:
                await self.pump_once()
                backoff = self.options.upload_backoff_initial_s
            except UploadFailed as error:
                log.warning("upload failed (%s); retrying in %.1f s", error, backoff)
                delay = backoff
                backoff = min(self.options.upload_backoff_max_s, backoff * 2)
            await _wait_any(
                stop, self._wake if delay == self.options.pump_interval_s else None, delay
            )

    # ---- device sessions ------------------------------------------------------------
    async def _connect_once(self, link: BleLink, address: str, stop: asyncio.Event) -> None:
        connection: DeviceConnection = await link.connect(address, self.options.connect_timeout_s)
        try:
            info = await connection.read_device_information()
            before = next((r for r in self.buffer.devices() if r.address == address), None)
            self.buffer.upsert_device(
                address, device_id_for(address), "", info.manufacturer, info.model, info.serial
            )
            row = next(r for r in self.buffer.devices() if r.address == address)
            bindings = self.buffer.bindings()
            if address in bindings and row != before:
                # Paired before we knew its make and serial: refresh the FHIR Device.
                pair_device(
                    self.buffer,
                    address,
                    bindings[address].patient_id,
                    self.clock.now(),
                    row.name,
                    row.manufacturer,
                    row.model,
                    row.serial,
                )
            self.buffer.set_connected(address, True, self.clock.now())
            available = connection.characteristics()
            for uuid in sorted(available & FEATURE_UUIDS):
                value = await connection.read(uuid)
                await self.store_frame(Frame(address, uuid, value, self.clock.now()))

            async def handler(
                uuid: CharacteristicUuid, data: bytes, received_at: datetime | None
            ) -> None:
                at = received_at if received_at is not None else self.clock.now()
                await self.store_frame(Frame(address, uuid, bytes(data), at))

            for uuid in sorted(available & MEASUREMENT_UUIDS):
                await connection.subscribe(uuid, handler)
            log.info("%s connected (%s %s)", address, info.manufacturer, info.model)
            stopped = asyncio.ensure_future(stop.wait())
            dropped = asyncio.ensure_future(connection.wait_disconnected())
            try:
                await asyncio.wait({stopped, dropped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                dropped.cancel()
        finally:
            self.buffer.set_connected(address, False, self.clock.now())
            with contextlib.suppress(Exception):
                await connection.disconnect()

    async def device_session(self, link: BleLink, address: str, stop: asyncio.Event) -> None:
        """Keep one device connected: connect, subscribe, and reconnect with backoff."""
        backoff = self.options.reconnect_initial_s
        while not stop.is_set():
            started = asyncio.get_running_loop().time()
            try:
                await self._connect_once(link, address, stop)
            except (LinkError, OSError, TimeoutError) as error:
                log.info("%s: %s", address, error)
            except Exception as error:  # a backend's own errors (bleak, D-Bus)
                log.warning("%s: %s: %s", address, type(error).__name__, error)
            if stop.is_set():
                return
            if asyncio.get_running_loop().time() - started > 30:
                backoff = self.options.reconnect_initial_s  # it had been up for a while
            await _wait_any(stop, None, backoff)
            backoff = min(self.options.reconnect_max_s, backoff * 2)

    async def run(self, link: BleLink, addresses: Sequence[str], stop: asyncio.Event) -> None:
        """Sessions for every address plus the pump, until `stop` is set."""
        for address in addresses:
            self.buffer.upsert_device(address, device_id_for(address))
        tasks = [asyncio.create_task(self.pump(stop), name="gateway-pump")]
        tasks += [
            asyncio.create_task(self.device_session(link, a, stop), name=f"session-{a}")
            for a in addresses
        ]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._flush_last_readings()


async def _wait_any(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
