"""`carebot fhir`, the real command in its own process, killed with SIGKILL while a
notification is on its way and started again: the interrupted notification is sent again
with the same id, a change written while no process ran is notified too, and nothing
else is sent twice. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx

from integrations.fhir_store import FhirStore, ensure_client
from integrations.fhir_store.access import EVERYTHING
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker
from tests.fhir.helpers import vital_json
from tests.fhir.subscriptions import receiver, rest_hook

CAREBOT = Path(sys.executable).with_name("carebot")
HEART_RATE = "8867-4"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        str(CAREBOT), "fhir", "--host", "127.0.0.1", "--port", str(port),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    assert b"FHIR store at" in line, line
    return process


async def test_sigkill_mid_delivery_loses_nothing(database_url: str, tmp_path: Path) -> None:
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    admin = await ensure_client(sessions, "admin", "system/*.*")
    port = _free_port()
    env = {
        **os.environ,
        "CAREBOT_DATABASE_URL": database_url,
        "CAREBOT_VAR_DIR": str(tmp_path / "var"),
        "CAREBOT_LOG_LEVEL": "WARNING",
        "CAREBOT_SUBSCRIPTION_LEASE_S": "1",
        "CAREBOT_SUBSCRIPTION_FIRST_RETRY_S": "0.05",
    }
    base = f"http://127.0.0.1:{port}/fhir"
    headers = {"Authorization": f"Bearer {admin}"}
    async with receiver() as hook, httpx.AsyncClient(headers=headers, timeout=30) as http:
        hook.hold = asyncio.Event()  # the first notification hangs: the process dies meanwhile
        process = await _start(env, port)
        try:
            assert (await http.post(f"{base}/Subscription", json=rest_hook(hook.url))).is_success
            patient = (await http.post(f"{base}/Patient", json={"resourceType": "Patient"})).json()
            pid = f"Patient/{patient['id']}"
            first = await http.post(
                f"{base}/Observation", json=vital_json(pid, HEART_RATE, 71, "2026-12-01T10:00:00Z")
            )
            interrupted = await hook.next(within_s=10)
        finally:
            process.send_signal(signal.SIGKILL)
            assert await process.wait() == -signal.SIGKILL
        hook.hold.set()  # the dead process never hears the answer
        hook.hold = None
        # written while no process delivers
        store = FhirStore(sessions)
        second = await store.create(
            vital_json(pid, HEART_RATE, 72, "2026-12-01T10:01:00Z"), access=EVERYTHING
        )
        process = await _start(env, port)
        try:
            again, later = await hook.next(within_s=15), await hook.next(within_s=15)
            await asyncio.sleep(1.5)
        finally:
            process.send_signal(signal.SIGTERM)
            await process.wait()
    await close_engine(engine)
    assert interrupted.path == f"/hook/Observation/{first.json()['id']}"
    assert again.notification_id == interrupted.notification_id
    assert again.path == interrupted.path
    assert later.path == f"/hook/Observation/{second.stored.resource_id}"
    ids = [r.notification_id for r in hook.received]
    assert len(hook.received) == 3 and len(set(ids)) == 2
