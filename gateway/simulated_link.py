"""A `BleLink` over virtual devices: real GATT bytes on a (possibly scaled) clock.

Each subscribed characteristic gets the frames `gateway.simulator` generates for the device,
at their simulated times. Frames are produced in hour-long windows aligned to the hour, so
a restarted gateway sees exactly the frames an uninterrupted one would have from then on.

A device log (JSON lines, the virtual device's own memory) can record each frame as
"sent" before delivery and "acked" after the gateway's handler returned; on reconnect,
a frame sent but never acknowledged is sent again first, as a bonded device retransmits an
unconfirmed indication. The fault test reads this log as the truth of what was emitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.clock import Clock
from gateway.codes import SERVICE_MEASUREMENTS, CharacteristicUuid, ServiceUuid
from gateway.frames import Frame
from gateway.link import Advertisement, DeviceInformation, FrameHandler, LinkError
from gateway.simulator import Schedule, VirtualDevice, device_frames, feature_frames


def stream_frames(
    device: VirtualDevice, start: datetime, schedule: Schedule, end: datetime | None = None
) -> Iterator[Frame]:
    """A device's frames from `start` (until `end`), generated hour by hour."""
    window = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while end is None or window < end:
        stop = window + timedelta(hours=1)
        for frame in device_frames(device, window, stop, schedule):
            if frame.received_at < start:
                continue
            if end is not None and frame.received_at >= end:
                return
            yield frame
        window = stop


class DeviceLog:
    """The virtual devices' record of what they sent and what was acknowledged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def _write(self, event: str, frame: Frame) -> None:
        line = {
            "event": event,
            "device": frame.device,
            "uuid": int(frame.uuid),
            "data": frame.data.hex(),
            "at": frame.received_at.isoformat(),
        }
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def sent(self, frame: Frame) -> None:
        """Record a frame about to be delivered."""
        self._write("sent", frame)

    def acked(self, frame: Frame) -> None:
        """Record a frame the gateway acknowledged."""
        self._write("acked", frame)

    def unacknowledged(self, device: str) -> list[Frame]:
        """Frames of a device sent but never acknowledged (to retransmit)."""
        acked = set(read_device_log(self.path, "acked"))
        return [
            f for f in read_device_log(self.path, "sent") if f.device == device and f not in acked
        ]

    def close(self) -> None:
        """Close the log."""
        self._file.close()


def read_device_log(path: Path, event: str = "acked") -> list[Frame]:
    """Frames with `event` in a device log, in order (duplicates removed)."""
    seen: set[tuple[str, int, str, str]] = set()
    out: list[Frame] = []
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if entry["event"] != event:
            continue
        key = (entry["device"], entry["uuid"], entry["data"], entry["at"])
        if key in seen:
            continue
        seen.add(key)
        out.append(
            Frame(
                entry["device"],
                CharacteristicUuid(entry["uuid"]),
                bytes.fromhex(entry["data"]),
                datetime.fromisoformat(entry["at"]),
            )
        )
    return out


class SimulatedConnection:
    """A connection to one virtual device."""

    def __init__(self, link: SimulatedLink, device: VirtualDevice) -> None:
        self.link = link
        self.device = device
        self.address = device.address
        self._handlers: dict[CharacteristicUuid, FrameHandler] = {}
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def characteristics(self) -> frozenset[CharacteristicUuid]:
        """The measurement and feature characteristics of the device's service."""
        service = self.device.service
        return frozenset(SERVICE_MEASUREMENTS[service]) | frozenset(feature_frames(self.device))

    async def read_device_information(self) -> DeviceInformation:
        """Device Information of the virtual device."""
        return DeviceInformation(
            self.device.manufacturer, self.device.model_number, self.device.serial_number
        )

    async def read(self, uuid: CharacteristicUuid) -> bytes:
        """A feature characteristic's value."""
        try:
            return feature_frames(self.device)[uuid]
        except KeyError:
            raise LinkError(
                f"{self.address}: characteristic 0x{uuid:04X} is not readable"
            ) from None

    async def subscribe(self, uuid: CharacteristicUuid, handler: FrameHandler) -> None:
        """Start delivering this characteristic's frames."""
        if uuid not in self.characteristics():
            raise LinkError(f"{self.address}: no characteristic 0x{uuid:04X}")
        self._handlers[uuid] = handler
        if self._task is None:
            self._task = asyncio.create_task(self._emit(), name=f"sim-{self.address}")

    async def _deliver(self, frame: Frame) -> None:
        handler = self._handlers.get(frame.uuid)
        if handler is None:
            return
        log = self.link.log
        if log is not None:
            log.sent(frame)
        await handler(frame.uuid, frame.data, frame.received_at)
        if log is not None:
            log.acked(frame)

    async def _emit(self) -> None:
        clock = self.link.clock
        try:
            if self.link.log is not None:
                for frame in self.link.log.unacknowledged(self.address):
                    await self._deliver(frame)
            start = max(clock.now(), self.link.start) if self.link.start else clock.now()
            for frame in stream_frames(self.device, start, self.link.schedule, self.link.end):
                delay = (frame.received_at - clock.now()).total_seconds()
                if delay > 0:
                    await clock.sleep(delay)
                if self._closed.is_set():
                    return
                await self._deliver(frame)
        finally:
            self._closed.set()

    async def wait_disconnected(self) -> None:
        """Return when the connection is closed."""
        await self._closed.wait()

    async def disconnect(self) -> None:
        """Stop emitting."""
        self._closed.set()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class SimulatedLink:
    """Virtual devices behind the `BleLink` Protocol."""

    def __init__(
        self,
        devices: Sequence[VirtualDevice],
        clock: Clock,
        schedule: Schedule | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        log: DeviceLog | None = None,
    ) -> None:
        self.devices = {d.address: d for d in devices}
        self.clock = clock
        self.schedule = schedule or Schedule()
        self.start = start
        self.end = end
        self.log = log

    async def scan(self, services: Sequence[ServiceUuid], timeout_s: float) -> list[Advertisement]:
        """Every virtual device offering one of `services`."""
        wanted = set(services)
        return [
            Advertisement(d.address, d.name, -50, (d.service,))
            for d in self.devices.values()
            if not wanted or d.service in wanted
        ]

    async def connect(self, address: str, timeout_s: float) -> SimulatedConnection:
        """Connect to a virtual device."""
        device = self.devices.get(address)
        if device is None:
            raise LinkError(f"{address}: no such device")
        return SimulatedConnection(self, device)
