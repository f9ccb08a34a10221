"""A 250 KB chat message on each channel while /healthz is polled: the loop must stay free.

The service runs as `carebot serve` in its own process (a fresh var/ and SQLite file,
demo accounts, CAREBOT_EMULATOR_MODE=1). This script polls /healthz one request at a time
and measures its latency three ways in the same run:

- `baseline`: no other traffic;
- `directline`: while a signed-in patient posts 250 KB messages through Direct Line;
- `api_messages`: while 250 KB messages are posted to /api/messages (replies go to a local
  Bot Connector).

Each phase prints one JSON line: /healthz p50/p99, the baseline p99, the long posts' statuses
and latencies. Done when /healthz p99 < 100 ms during both long-message phases.

    .venv/bin/python bench/edge_long_message.py [--posts 5] [--polls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.bot.directline_client import DirectLineTestClient  # noqa: E402
from tests.fakes.bot_connector import FakeBotConnector  # noqa: E402

CAREBOT = str(ROOT / ".venv/bin/carebot")
CLAUSE = "I do not have a fever, not a cough but a headache; "
LONG_TEXT = (CLAUSE * (250_000 // len(CLAUSE) + 1))[:250_000]
TARGET_P99_MS = 100.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.asynccontextmanager
async def carebot(var_dir: Path) -> AsyncIterator[tuple[str, str]]:
    """`carebot serve` on a free port; yields its base URL and the demo password."""
    port = _free_port()
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CAREBOT_")}
    env = {
        **inherited,
        "CAREBOT_VAR_DIR": str(var_dir),
        "CAREBOT_LOG_LEVEL": "WARNING",
        "CAREBOT_EMULATOR_MODE": "1",
        "CAREBOT_PORT": str(port),
    }
    for command in ("migrate", "demo"):
        done = await asyncio.create_subprocess_exec(
            CAREBOT, command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL
        )
        if await done.wait() != 0:
            raise RuntimeError(f"carebot {command} failed")
    password = (var_dir / "demo-credentials.txt").read_text().split("password: ")[1].split()[0]
    log = (var_dir / "serve.log").open("w")
    process = await asyncio.create_subprocess_exec(
        CAREBOT, "serve", env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("carebot did not start: see " + str(var_dir / "serve.log"))
        yield base, password
    finally:
        process.terminate()
        await process.wait()
        log.close()


async def poll_healthz(http: aiohttp.ClientSession, base: str, polls: int) -> list[float]:
    """/healthz latencies in ms, one request at a time, 10 ms apart."""
    latencies = []
    for _ in range(polls):
        started = time.perf_counter()
        async with http.get(f"{base}/healthz") as response:
            await response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.01)
    return latencies


async def phase(
    name: str,
    http: aiohttp.ClientSession,
    base: str,
    polls: int,
    posts: int,
    post: Callable[[int], Awaitable[int]] | None,
    baseline_p99: float | None,
) -> float:
    """Poll /healthz while POST runs POSTS times in a row; print the phase's JSON line."""
    statuses: list[int] = []
    post_ms: list[float] = []

    async def long_posts() -> None:
        for index in range(posts if post else 0):
            started = time.perf_counter()
            statuses.append(await post(index))  # type: ignore[misc]
            post_ms.append((time.perf_counter() - started) * 1000)

    latencies, _ = await asyncio.gather(poll_healthz(http, base, polls), long_posts())
    p99 = _quantile(latencies, 0.99)
    line: dict[str, Any] = {
        "bench": "edge_long_message",
        "phase": name,
        "message_bytes": len(LONG_TEXT) if post else 0,
        "healthz_polls": len(latencies),
        "healthz_p50_ms": round(statistics.median(latencies), 2),
        "healthz_p99_ms": round(p99, 2),
        "healthz_max_ms": round(max(latencies), 2),
        "baseline_p99_ms": round(baseline_p99 if baseline_p99 is not None else p99, 2),
    }
    if post:
        line |= {
            "post_statuses": sorted(set(statuses)),
            "post_p50_ms": round(statistics.median(post_ms), 1),
            "p99_ratio_to_baseline": round(p99 / baseline_p99, 2) if baseline_p99 else None,
            "target_p99_ms": TARGET_P99_MS,
            "ok": p99 < TARGET_P99_MS and all(s < 500 for s in statuses),
        }
    print(json.dumps(line), flush=True)
    return p99


async def main(posts: int, polls: int) -> None:
    with tempfile.TemporaryDirectory(prefix="carebot-edge-bench-") as folder:
        async with (
            carebot(Path(folder)) as (base, password),
            FakeBotConnector() as connector,
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http,
        ):
            patient = DirectLineTestClient(http, base)
            await patient.sign_in("alice", password)
            await patient.start()

            async def direct_line(index: int) -> int:
                async with http.post(
                    f"{base}/directline/conversations/{patient.conversation_id}/activities",
                    json={"type": "message", "text": LONG_TEXT},
                    headers={"Authorization": f"Bearer {patient.token}"},
                ) as response:
                    return response.status

            async def api_messages(index: int) -> int:
                activity = {
                    "type": "message",
                    "id": f"long-{index}",
                    "text": LONG_TEXT,
                    "channelId": "emulator",
                    "serviceUrl": connector.service_url,
                    "from": {"id": "bench-user"},
                    "recipient": {"id": "carebot"},
                    "conversation": {"id": "bench-conversation"},
                }
                async with http.post(f"{base}/api/messages", json=activity) as response:
                    return response.status

            baseline = await phase("baseline", http, base, polls, 0, None, None)
            await phase("directline", http, base, polls, posts, direct_line, baseline)
            await phase("api_messages", http, base, polls, posts, api_messages, baseline)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--posts", type=int, default=5, help="long messages per channel")
    parser.add_argument("--polls", type=int, default=300, help="/healthz requests per phase")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.posts, arguments.polls))
