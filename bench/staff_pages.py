"""Server time of the provider's queue page for a day of 40 visits, against a static page
(the staff sign-in form) measured in the same run: the whole service on 127.0.0.1 with
SQLite in a temporary folder, the provider signed in through the form.

    .venv/bin/python bench/staff_pages.py [--n 200]

Prints one JSON line per measure (p50/p99 in ms) and the ratio to the baseline; the target
is p99 <= 150 ms for the queue. (The care manager's home for 200 patients is not built yet.)
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bot.demo import seed_clinical_record  # noqa: E402
from tests.bot.browser import post_sign_in  # noqa: E402
from tests.bot.service import DEMO_PASSWORD, running_app, service_settings  # noqa: E402
from tests.bot.staff_world import ALICE, CHEN, appointment  # noqa: E402

TARGET_P99_MS = 150.0
VISITS = 40


def _summary(name: str, samples: list[float]) -> dict[str, object]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"measure": name, "n": len(ordered), "p50_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(p99, 2)}  # fmt: skip


async def _timed(http: aiohttp.ClientSession, url: str, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        async with http.get(url) as response:
            await response.read()
            assert response.status == 200, response.status
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        async with running_app(service_settings(Path(folder), url)) as (base, services):
            system = services.fhir.system()
            now = datetime.now(UTC)
            await seed_clinical_record(system, now, days=0.1)
            day = now.replace(hour=6, minute=0, second=0, microsecond=0)
            for index in range(VISITS):
                body = appointment(
                    ALICE, CHEN, "Dr Sarah Chen", day + timedelta(minutes=15 * index)
                )
                body["identifier"][0]["value"] = f"bench-{index}"
                await system.request_json("POST", "Appointment", body=body, idempotent=False)
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                status, _ = await post_sign_in(http, base, "staff", "dr.chen", DEMO_PASSWORD)
                assert status == 303, status
                queue = f"{base}/staff/queue?day={day.date().isoformat()}"
                await _timed(http, queue, 5)  # warm
                baseline = _summary("static_sign_in_page", await _timed(http, f"{base}/portal", n))
                result = _summary(f"queue_{VISITS}_visits", await _timed(http, queue, n))
    print(json.dumps({**baseline, "load": os.getloadavg()[0]}))
    ratio = float(result["p99_ms"]) / max(float(baseline["p99_ms"]), 0.01)  # type: ignore[arg-type]
    print(json.dumps({**result, "target_p99_ms": TARGET_P99_MS, "p99_ratio": round(ratio, 1),
                      "load": os.getloadavg()[0]}))  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    asyncio.run(main(parser.parse_args().n))
