"""IoMT connector benchmarks: messages normalised per second, and message-to-stored-Observation
latency through `POST /iomt/messages`, the worker and the embedded FHIR store (SQLite).

Prints one JSON line per figure. Baseline measured in the same run: a bare `json.loads` of
the same messages (what any connector must pay), so `ratio` is normalisation's cost over it.

Targets (issue 20): >= 5,000 messages normalised/s; p95 message-to-stored <= 2 s (MedTech
documents up to 5 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import select  # noqa: E402

from integrations.fhir import BearerAuth, FhirClient  # noqa: E402
from integrations.fhir.transactions import put_transaction  # noqa: E402
from integrations.fhir_store import create_fhir_app, ensure_client  # noqa: E402
from integrations.iomt import http as iomt_http  # noqa: E402
from integrations.iomt.device_templates import load_device_templates  # noqa: E402
from integrations.iomt.identity import LookupResolver  # noqa: E402
from integrations.iomt.processor import IomtProcessor  # noqa: E402
from integrations.iomt.store import IomtStore  # noqa: E402
from integrations.iomt.tables import IomtReadingRow  # noqa: E402
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker  # noqa: E402
from integrations.persistence.migrate import migrate  # noqa: E402
from tests.iomt.conftest import DEVICE_TEMPLATE, FHIR_TEMPLATE  # noqa: E402

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def emit(record: dict[str, Any]) -> None:
    """One JSON line."""
    print(json.dumps(record), flush=True)


def messages(count: int, devices: int = 50) -> list[str]:
    """Envelopes as a wearable cloud would post them: heart rate, every 10th blood pressure."""
    out: list[str] = []
    for n in range(count):
        device, moment = f"bench-{n % devices:02d}", T0 + timedelta(seconds=5 * (n // devices))
        stamp = moment.isoformat().replace("+00:00", "Z")
        body: dict[str, Any] = {"heartRate": 60 + n % 40, "endDate": stamp, "deviceId": device}
        if n % 10 == 0:
            body = {"systolic": 120 + n % 20, "diastolic": 80, "endDate": stamp, "deviceId": device}
        out.append(json.dumps({"Body": body, "Properties": {}, "SystemProperties": {}}))
    return out


def bench_normalise(count: int) -> None:
    """Messages normalised per second against a bare parse of the same text."""
    texts = messages(count)
    templates = load_device_templates(json.dumps(DEVICE_TEMPLATE))
    started = time.perf_counter()
    for text in texts:
        json.loads(text)
    parse_s = time.perf_counter() - started
    started = time.perf_counter()
    produced = 0
    for text in texts:
        produced += len(templates.normalize(json.loads(text)))
    normalise_s = time.perf_counter() - started
    assert produced == count
    emit(
        {
            "bench": "iomt.normalise",
            "messages": count,
            "messages_per_s": round(count / normalise_s),
            "baseline_json_parse_per_s": round(count / parse_s),
            "ratio": round(normalise_s / parse_s, 1),
            "target_per_s": 5000,
        }
    )


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def bench_latency(rate: int, seconds: int, per_post: int) -> None:
    """POST at RATE messages/s for SECONDS; received-to-written latency of every reading."""
    folder = Path(tempfile.mkdtemp(prefix="carebot-bench-iomt-"))
    url = f"sqlite+aiosqlite:///{folder / 'carebot.db'}"
    await migrate(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    root = web.Application()
    root.add_subapp("/fhir", create_fhir_app(sessions))
    iomt_http.add_routes(root)
    store = IomtStore(sessions)
    await store.load_templates(json.dumps(DEVICE_TEMPLATE), json.dumps(FHIR_TEMPLATE))
    token = await store.add_source("bench")
    admin = await ensure_client(sessions, "bench-admin", "system/*.*")
    async with httpx.AsyncClient(timeout=60) as http:
        runner, base = await _serve(root)
        fhir = FhirClient(f"{base}/fhir", http=http, auth=BearerAuth(admin))
        processor = IomtProcessor(store, fhir, LookupResolver(fhir))
        iomt_http.bind(root, store, processor.wake)
        pairing = [
            r
            for d in range(50)
            for r in (
                {"resourceType": "Patient", "id": f"bench-p{d}"},
                {
                    "resourceType": "Device",
                    "id": f"bench-d{d}",
                    "patient": {"reference": f"Patient/bench-p{d}"},
                    "identifier": [{"system": "urn:bench", "value": f"bench-{d:02d}"}],
                },
            )
        ]
        await fhir.post_bundle_json(put_transaction(pairing))
        worker = asyncio.create_task(processor.run())
        texts = [json.loads(t) for t in messages(rate * seconds)]
        started = time.monotonic()
        for index in range(0, len(texts), per_post):
            due = started + index / rate
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            answer = await http.post(
                f"{base}/iomt/messages",
                json=texts[index : index + per_post],
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 202, answer.text
        sent_s = time.monotonic() - started
        while True:
            status = await store.status()
            if status.readings.get("written", 0) >= len(texts):
                break
            await asyncio.sleep(0.1)
        drained_s = time.monotonic() - started
        worker.cancel()
        async with sessions() as session:
            rows = (
                await session.execute(select(IomtReadingRow.received_at, IomtReadingRow.written_at))
            ).all()
        latencies = sorted(w - r for r, w in rows if w is not None)
        await runner.cleanup()
    await close_engine(engine)
    emit(
        {
            "bench": "iomt.message_to_observation",
            "messages": len(texts),
            "offered_per_s": rate,
            "sent_s": round(sent_s, 2),
            "all_written_s": round(drained_s, 2),
            "stored_per_s": round(len(texts) / drained_s),
            "p50_s": round(statistics.median(latencies), 3),
            "p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3),
            "max_s": round(latencies[-1], 3),
            "target_p95_s": 2.0,
            "load_avg_1m": os.getloadavg()[0],
        }
    )


def main() -> None:
    """Run both benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20000, help="messages to normalise")
    parser.add_argument(
        "--rate", type=int, default=500, help="messages/s posted in the latency run"
    )
    parser.add_argument("--seconds", type=int, default=10, help="length of the latency run")
    parser.add_argument("--per-post", type=int, default=10, help="messages per POST")
    args = parser.parse_args()
    emit({"bench": "iomt.machine", "load_avg_1m": os.getloadavg()[0], "cpus": os.cpu_count()})
    bench_normalise(args.messages)
    asyncio.run(bench_latency(args.rate, args.seconds, args.per_post))


if __name__ == "__main__":
    main()
