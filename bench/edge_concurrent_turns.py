"""200 concurrent posts into one conversation, and 200 over 20, on `carebot serve`.

Each run prints one JSON line: HTTP statuses, turns answered (a reply that is not the
apology), lost turns, and the wall time; the baseline is the same 200 posts sent one at a
time in the same run. Done when every turn is answered with 0 HTTP 500.

    .venv/bin/python bench/edge_concurrent_turns.py [--posts 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edge_long_message import carebot

from tests.fakes.bot_connector import FakeBotConnector

APOLOGY = "Sorry, something went wrong on my side. Please try again."


async def run(
    name: str, base: str, connector: FakeBotConnector, posts: int, conversations: int, *,
    concurrent: bool,
) -> float:  # fmt: skip
    """Post POSTS messages over CONVERSATIONS; print the figures; return the wall time."""
    connector.clear()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def post(index: int) -> int:
            activity = {
                "type": "message",
                "id": f"{name}-{index}",
                "text": "language" if index % 3 == 1 else "hello",
                "channelId": "emulator",
                "serviceUrl": connector.service_url,
                "from": {"id": f"user-{index % conversations}"},
                "recipient": {"id": "carebot"},
                "conversation": {"id": f"{name}-conversation-{index % conversations}"},
            }
            async with http.post(f"{base}/api/messages", json=activity) as response:
                return response.status

        started = time.perf_counter()
        if concurrent:
            statuses = await asyncio.gather(*(post(i) for i in range(posts)))
        else:
            statuses = [await post(i) for i in range(posts)]
        wall = time.perf_counter() - started
    answered = set()
    for request in connector.requests:
        body = request.body if isinstance(request.body, dict) else {}
        if request.activity_id and body.get("text") != APOLOGY:
            answered.add(request.activity_id)
    line = {
        "bench": "edge_concurrent_turns",
        "run": name,
        "posts": posts,
        "conversations": conversations,
        "concurrent": concurrent,
        "statuses": dict(Counter(statuses)),
        "http_500": statuses.count(500),
        "turns_answered": len(answered),
        "turns_lost": posts - len(answered),
        "wall_s": round(wall, 2),
    }
    print(json.dumps(line), flush=True)
    return wall


async def main(posts: int) -> None:
    with tempfile.TemporaryDirectory(prefix="carebot-edge-bench-") as folder:
        async with carebot(Path(folder)) as (base, _), FakeBotConnector() as connector:
            await run("sequential", base, connector, posts, 1, concurrent=False)
            await run("one", base, connector, posts, 1, concurrent=True)
            await run("twenty", base, connector, posts, 20, concurrent=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--posts", type=int, default=200)
    asyncio.run(main(parser.parse_args().posts))
