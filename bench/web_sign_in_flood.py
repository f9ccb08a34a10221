"""/healthz latency while sign-ins flood the portal (argon2 runs in worker threads).

The whole app runs in this process on a loopback port (SQLite in a temp folder). Measured in
the same run: `idle`, 50 sequential GET /healthz; `flood`, the same probes while 16 sign-ins
at a time (distinct unknown usernames, so each one runs a full argon2 check and none is
throttled) are in flight, for as long as the probes run; `flood_on_loop`, the same
with argon2 called on the event loop (the code before this change). Prints one JSON line per
mode, then the p99 ratios.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from integrations.accounts import AccountRepository
from tests.bot.browser import csrf_field
from tests.bot.service import running_app, service_settings


class OnLoopAccounts(AccountRepository):
    """The baseline: argon2 on the event loop, as before (bench only)."""

    async def _in_thread(self, function, *args):  # type: ignore[no-untyped-def]
        return function(*args)


PROBES = 50
FLOOD = 16
ROUNDS = 3  # per mode: 96 sign-ins in all, under the per-address throttle


async def _probe(base: str) -> list[float]:
    timings = []
    async with aiohttp.ClientSession() as http:
        for _ in range(PROBES):
            start = time.perf_counter()
            async with http.get(f"{base}/healthz") as response:
                await response.read()
            timings.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.01)
    return timings


async def _flood(base: str, mode: str, stop: asyncio.Event) -> dict[str, int]:
    """Rounds of FLOOD concurrent wrong sign-ins until STOP; the count of each status."""
    statuses: dict[str, int] = {}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = await csrf_field(http, f"{base}/portal")

        async def one(n: int) -> None:
            data = {"username": f"nobody-{mode}-{n}", "password": "wrong password", **token}
            async with http.post(f"{base}/portal/login", data=data) as response:
                key = str(response.status)
                statuses[key] = statuses.get(key, 0) + 1

        for round_ in range(ROUNDS):
            if stop.is_set():
                break
            await asyncio.gather(*(one(round_ * FLOOD + n) for n in range(FLOOD)))
    return statuses


def _summary(mode: str, timings: list[float], **extra: object) -> dict[str, object]:
    ordered = sorted(timings)
    return {
        "bench": "web_sign_in_flood",
        "mode": mode,
        "probes": len(ordered),
        "healthz_p50_ms": round(statistics.median(ordered), 2),
        "healthz_p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 2),
        "healthz_max_ms": round(ordered[-1], 2),
        **extra,
    }


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        var = Path(folder)
        settings = service_settings(var, f"sqlite+aiosqlite:///{var / 'carebot.db'}")
        async with running_app(settings) as (base, services):
            idle = _summary("idle", await _probe(base))
            print(json.dumps(idle), flush=True)
            results = {}
            for mode in ("flood", "flood_on_loop"):
                if mode == "flood_on_loop":
                    services.accounts = OnLoopAccounts(services.sessions)
                stop = asyncio.Event()
                flood = asyncio.create_task(_flood(base, mode, stop))
                await asyncio.sleep(0.2)
                timings = await _probe(base)
                stop.set()
                results[mode] = _summary(mode, timings, statuses=await flood, concurrent=FLOOD)
                print(json.dumps(results[mode]), flush=True)
            base_p99 = max(float(str(idle["healthz_p99_ms"])), 0.01)
            ratios = {
                f"p99_ratio_{mode}_over_idle": round(float(str(r["healthz_p99_ms"])) / base_p99, 2)
                for mode, r in results.items()
            }
            print(json.dumps({"bench": "web_sign_in_flood", **ratios}))


if __name__ == "__main__":
    asyncio.run(main())
