"""The BLE link the gateway talks through: a small Protocol, with bleak and simulated backends.

`gateway.bleak_link.BleakLink` drives BlueZ through bleak; `gateway.simulated_link.
SimulatedLink` serves virtual devices that emit real GATT bytes. The rest of the gateway
sees only these Protocols (STYLE.md: one interface, many backends).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.codes import CharacteristicUuid, ServiceUuid

# (characteristic, value, receipt time or None for "now") -> stored; return = acknowledged.
FrameHandler = Callable[[CharacteristicUuid, bytes, datetime | None], Awaitable[None]]


class LinkError(Exception):
    """Connecting, reading or subscribing failed (device gone, out of range, refused)."""


@dataclass(frozen=True, slots=True)
class Advertisement:
    """A device seen while scanning."""

    address: str
    name: str
    rssi: int | None
    services: tuple[ServiceUuid, ...]


@dataclass(frozen=True, slots=True)
class DeviceInformation:
    """Device Information service 0x180A: manufacturer, model and serial number strings."""

    manufacturer: str = ""
    model: str = ""
    serial: str = ""


class DeviceConnection(Protocol):
    """One connected peripheral."""

    address: str

    def characteristics(self) -> frozenset[CharacteristicUuid]:
        """The supported characteristics the peripheral exposes."""
        ...

    async def read_device_information(self) -> DeviceInformation:
        """Read the Device Information strings it has."""
        ...

    async def read(self, uuid: CharacteristicUuid) -> bytes:
        """Read a characteristic's value."""
        ...

    async def subscribe(self, uuid: CharacteristicUuid, handler: FrameHandler) -> None:
        """Enable notifications or indications; each value goes to `handler`."""
        ...

    async def wait_disconnected(self) -> None:
        """Return when the link drops."""
        ...

    async def disconnect(self) -> None:
        """Close the link."""
        ...


class BleLink(Protocol):
    """A Bluetooth adapter: scan and connect."""

    async def scan(self, services: Sequence[ServiceUuid], timeout_s: float) -> list[Advertisement]:
        """Devices advertising any of `services`."""
        ...

    async def connect(self, address: str, timeout_s: float) -> DeviceConnection:
        """Connect to a device (LinkError if it cannot be reached)."""
        ...
