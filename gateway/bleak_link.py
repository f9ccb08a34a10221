"""The `BleLink` over bleak (BlueZ on Linux): scan by service, connect, read, subscribe.

bleak on BlueZ connects reliably only to a `BLEDevice` it has seen advertising, so
`connect` first looks for the address with a short scan. Notifications and indications
arrive through `start_notify`; for indications BlueZ itself sends the ATT confirmation, so
the gateway's "stored before acknowledged" promise holds inside the gateway (the handler
commits to the buffer before returning) rather than on the radio.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from gateway.codes import CharacteristicUuid, ServiceUuid, uuid16_to_uuid128
from gateway.link import Advertisement, DeviceInformation, FrameHandler, LinkError

_KNOWN_SERVICES = {uuid16_to_uuid128(s): s for s in ServiceUuid}
_KNOWN_CHARACTERISTICS = {uuid16_to_uuid128(c): c for c in CharacteristicUuid}
_DIS = (
    ("manufacturer", CharacteristicUuid.MANUFACTURER_NAME_STRING),
    ("model", CharacteristicUuid.MODEL_NUMBER_STRING),
    ("serial", CharacteristicUuid.SERIAL_NUMBER_STRING),
)


class BleakConnection:
    """One bleak client."""

    def __init__(self, address: str, client: BleakClient, dropped: asyncio.Event) -> None:
        self.address = address
        self._client = client
        self._dropped = dropped
        self._characteristics: dict[CharacteristicUuid, Any] = {}
        for service in client.services:
            for char in service.characteristics:
                known = _KNOWN_CHARACTERISTICS.get(str(char.uuid).lower())
                if known is not None:
                    self._characteristics[known] = char

    def characteristics(self) -> frozenset[CharacteristicUuid]:
        """Supported characteristics found in the GATT database."""
        return frozenset(self._characteristics)

    async def read_device_information(self) -> DeviceInformation:
        """Manufacturer, model and serial strings of Device Information 0x180A, where present."""
        values: dict[str, str] = {}
        for field, uuid in _DIS:
            if uuid in self._characteristics:
                raw = await self.read(uuid)
                values[field] = raw.decode("utf-8", errors="replace").rstrip("\x00").strip()
        return DeviceInformation(**values)

    async def read(self, uuid: CharacteristicUuid) -> bytes:
        """Read a characteristic."""
        char = self._characteristics.get(uuid)
        if char is None:
            raise LinkError(f"{self.address}: no characteristic 0x{uuid:04X}")
        try:
            return bytes(await self._client.read_gatt_char(char))
        except (BleakError, EOFError, OSError) as error:
            raise LinkError(f"{self.address}: read 0x{uuid:04X}: {error}") from error

    async def subscribe(self, uuid: CharacteristicUuid, handler: FrameHandler) -> None:
        """Enable notifications or indications (BlueZ picks by the characteristic's flags)."""
        char = self._characteristics.get(uuid)
        if char is None:
            raise LinkError(f"{self.address}: no characteristic 0x{uuid:04X}")

        async def on_value(_sender: Any, data: bytearray) -> None:
            received: datetime | None = None
            await handler(uuid, bytes(data), received)

        try:
            await self._client.start_notify(char, on_value)
        except (BleakError, EOFError, OSError) as error:
            raise LinkError(f"{self.address}: subscribe 0x{uuid:04X}: {error}") from error

    async def wait_disconnected(self) -> None:
        """Return when BlueZ reports the link down."""
        await self._dropped.wait()

    async def disconnect(self) -> None:
        """Disconnect (errors ignored: the link may be gone already)."""
        with contextlib.suppress(BleakError, EOFError, OSError, asyncio.TimeoutError):
            await self._client.disconnect()


class BleakLink:
    """Bluetooth through bleak; `adapter` like "hci0" (default: BlueZ's first)."""

    def __init__(self, adapter: str | None = None, scan_timeout_s: float = 10.0) -> None:
        self.adapter = adapter
        self.scan_timeout_s = scan_timeout_s

    def _scanner_args(self) -> dict[str, Any]:
        return {"bluez": {"adapter": self.adapter}} if self.adapter else {}

    async def scan(self, services: Sequence[ServiceUuid], timeout_s: float) -> list[Advertisement]:
        """Devices advertising any of `services` within `timeout_s`."""
        wanted = {uuid16_to_uuid128(s) for s in services}
        try:
            options = self._scanner_args()
            if wanted:  # BlueZ filters by service (SetDiscoveryFilter), bleak again
                options["service_uuids"] = sorted(wanted)
            found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **options)
        except (BleakError, OSError) as error:
            raise LinkError(f"scan failed: {error}") from error
        out: list[Advertisement] = []
        for device, adv in found.values():
            advertised = {u.lower() for u in adv.service_uuids}
            if wanted and not advertised & wanted:
                continue
            known = tuple(sorted(_KNOWN_SERVICES[u] for u in advertised if u in _KNOWN_SERVICES))
            out.append(
                Advertisement(device.address, adv.local_name or device.name or "", adv.rssi, known)
            )
        return sorted(out, key=lambda a: a.address)

    async def connect(self, address: str, timeout_s: float) -> BleakConnection:
        """Find the device by a short scan, connect and resolve its services."""
        try:
            device = await BleakScanner.find_device_by_address(
                address, timeout=min(timeout_s, self.scan_timeout_s), **self._scanner_args()
            )
        except (BleakError, OSError) as error:
            raise LinkError(f"{address}: scan failed: {error}") from error
        if device is None:
            raise LinkError(f"{address}: not advertising")
        dropped = asyncio.Event()
        client = BleakClient(
            device, disconnected_callback=lambda _c: dropped.set(), timeout=timeout_s
        )
        try:
            await client.connect()
        except (TimeoutError, BleakError, EOFError, OSError) as error:
            raise LinkError(f"{address}: connect failed: {error}") from error
        return BleakConnection(address, client, dropped)
