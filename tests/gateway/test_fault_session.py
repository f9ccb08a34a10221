"""Fault test: a five-minute simulated session with a FHIR outage and a SIGKILL mid-batch.

The gateway runs as its own process (`carebot gateway run --simulate`) on a clock 20 times
faster than the wall clock. The embedded FHIR store is stopped for 30 simulated seconds;
later the gateway is killed with SIGKILL while a transaction bundle it sent is being
committed (the store commits, the gateway never sees the answer) and is started again.
Afterwards the store must hold exactly the Observations the emitted frames yield: the same
identifiers and values, each once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from gateway.buffer import FrameBuffer
from gateway.frames import DeviceBinding
from gateway.mapping import frames_to_observations
from gateway.pairing import device_id_for
from gateway.simulated_gateway import demo_devices
from gateway.simulated_link import read_device_log
from integrations.fhir import BearerAuth, FhirClient
from integrations.fhir_store import create_fhir_app, ensure_client
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from tests.gateway.conftest import start_site

SPEED = 20.0
T0 = datetime(2026, 11, 20, 8, 0, 0, tzinfo=UTC)
SESSION = timedelta(minutes=5)
OUTAGE = (timedelta(seconds=90), timedelta(seconds=120))
KILL_AFTER = timedelta(seconds=170)
PATIENT = "pat-fault"
REPO = Path(__file__).parents[2]


class KillSwitch:
    """Kills the gateway process while the store is answering one of its bundles."""

    def __init__(self) -> None:
        self.armed = False
        self.fired = asyncio.Event()
        self.pid = 0
        self.bundles_seen = 0

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        if request.method == "POST" and request.path.rstrip("/") == "/fhir":
            self.bundles_seen += 1
            if self.armed and response.status == 200 and self.pid:
                # The bundle is committed; the gateway dies before reading the answer.
                os.kill(self.pid, signal.SIGKILL)
                self.armed = False
                self.fired.set()
        return response


def _gateway_command(url: str, token: str, tmp: Path, wall_origin: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gateway.cli",  # the gateway alone, as on the box next to the patient
        "run",
        "--simulate",
        "--patient",
        PATIENT,
        "--fhir-url",
        url,
        "--token",
        token,
        "--buffer",
        str(tmp / "gateway.db"),
        "--schedule",
        "fast",
        "--speed",
        str(SPEED),
        "--sim-start",
        T0.isoformat(),
        "--wall-origin",
        str(wall_origin),
        "--session-end",
        (T0 + SESSION).isoformat(),
        "--device-log",
        str(tmp / "devices.jsonl"),
        "--upload-backoff-max",
        "0.5",
        "--pump-interval",
        "0.05",
    ]


async def _spawn(command: list[str], tmp: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "CAREBOT_VAR_DIR": str(tmp / "var"), "CAREBOT_LOG_LEVEL": "WARNING"}
    log = (tmp / "gateway.log").open("ab")
    try:
        return await asyncio.create_subprocess_exec(
            *command, cwd=REPO, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    finally:
        log.close()


def _sim_now(wall_origin: float) -> datetime:
    return T0 + timedelta(seconds=(time.time() - wall_origin) * SPEED)


async def _sleep_until_sim(moment: datetime, wall_origin: float) -> None:
    delay = (moment - _sim_now(wall_origin)).total_seconds() / SPEED
    if delay > 0:
        await asyncio.sleep(delay)


def _comparable(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


async def test_outage_and_sigkill_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fhir.db'}"
    await migrate(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    switch = KillSwitch()

    def app() -> web.Application:
        root = web.Application(middlewares=[switch.middleware])
        root.add_subapp("/fhir", create_fhir_app(sessionmaker))
        return root

    runner, port = await start_site(app())
    base = f"http://127.0.0.1:{port}/fhir"
    token = await ensure_client(
        sessionmaker, "gateway", "system/Observation.write system/Device.write"
    )
    reader_token = await ensure_client(sessionmaker, "reader", "system/*.read")
    wall_origin = time.time() + 2.0
    command = _gateway_command(base, token, tmp_path, wall_origin)
    gateway = await _spawn(command, tmp_path)
    switch.pid = gateway.pid
    restarted: asyncio.subprocess.Process | None = None
    pending_when_back = 0
    try:
        # 30 simulated seconds without a FHIR server.
        await _sleep_until_sim(T0 + OUTAGE[0], wall_origin)
        await runner.cleanup()
        await _sleep_until_sim(T0 + OUTAGE[1], wall_origin)
        probe = FrameBuffer(tmp_path / "gateway.db")
        pending_when_back = probe.counts().outbox_pending
        probe.close()
        runner, _ = await start_site(app(), port)
        # SIGKILL in the middle of a batch, then start the gateway again.
        await _sleep_until_sim(T0 + KILL_AFTER, wall_origin)
        switch.armed = True
        await asyncio.wait_for(switch.fired.wait(), 30)
        assert await gateway.wait() == -signal.SIGKILL
        restarted = await _spawn(command, tmp_path)
        # Run to the end of the session, then until everything is mapped and uploaded.
        await _sleep_until_sim(T0 + SESSION + timedelta(seconds=5), wall_origin)
        deadline = time.time() + 30
        while True:
            probe = FrameBuffer(tmp_path / "gateway.db")
            counts = probe.counts()
            probe.close()
            if counts.outbox_pending == 0 and counts.unmapped_frames == 0:
                break
            assert time.time() < deadline, counts
            await asyncio.sleep(0.2)
    finally:
        for process in (gateway, restarted):
            if process is not None and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 20)
    assert pending_when_back > 0  # the outage really held readings back
    assert restarted is not None and restarted.returncode == 0

    sent = read_device_log(tmp_path / "devices.jsonl", "sent")
    emitted = read_device_log(tmp_path / "devices.jsonl", "acked")
    assert set(sent) == set(emitted)  # every frame sent was acknowledged in the end
    assert all(T0 <= f.received_at < T0 + SESSION for f in emitted)
    expected: dict[str, dict[str, Any]] = {}
    for device in demo_devices(PATIENT):
        binding = DeviceBinding(device.address, PATIENT, device_id_for(device.address))
        frames = sorted(
            (f for f in emitted if f.device == device.address), key=lambda f: f.received_at
        )
        for record in frames_to_observations(frames, binding):
            expected[record.identifier] = json.loads(record.resource_json)
    assert len(expected) > 100

    async with httpx.AsyncClient(timeout=30) as http:
        reader = FhirClient(base, http=http, auth=BearerAuth(reader_token))
        _, bundle = await reader.request_json("GET", "Observation", params=[("_count", "1000")])
        _, history = await reader.request_json(
            "GET", "Observation/_history", params=[("_count", "1000")]
        )
    assert bundle is not None and history is not None
    stored = [entry["resource"] for entry in bundle.get("entry", [])]
    identifiers = [r["identifier"][0]["value"] for r in stored]
    assert len(identifiers) == len(set(identifiers))  # no duplicates
    assert sorted(identifiers) == sorted(expected)  # exactly the readings emitted
    for resource in stored:
        assert _comparable(resource) == _comparable(expected[resource["identifier"][0]["value"]])
    assert len(history.get("entry", [])) == len(stored)  # never written twice
    await runner.cleanup()
    await engine.dispose()
