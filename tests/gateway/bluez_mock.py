"""BlueZ on a private D-Bus: Debian's python3-dbusmock `bluez5` template plus GATT objects.

Starts `dbus-daemon` and `python3 -m dbusmock --system -t bluez5` (Debian's system Python),
points DBUS_SYSTEM_BUS_ADDRESS at it, and builds peripherals through the mock's own D-Bus
API (`org.freedesktop.DBus.Mock`) with dbus_fast: Device1, GattService1 and
GattCharacteristic1 objects, announced with ObjectManager.InterfacesAdded as bluetoothd
does. Two fixes from FIELD-NOTES: the adapter gets its `Roles` property, and devices are
built by hand because the template's AddDevice has a wrong ManufacturerData type.
Notifications are `Value` property changes on the characteristic, as BlueZ sends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from gateway.codes import CharacteristicUuid, ServiceUuid, uuid16_to_uuid128

MOCK = "org.freedesktop.DBus.Mock"
ADAPTER = "/org/bluez/hci0"
DEVICE_IFACE = "org.bluez.Device1"
SERVICE_IFACE = "org.bluez.GattService1"
CHAR_IFACE = "org.bluez.GattCharacteristic1"

_CONNECT = (
    "self.UpdateProperties('org.bluez.Device1', "
    "{'Connected': dbus.Boolean(True, variant_level=1), "
    "'ServicesResolved': dbus.Boolean(True, variant_level=1)})"
)
_DISCONNECT = (
    "self.UpdateProperties('org.bluez.Device1', "
    "{'ServicesResolved': dbus.Boolean(False, variant_level=1), "
    "'Connected': dbus.Boolean(False, variant_level=1)})"
)
_READ = "ret = self.props['org.bluez.GattCharacteristic1']['Value']"
_START = (
    "self.UpdateProperties('org.bluez.GattCharacteristic1', "
    "{'Notifying': dbus.Boolean(True, variant_level=1)})"
)
_STOP = (
    "self.UpdateProperties('org.bluez.GattCharacteristic1', "
    "{'Notifying': dbus.Boolean(False, variant_level=1)})"
)


def available() -> bool:
    """True when dbus-daemon and Debian's python3-dbusmock are installed."""
    if shutil.which("dbus-daemon") is None or not Path("/usr/bin/python3").exists():
        return False
    probe = subprocess.run(
        ["/usr/bin/python3", "-c", "import dbusmock"], capture_output=True, check=False
    )
    return probe.returncode == 0


@dataclass(frozen=True)
class Peripheral:
    """A mocked device: its object path and characteristic paths."""

    address: str
    path: str
    chars: dict[CharacteristicUuid, str]


