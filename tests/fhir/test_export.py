"""Bulk Data `$export` (system and Patient level) on SQLite and PostgreSQL: kick-off,
polling, manifest, NDJSON files, `_type`, `_since`, cancel, refusals; and 100,000
Observations (CAREBOT_EXPORT_TEST_COUNT) exported and re-imported with `carebot fhir import` to the same counts."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from integrations.fhir_store.importer import Importer
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from tests.fhir.conftest import RunningStore
from tests.fhir.helpers import patient_json, vital_json

# The figure is 100,000 (CAREBOT_EXPORT_TEST_COUNT=100000: about 20 min on a busy
# 2-core box, most of it the two imports); by default a tenth of it.
COUNT = int(os.environ.get("CAREBOT_EXPORT_TEST_COUNT", "10000"))
ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}


async def _post(store: RunningStore, path: str, body: Any) -> str:
    response = await store.http.post(
        f"{store.base_url}/{path}", json=body, headers=_auth(store.admin_token)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _export(
    store: RunningStore, path: str, token: str, patience_s: float = 300
) -> dict[str, Any]:
    """Kick off PATH, poll its status URL until done; the manifest."""
    kick = await store.http.get(f"{store.base_url}/{path}", headers={**_auth(token), **ASYNC})
    assert kick.status_code == 202, kick.text
    status_url = kick.headers["Content-Location"]
    deadline = asyncio.get_running_loop().time() + patience_s
    while True:
        status = await store.http.get(status_url, headers=_auth(token))
        if status.status_code == 200:
            return dict(status.json())
        assert status.status_code == 202, status.text
        assert "exported" in status.headers["X-Progress"]
        assert asyncio.get_running_loop().time() < deadline, "export did not finish"
        await asyncio.sleep(0.05)


async def _lines(store: RunningStore, manifest: dict[str, Any], token: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for item in manifest["output"]:
        response = await store.http.get(item["url"], headers=_auth(token))
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/fhir+ndjson")
        out[item["type"]] = [json.loads(line) for line in response.text.splitlines()]
        assert len(out[item["type"]]) == item["count"]
    return out


async def test_export_system_and_patient_level(running_store: RunningStore) -> None:
    alice = await _post(running_store, "Patient", patient_json("ex-a"))
    bruno = await _post(running_store, "Patient", patient_json("ex-b"))
    for pid in (alice, bruno):
        for n in range(3):
            obs = vital_json(f"Patient/{pid}", "8867-4", 60 + n, f"2024-01-0{n + 1}T00:00:00Z")
            await _post(running_store, "Observation", obs)
    await _post(running_store, "Practitioner", {"resourceType": "Practitioner", "active": True})
    manifest = await _export(running_store, "$export", running_store.admin_token)
    assert manifest["requiresAccessToken"] is True
    files = await _lines(running_store, manifest, running_store.admin_token)
    assert {k: len(v) for k, v in files.items()} == {
        "Observation": 6,
        "Patient": 2,
        "Practitioner": 1,
    }
    assert all(r["meta"]["versionId"] == "1" for r in files["Observation"])
    # Patient level: Patients and their compartments only; _type narrows it
    patients = await _export(running_store, "Patient/$export", running_store.admin_token)
    assert {o["type"] for o in patients["output"]} == {"Observation", "Patient"}
    typed = await _export(running_store, "$export?_type=Patient", running_store.admin_token)
    assert [o["type"] for o in typed["output"]] == ["Patient"]
    # _since: what changed after the last export's transactionTime
    await _post(
        running_store, "Observation", vital_json(f"Patient/{alice}", "8867-4", 99, "2024-02-01")
    )
    since = manifest["transactionTime"]
    later = await _export(running_store, f"$export?_since={since}", running_store.admin_token)
    later_files = await _lines(running_store, later, running_store.admin_token)
    assert [r["valueQuantity"]["value"] for r in later_files["Observation"]] == [99]
    # a patient exports their own compartment only
    token = await running_store.token("alice-app", "patient/*.read", f"Patient/{alice}")
    own = await _lines(running_store, await _export(running_store, "Patient/$export", token), token)
    assert [p["id"] for p in own["Patient"]] == [alice]
    assert {o["subject"]["reference"] for o in own["Observation"]} == {f"Patient/{alice}"}


async def test_export_refusals_and_cancel(running_store: RunningStore) -> None:
    base, admin = running_store.base_url, running_store.admin_token
    http = running_store.http
    no_async = await http.get(f"{base}/$export", headers=_auth(admin))
    assert no_async.status_code == 400 and no_async.json()["resourceType"] == "OperationOutcome"
    for query in ("_type=Nope", "_since=soon", "_outputFormat=text/csv", "_typeFilter=x"):
        bad = await http.get(f"{base}/$export?{query}", headers={**_auth(admin), **ASYNC})
        assert bad.status_code == 400, (query, bad.text)
    reader = await running_store.token("obs-reader", "system/Observation.read")
    refused = await http.get(f"{base}/$export", headers={**_auth(reader), **ASYNC})
    assert refused.status_code == 403
    patient = await running_store.token("p-app", "patient/*.read", "Patient/x")
    refused = await http.get(f"{base}/$export", headers={**_auth(patient), **ASYNC})
    assert refused.status_code == 403
    kick = await http.get(f"{base}/$export", headers={**_auth(admin), **ASYNC})
    status_url = kick.headers["Content-Location"]
    other = await running_store.token("other-system", "system/*.read")
    assert (await http.get(status_url, headers=_auth(other))).status_code == 404
    assert (await http.delete(status_url, headers=_auth(other))).status_code == 404
    cancelled = await http.delete(status_url, headers=_auth(admin))
    assert cancelled.status_code == 202
    assert (await http.get(status_url, headers=_auth(admin))).status_code == 404
    # the system client's exports are audited
    async with running_store.sessionmaker() as session:
        audits = await session.execute(
            text("SELECT count(*) FROM fhir_resource WHERE res_type = 'AuditEvent'")
        )
        assert int(audits.scalar_one()) >= 1


async def test_export_of_many_observations_reimports_to_the_same_counts(
    sqlite_url: str, tmp_path: Path
) -> None:
    """SQLite only: the size is the point here, the dialects are covered above."""
    from aiohttp import web

    from integrations.fhir_store import create_fhir_app, ensure_client
    from tests.fhir.conftest import serve

    await migrate(sqlite_url)
    engine = create_engine(sqlite_url)
    sessionmaker = create_sessionmaker(engine)
    source = tmp_path / "seed.ndjson"
    patients = [json.dumps({**patient_json(f"bulk-{i}"), "id": f"bulk-{i}"}) for i in range(100)]
    observations = (
        json.dumps(
            vital_json(
                f"Patient/bulk-{i % 100}", "8867-4", 50 + i % 60, f"2024-03-01T{i % 24:02d}:00:00Z"
            )
        )
        for i in range(COUNT)
    )
    source.write_text("\n".join([*patients, *observations]) + "\n")
    await Importer(sessionmaker, io.StringIO()).import_file(source)
    root = web.Application()
    root.add_subapp("/fhir", create_fhir_app(sessionmaker, export_dir=tmp_path / "exports"))
    runner, url = await serve(root)
    token = await ensure_client(sessionmaker, "bulk", "system/*.read")
    try:
        async with httpx.AsyncClient(timeout=120) as http:
            store = RunningStore(f"{url}/fhir", sessionmaker, token, http)
            manifest = await _export(store, "$export", token, patience_s=1200)
            counts = {o["type"]: o["count"] for o in manifest["output"]}
            assert counts == {"Observation": COUNT, "Patient": 100}
            files = []
            for item in manifest["output"]:
                path = tmp_path / "download" / f"{item['type']}.ndjson"
                path.parent.mkdir(exist_ok=True)
                async with http.stream("GET", item["url"], headers=_auth(token)) as response:
                    with path.open("wb") as handle:
                        async for chunk in response.aiter_bytes():
                            handle.write(chunk)
                files.append(str(path))
    finally:
        await runner.cleanup()
        await engine.dispose()
    target = f"sqlite+aiosqlite:///{tmp_path / 'copy.db'}"
    await migrate(target)
    env = {**os.environ, "CAREBOT_DATABASE_URL": target, "CAREBOT_LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "fhir",
        "import",
        *sorted(files),
        env=env,
        cwd=tmp_path,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()[-2000:]
    copy = create_engine(target)
    async with copy.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT res_type, count(*) FROM fhir_resource WHERE NOT deleted"
                " AND res_type <> 'AuditEvent' GROUP BY res_type"
            )
        )
        assert {row[0]: row[1] for row in rows} == {"Observation": COUNT, "Patient": 100}
    await copy.dispose()
