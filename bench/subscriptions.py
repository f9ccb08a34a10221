"""Subscription notification latency: from an Observation's write to a rest-hook receiver.

The embedded store runs in this process with delivery on (as `carebot fhir` runs it), a
system client's rest-hook Subscription on `Observation?code=http://loinc.org|8867-4`
(payload `application/fhir+json`), and a local aiohttp receiver. Each of WRITES heart-rate
Observations is POSTed and the time until the receiver has it is measured; the baseline,
measured in the same run, is the write's own round trip. Prints one JSON line per
database with p50/p95/max of both and their ratio; the target is p95 < 1 s.

    .venv/bin/python bench/subscriptions.py [--writes 200] [--pg postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from integrations.fhir_store import create_fhir_app, ensure_client
from integrations.fhir_store.app import SUBSCRIPTIONS_KEY
from integrations.fhir_store.subscription_delivery import delivery_ctx
from integrations.fhir_store.subscription_rules import DeliveryPolicy
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate


def _observation(patient: str, value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": patient},
        "effectiveDateTime": "2026-12-01T10:00:00Z",
        "valueQuantity": {"value": value, "unit": "/min", "system": "http://unitsofmeasure.org",
                          "code": "/min"},
    }  # fmt: skip


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def measure(url: str, writes: int, label: str) -> dict[str, Any]:
    """Write WRITES heart rates into the store at URL; latencies to the receiver."""
    await migrate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    arrived: dict[str, float] = {}
    got = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        arrived[request.path.rsplit("/", 1)[-1]] = time.perf_counter()
        got.set()
        return web.Response()

    receiver = web.Application()
    receiver.router.add_route("*", "/{tail:.*}", hook)
    hook_runner, hook_url = await _serve(receiver)
    root = web.Application()
    store = create_fhir_app(sessions, subscriptions=DeliveryPolicy())
    root.add_subapp("/fhir", store)
    root.cleanup_ctx.append(delivery_ctx(store[SUBSCRIPTIONS_KEY]))
    runner, base = await _serve(root)
    token = await ensure_client(sessions, "bench", "system/*.*")
    writes_s: list[float] = []
    notify_s: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=f"{base}/fhir", headers=headers) as http:
            subscription = {
                "resourceType": "Subscription", "status": "requested", "reason": "bench",
                "criteria": "Observation?code=http://loinc.org|8867-4",
                "channel": {"type": "rest-hook", "endpoint": f"{hook_url}/hook",
                            "payload": "application/fhir+json"},
            }  # fmt: skip
            (await http.post("/Subscription", json=subscription)).raise_for_status()
            patient = (await http.post("/Patient", json={"resourceType": "Patient"})).json()
            for value in range(writes):
                got.clear()
                start = time.perf_counter()
                answer = await http.post("/Observation", json=_observation(
                    f"Patient/{patient['id']}", 60 + value % 40))  # fmt: skip
                written = time.perf_counter()
                answer.raise_for_status()
                rid = answer.json()["id"]
                while rid not in arrived:
                    await asyncio.wait_for(got.wait(), 10)
                    got.clear()
                writes_s.append(written - start)
                notify_s.append(arrived[rid] - start)
    finally:
        await runner.cleanup()
        await hook_runner.cleanup()
        await close_engine(engine)
    write, notify = _summary(writes_s), _summary(notify_s)
    return {
        "bench": "subscription_notify",
        "database": label,
        "writes": writes,
        "write": write,
        "notify_after_write_start": notify,
        "ratio_p50": round(notify["p50_ms"] / write["p50_ms"], 2),
        "target_p95_ms": 1000,
        "met": notify["p95_ms"] < 1000,
    }


async def main() -> None:
    """Measure on SQLite, and on PostgreSQL when a URL is given."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--pg", default="", help="an empty PostgreSQL database's URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        sqlite = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        print(json.dumps(await measure(sqlite, args.writes, "sqlite")), flush=True)
    if args.pg:
        print(json.dumps(await measure(args.pg, args.writes, "postgresql")), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
