"""`carebot fhir`: clients add prints the token alone; the standalone server; resumable import."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from integrations.fhir_store import importer as importer_module
from integrations.fhir_store.access import EVERYTHING
from integrations.fhir_store.importer import Importer
from integrations.fhir_store.query import build_plan
from integrations.fhir_store.store import FhirStore
from integrations.persistence.database import create_engine, create_sessionmaker
from tests.fhir.helpers import vital_json

CAREBOT = [sys.executable, "-m", "bot.cli"]


async def _run(env: dict[str, str], cwd: Path, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *CAREBOT,
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


def _env(sqlite_url: str) -> dict[str, str]:
    return {**os.environ, "CAREBOT_DATABASE_URL": sqlite_url, "CAREBOT_LOG_LEVEL": "WARNING"}


async def test_clients_add_list_revoke_and_serve(sqlite_url: str, tmp_path: Path) -> None:
    env = _env(sqlite_url)
    added = await _run(env, tmp_path, "fhir", "clients", "add", "ops", "--scopes", "system/*.*")
    token = added
    assert token.startswith("cbf_") and token.count("\n") == 1
    token = token.strip()
    listed = await _run(env, tmp_path, "fhir", "clients", "list")
    assert "ops\tactive\tsystem/*.*" in listed
    server = await asyncio.create_subprocess_exec(
        *CAREBOT,
        "fhir",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        line = (await asyncio.wait_for(server.stdout.readline(), 30)).decode()
        base = line.split(" at ")[1].strip()
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{base}/metadata")).status_code == 200
            assert (await http.get(f"{base}/Patient")).status_code == 401
            ok = await http.get(f"{base}/Patient", headers={"Authorization": f"Bearer {token}"})
            assert ok.status_code == 200
            await _run(env, tmp_path, "fhir", "clients", "revoke", "ops")
            gone = await http.get(f"{base}/Patient", headers={"Authorization": f"Bearer {token}"})
            assert gone.status_code == 401
        # SIGTERM is a clean stop, as Ctrl-C is
        server.terminate()
        assert await asyncio.wait_for(server.wait(), 30) == 0
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


async def test_import_resumes_after_an_interruption(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from integrations.persistence.migrate import migrate

    await migrate(sqlite_url)
    path = tmp_path / "vitals.ndjson"
    lines = [
        json.dumps(
            vital_json("Patient/imp", "8867-4", 60 + i % 40, f"2024-01-01T00:{i % 60:02d}:00Z")
        )
        for i in range(250)
    ]
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(importer_module, "CHUNK", 100)
    engine = create_engine(sqlite_url)
    sessionmaker = create_sessionmaker(engine)
    real = importer_module.run_transaction
    calls = 0

    async def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # as if the operator pressed ^C mid-import
        return await real(*args, **kwargs)

    monkeypatch.setattr(importer_module, "run_transaction", flaky)
    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        await Importer(sessionmaker, out).import_file(path)
    report = await Importer(sessionmaker, out).import_file(path)
    assert (report.skipped, report.loaded, report.total) == (100, 150, 250)
    again = await Importer(sessionmaker, out).import_file(path)
    assert again.loaded == 0
    plan = build_plan("Observation", [("patient", "Patient/imp"), ("_summary", "count")])
    assert (await FhirStore(sessionmaker).search(plan, access=EVERYTHING)).total == 250
    await engine.dispose()
