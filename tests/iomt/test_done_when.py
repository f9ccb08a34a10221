"""Issue 20's done-when: 10,000 messages from 50 devices, 10% duplicates, 5% from a device
paired only at the end, half over HTTP and half over MQTT, into a real `carebot serve`
killed with SIGKILL mid-stream and started again: the store ends with exactly the
Observations the messages imply, and nothing acknowledged is lost. (About 40-60 s.)"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx

from integrations.fhir.transactions import put_transaction
from integrations.fhir_store import ensure_client
from integrations.iomt.store import IomtStore
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from tests.bot.service import free_port
from tests.iomt.conftest import DEVICE_TEMPLATE, MQTT_HOST, MQTT_PORT, MQTT_URL

REPO = Path(__file__).resolve().parents[2]
CAREBOT = [sys.executable, "-m", "bot.cli"]
DEVICES = 50
UNIQUE, DUPLICATES = 9000, 1000
UNPAIRED = "dev-49"
BASE = datetime(2024, 3, 1, 10, 50, tzinfo=UTC)  # readings run over the 11:00 boundary
PERIOD_S = 5
KILL_AFTER = 40  # chunks sent before the SIGKILL
CHUNK = 100  # messages per step: 50 in one POST, 50 published over MQTT
HOURLY_FHIR = {
    "templateType": "CollectionFhir",
    "template": [
        {
            "templateType": "CodeValueFhir",
            "template": {
                "codes": [{"code": "8867-4", "system": "http://loinc.org"}],
                "periodInterval": 60,
                "typeName": "heartrate",
                "value": {
                    "defaultPeriod": PERIOD_S * 1000,
                    "unit": "/min",
                    "valueName": "hr",
                    "valueType": "SampledData",
                },
            },
        }
    ],
}


def readings() -> list[tuple[str, int, int]]:
    """(device, index on that device, heart rate) of the unique messages, in time order."""
    counts = {f"dev-{d:02d}": 0 for d in range(DEVICES - 1)}
    counts[UNPAIRED] = 450  # with its duplicates, 5% of the 10,000
    others = sorted(d for d in counts if d != UNPAIRED)
    for n in range(UNIQUE - 450):
        counts[others[n % len(others)]] += 1
    out = [(d, j, 50 + (j * 7 + int(d[4:])) % 100) for d, c in counts.items() for j in range(c)]
    return sorted(out, key=lambda r: (r[1], r[0]))


def message(device: str, index: int, rate: int) -> dict[str, Any]:
    moment = BASE + timedelta(seconds=index * PERIOD_S)
    return {
        "heartRate": rate,
        "endDate": moment.isoformat().replace("+00:00", "Z"),
        "deviceId": device,
    }


def stream() -> list[dict[str, Any]]:
    """The 10,000 messages: each duplicate follows its original by up to 300 messages."""
    unique = [message(*r) for r in readings()]
    rng = random.Random(20)
    out: list[tuple[float, dict[str, Any]]] = [(float(i), m) for i, m in enumerate(unique)]
    for i in rng.sample(range(UNIQUE), DUPLICATES):
        out.append((i + rng.uniform(0.5, 300), unique[i]))
    return [m for _, m in sorted(out, key=lambda pair: pair[0])]


def expected() -> dict[tuple[str, str], str]:
    """(device, window start) -> the SampledData the readings imply."""
    windows: dict[tuple[str, str], list[str]] = {}
    for device, index, rate in readings():
        moment = BASE + timedelta(seconds=index * PERIOD_S)
        start = moment.replace(minute=0, second=0)
        data = windows.setdefault((device, start.strftime("%Y-%m-%dT%H:00:00.000Z")), ["E"] * 720)
        data[(moment - start).seconds // PERIOD_S] = str(rate)
    return {key: " ".join(data) for key, data in windows.items()}


def _env(tmp: Path, port: int, topic: str, client_id: str) -> dict[str, str]:
    (tmp / "device.json").write_text(json.dumps(DEVICE_TEMPLATE))
    (tmp / "fhir.json").write_text(json.dumps(HOURLY_FHIR))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")}
    return {
        **env,
        "CAREBOT_VAR_DIR": str(tmp / "var"),
        "CAREBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'carebot.db'}",
        "CAREBOT_PORT": str(port),
        "CAREBOT_LOG_LEVEL": "WARNING",
        "CAREBOT_IOMT_DEVICE_TEMPLATE": str(tmp / "device.json"),
        "CAREBOT_IOMT_FHIR_TEMPLATE": str(tmp / "fhir.json"),
        "CAREBOT_IOMT_MQTT_URL": MQTT_URL,
        "CAREBOT_IOMT_MQTT_TOPIC": f"{topic}/#",
        "CAREBOT_IOMT_MQTT_CLIENT_ID": client_id,
    }


def _carebot(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*CAREBOT, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@contextmanager
def _service(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    # its own process group: SIGKILL takes the store's bundle workers down with it
    process = subprocess.Popen(
        [*CAREBOT, "serve"],
        env=env,
        cwd=REPO,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _pairing(devices: list[str]) -> dict[str, Any]:
    resources: list[dict[str, Any]] = []
    for device in devices:
        resources.append({"resourceType": "Patient", "id": f"pat-{device}"})
        resources.append(
            {
                "resourceType": "Device",
                "id": f"res-{device}",
                "identifier": [{"system": "urn:test:serial", "value": device}],
                "patient": {"reference": f"Patient/pat-{device}"},
            }
        )
    return put_transaction(resources)


class Sender:
    """Sends the stream chunk by chunk; a POST without its 202 is sent again."""

    def __init__(self, base: str, token: str, topic: str) -> None:
        self.base, self.token, self.topic = base, token, topic
        self.chunks_done = 0
        self.retries = 0
        self.kill_point = asyncio.Event()  # set when KILL_AFTER chunks are acknowledged

    async def post(self, http: httpx.AsyncClient, batch: list[dict[str, Any]]) -> None:
        while True:
            try:
                answer = await http.post(
                    f"{self.base}/iomt/messages",
                    json=batch,
                    headers={"Authorization": f"Bearer {self.token}"},
                )
                if answer.status_code == 202:
                    assert answer.json() == {"accepted": len(batch)}
                    return
            except httpx.TransportError:
                pass
            self.retries += 1
            await asyncio.sleep(0.2)

    async def run(self, messages: list[dict[str, Any]]) -> None:
        async with (
            httpx.AsyncClient(timeout=30) as http,
            aiomqtt.Client(MQTT_HOST, MQTT_PORT) as mqtt,
        ):
            for start in range(0, len(messages), CHUNK):
                chunk = messages[start : start + CHUNK]
                # as a device fleet does: both transports at once, publishes in flight together
                await asyncio.gather(
                    self.post(http, chunk[0::2]),
                    *(
                        mqtt.publish(f"{self.topic}/{item['deviceId']}", json.dumps(item), qos=1)
                        for item in chunk[1::2]
                    ),
                )
                self.chunks_done += 1
                if self.chunks_done == KILL_AFTER:
                    self.kill_point.set()


async def _wait_healthy(base: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(f"{base}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("service did not start")


async def _observations(base: str, token: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    url: str | None = f"{base}/fhir/Observation?_count=500"
    async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {token}"}) as http:
        while url is not None:
            page = (await http.get(url)).json()
            out.extend(e["resource"] for e in page.get("entry") or [])
            url = next((lk["url"] for lk in page.get("link", []) if lk["relation"] == "next"), None)
    return out


async def test_ten_thousand_messages_over_http_and_mqtt_survive_a_sigkill(tmp_path: Path) -> None:
    started = time.monotonic()
    topic, client_id = f"carebot-test/{uuid.uuid4().hex}", f"carebot-iomt-{uuid.uuid4().hex[:8]}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(tmp_path, port, topic, client_id)
    await migrate(env["CAREBOT_DATABASE_URL"])  # as `carebot migrate`, without its start-up
    engine = create_engine(env["CAREBOT_DATABASE_URL"])
    store = IomtStore(create_sessionmaker(engine))
    token = await store.add_source("sender")
    admin = await ensure_client(store.sessions, "admin", "system/*.*")
    messages = stream()
    assert len(messages) == UNIQUE + DUPLICATES
    assert 0.045 <= sum(m["deviceId"] == UNPAIRED for m in messages) / len(messages) <= 0.055
    sender = Sender(base, token, topic)
    try:
        with _service(env) as first:
            await _wait_healthy(base)
            phases = {"first start": time.monotonic() - started}
            async with httpx.AsyncClient(
                timeout=60, headers={"Authorization": f"Bearer {admin}"}
            ) as fhir:
                paired = [f"dev-{d:02d}" for d in range(DEVICES - 1)]
                assert (await fhir.post(f"{base}/fhir", json=_pairing(paired))).status_code == 200
            sending = asyncio.create_task(sender.run(messages))
            await sender.kill_point.wait()
            os.killpg(first.pid, signal.SIGKILL)  # mid-stream: POSTs and MQTT in flight
            first.wait()
        killed_at = sender.chunks_done
        phases["killed"] = time.monotonic() - started
        with _service(env):
            await _wait_healthy(base)
            phases["second start"] = time.monotonic() - started
            await sending
            phases["sent"] = time.monotonic() - started
            async with httpx.AsyncClient(
                timeout=60, headers={"Authorization": f"Bearer {admin}"}
            ) as fhir:
                assert (
                    await fhir.post(f"{base}/fhir", json=_pairing([UNPAIRED]))
                ).status_code == 200
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status = await store.status()
                if (
                    status.messages.get("received", 0) >= len(messages)
                    and "pending" not in status.messages
                    and set(status.readings) == {"written"}
                ):
                    break
                await asyncio.sleep(0.25)
            phases["settled"] = time.monotonic() - started
            stored = await _observations(base, admin)
    finally:
        await close_engine(engine)
        async with aiomqtt.Client(MQTT_HOST, MQTT_PORT, identifier=client_id, clean_session=True):
            pass  # drop the broker's session of the test's subscriber
    print(
        f"\ndone-when: {time.monotonic() - started:.1f}s, killed after chunk {killed_at}, "
        f"{sender.retries} POST retries, status {status.to_json()}, phases (s) "
        + json.dumps({k: round(v, 1) for k, v in phases.items()})
    )
    assert status.messages.get("received", 0) >= len(messages)  # re-sent or redelivered: more
    assert set(status.messages) == {"received", "normalised"}
    assert set(status.readings) == {"written"}
    got = {
        (o["device"]["reference"].removeprefix("Device/res-"), o["effectivePeriod"]["start"]): o[
            "valueSampledData"
        ]["data"]
        for o in stored
    }
    assert len(stored) == len(got) == len({o["identifier"][0]["value"] for o in stored})
    want = expected()
    assert sorted(got) == sorted(want)
    assert got == want