class MockBluez:
    """The private bus, the mock bluetoothd, and helpers to build and drive peripherals."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.address = ""
        self._daemon: asyncio.subprocess.Process | None = None
        self._mock: asyncio.subprocess.Process | None = None
        self.bus: MessageBus | None = None
        self.peripherals: dict[str, Peripheral] = {}
        self._advertiser: asyncio.Task[None] | None = None
        self._handle = 0x000A

    async def start(self) -> str:
        """Start the bus and the mock; returns the bus address."""
        socket = self.workdir / "system_bus_socket"
        self._daemon = await asyncio.create_subprocess_exec(
            "dbus-daemon",
            "--session",
            "--nofork",
            "--nopidfile",
            f"--address=unix:path={socket}",
            "--print-address=1",
            stdout=asyncio.subprocess.PIPE,
        )
        assert self._daemon.stdout is not None
        line = await self._daemon.stdout.readline()
        self.address = line.decode().strip()
        env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address}
        log = (self.workdir / "dbusmock.log").open("wb")
        self._mock = await asyncio.create_subprocess_exec(
            "/usr/bin/python3",
            "-m",
            "dbusmock",
            "--system",
            "-t",
            "bluez5",
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        log.close()
        self.bus = await MessageBus(bus_address=self.address, bus_type=BusType.SYSTEM).connect()
        for _ in range(200):
            reply = await self.bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="NameHasOwner",
                    signature="s",
                    body=["org.bluez"],
                )
            )
            if reply is not None and reply.body and reply.body[0]:
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("dbusmock did not come up")
        await self._call("/", "org.bluez.Mock", "AddAdapter", "ss", ["hci0", "carebot-gateway"])
        await self._call(
            ADAPTER,
            MOCK,
            "AddProperty",
            "ssv",
            ["org.bluez.Adapter1", "Roles", Variant("as", ["central", "peripheral"])],
        )
        return self.address

    async def _call(
        self, path: str, interface: str, member: str, signature: str, body: list[Any]
    ) -> Any:
        assert self.bus is not None
        reply = await self.bus.call(
            Message(
                destination="org.bluez",
                path=path,
                interface=interface,
                member=member,
                signature=signature,
                body=body,
            )
        )
        assert reply is not None
        if reply.message_type == MessageType.ERROR:
            raise RuntimeError(f"{member} on {path}: {reply.error_name} {reply.body}")
        return reply.body

    def _next_handle(self) -> int:
        self._handle += 1
        return self._handle

    async def add_peripheral(
        self,
        address: str,
        name: str,
        service: ServiceUuid,
        measurements: dict[CharacteristicUuid, str],
        reads: dict[CharacteristicUuid, bytes],
        information: tuple[str, str, str],
    ) -> Peripheral:
        """A device with one health service (measurements: uuid -> 'notify'/'indicate') and DIS."""
        path = f"{ADAPTER}/dev_{address.replace(':', '_').upper()}"
        device_props = {
            "Address": Variant("s", address),
            "AddressType": Variant("s", "public"),
            "Name": Variant("s", name),
            "Alias": Variant("s", name),
            "Adapter": Variant("o", ADAPTER),
            "Paired": Variant("b", False),
            "Bonded": Variant("b", False),
            "Trusted": Variant("b", False),
            "Blocked": Variant("b", False),
            "Connected": Variant("b", False),
            "ServicesResolved": Variant("b", False),
            "LegacyPairing": Variant("b", False),
            "RSSI": Variant("n", -60),
            "UUIDs": Variant("as", [uuid16_to_uuid128(service)]),
            "ManufacturerData": Variant("a{qv}", {}),
            "ServiceData": Variant("a{sv}", {}),
        }
        await self._call(
            "/",
            MOCK,
            "AddObject",
            "ssa{sv}a(ssss)",
            [
                path,
                DEVICE_IFACE,
                device_props,
                [
                    ("Connect", "", "", _CONNECT),
                    ("Disconnect", "", "", _DISCONNECT),
                    ("Pair", "", "", ""),
                    ("CancelPairing", "", "", ""),
                ],
            ],
        )
        chars: dict[CharacteristicUuid, str] = {}
        added: list[tuple[str, str, dict[str, Variant]]] = []
        services: list[tuple[ServiceUuid, dict[CharacteristicUuid, tuple[list[str], bytes]]]] = [
            (
                service,
                {u: ([kind], b"") for u, kind in measurements.items()}
                | {u: (["read"], v) for u, v in reads.items()},
            ),
            (
                ServiceUuid.DEVICE_INFORMATION,
                {
                    CharacteristicUuid.MANUFACTURER_NAME_STRING: (
                        ["read"],
                        information[0].encode(),
                    ),
                    CharacteristicUuid.MODEL_NUMBER_STRING: (["read"], information[1].encode()),
                    CharacteristicUuid.SERIAL_NUMBER_STRING: (["read"], information[2].encode()),
                },
            ),
        ]
        for service_uuid, characteristics in services:
            service_path = f"{path}/service{self._next_handle():04x}"
            service_props = {
                "UUID": Variant("s", uuid16_to_uuid128(service_uuid)),
                "Primary": Variant("b", True),
                "Device": Variant("o", path),
                "Includes": Variant("ao", []),
            }
            await self._call(
                "/",
                MOCK,
                "AddObject",
                "ssa{sv}a(ssss)",
                [service_path, SERVICE_IFACE, service_props, []],
            )
            added.append((service_path, SERVICE_IFACE, service_props))
            for char_uuid, (flags, value) in characteristics.items():
                char_path = f"{service_path}/char{self._next_handle():04x}"
                char_props = {
                    "UUID": Variant("s", uuid16_to_uuid128(char_uuid)),
                    "Service": Variant("o", service_path),
                    "Value": Variant("ay", value),
                    "Flags": Variant("as", flags),
                    "Notifying": Variant("b", False),
                    "MTU": Variant("q", 247),
                }
                await self._call(
                    "/",
                    MOCK,
                    "AddObject",
                    "ssa{sv}a(ssss)",
                    [
                        char_path,
                        CHAR_IFACE,
                        char_props,
                        [
                            ("ReadValue", "a{sv}", "ay", _READ),
                            ("StartNotify", "", "", _START),
                            ("StopNotify", "", "", _STOP),
                        ],
                    ],
                )
                chars[char_uuid] = char_path
                added.append((char_path, CHAR_IFACE, char_props))
        # Announce as bluetoothd does: the device, then its GATT database.
        await self._interfaces_added(path, DEVICE_IFACE, device_props)
        for obj_path, iface, props in added:
            await self._interfaces_added(obj_path, iface, props)
        peripheral = Peripheral(address, path, chars)
        self.peripherals[address] = peripheral
        return peripheral

    async def _interfaces_added(self, path: str, iface: str, props: dict[str, Variant]) -> None:
        await self._call(
            "/",
            MOCK,
            "EmitSignal",
            "sssav",
            [
                "org.freedesktop.DBus.ObjectManager",
                "InterfacesAdded",
                "oa{sa{sv}}",
                [Variant("o", path), Variant("a{sa{sv}}", {iface: props})],
            ],
        )

    async def notify(self, address: str, uuid: CharacteristicUuid, value: bytes) -> None:
        """The peripheral sends a notification or indication: BlueZ updates `Value`."""
        path = self.peripherals[address].chars[uuid]
        await self._call(
            path, MOCK, "UpdateProperties", "sa{sv}", [CHAR_IFACE, {"Value": Variant("ay", value)}]
        )

    async def is_notifying(self, address: str, uuid: CharacteristicUuid) -> bool:
        """Whether the central enabled notifications on this characteristic."""
        path = self.peripherals[address].chars[uuid]
        assert self.bus is not None
        reply = await self.bus.call(
            Message(
                destination="org.bluez",
                path=path,
                interface="org.freedesktop.DBus.Properties",
                member="Get",
                signature="ss",
                body=[CHAR_IFACE, "Notifying"],
            )
        )
        assert reply is not None and reply.message_type == MessageType.METHOD_RETURN
        return bool(reply.body[0].value)

    async def drop(self, address: str) -> None:
        """The device goes out of range: BlueZ reports it disconnected."""
        path = self.peripherals[address].path
        await self._call(
            path,
            MOCK,
            "UpdateProperties",
            "sa{sv}",
            [
                DEVICE_IFACE,
                {"ServicesResolved": Variant("b", False), "Connected": Variant("b", False)},
            ],
        )
        for char_path in self.peripherals[address].chars.values():
            await self._call(
                char_path,
                MOCK,
                "UpdateProperties",
                "sa{sv}",
                [CHAR_IFACE, {"Notifying": Variant("b", False)}],
            )

    def start_advertising(self, interval_s: float = 0.3) -> None:
        """Peripherals advertise: an RSSI update per device and interval, as BlueZ reports them."""

        async def advertise() -> None:
            rssi = -60
            while True:
                rssi = -60 if rssi != -60 else -61
                for peripheral in list(self.peripherals.values()):
                    with contextlib.suppress(RuntimeError):
                        await self._call(
                            peripheral.path,
                            MOCK,
                            "UpdateProperties",
                            "sa{sv}",
                            [DEVICE_IFACE, {"RSSI": Variant("n", rssi)}],
                        )
                await asyncio.sleep(interval_s)

        self._advertiser = asyncio.create_task(advertise())

    async def stop(self) -> None:
        """Stop everything this harness started."""
        if self._advertiser is not None:
            self._advertiser.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._advertiser
        if self.bus is not None:
            self.bus.disconnect()
        for process in (self._mock, self._daemon):
            if process is not None and process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 5)
                except TimeoutError:
                    process.kill()
                    await process.wait()
