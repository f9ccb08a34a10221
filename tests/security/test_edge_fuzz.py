"""Property tests of the channel bodies: any body is answered 2xx or 4xx, never 5xx, and a
4xx stores nothing (Direct Line: no new activity; /api/messages: no reply, no state).

The service runs in a thread with its own event loop, so hypothesis drives it with plain
synchronous HTTP; examples are few and bounded so the file runs in seconds.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.activity_check import ACTIVITY_PROPERTY_TYPES
from bot.services import Services
from integrations.persistence.tables import BotStateRow
from tests.bot.directline_client import DirectLineTestClient, browser_session
from tests.bot.service import DEMO_PASSWORD, emulator_settings, running_app
from tests.fakes.bot_connector import FakeBotConnector

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
members = st.dictionaries(st.sampled_from(sorted(ACTIVITY_PROPERTY_TYPES)), json_values, max_size=6)
# Raw numbers and constants json.dumps would not write: NaN, huge integers, 1e400.
odd_literals = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "9" * 5000, "-0"])


@dataclass
class Edge:
    """The running service, seen from the test thread."""

    base: str
    service_url: str
    token: str
    conversation_id: str
    loop: asyncio.AbstractEventLoop
    services: Services
    connector: FakeBotConnector

    def run(self, coroutine: Any) -> Any:
        """Run COROUTINE on the service's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)


async def _state_rows(services: Services) -> int:
    async with services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(BotStateRow)) or 0)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    folder: Path = tmp_path_factory.mktemp("edge-fuzz")
    ready: Future[Edge] = Future()
    stop: Future[asyncio.Event] = Future()

    async def serve() -> None:
        settings_ = emulator_settings(folder, f"sqlite+aiosqlite:///{folder / 'carebot.db'}")
        async with (
            FakeBotConnector() as connector,
            running_app(settings_) as (base, services),
            browser_session() as http,
        ):
            client = DirectLineTestClient(http, base)
            await client.sign_in("alice", DEMO_PASSWORD)
            await client.start()
            loop = asyncio.get_running_loop()
            stopped = asyncio.Event()
            stop.set_result(stopped)
            ready.set_result(
                Edge(
                    base,
                    connector.service_url,
                    client.token,
                    client.conversation_id,
                    loop,
                    services,
                    connector,
                )
            )
            await stopped.wait()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    try:
        yield ready.result(timeout=120)
    finally:
        ready.result().loop.call_soon_threadsafe(stop.result().set)
        thread.join(timeout=30)


def _direct_line_count(http: httpx.Client, edge: Edge) -> int:
    url = f"{edge.base}/directline/conversations/{edge.conversation_id}/activities"
    count, watermark = 0, "0"
    while True:
        response = http.get(url, params={"watermark": watermark}, headers=_auth(edge))
        assert response.status_code == 200
        body = json.loads(response.text, parse_constant=_no_constant)  # valid JSON, always
        if not body["activities"]:
            return count
        count += len(body["activities"])
        watermark = body["watermark"]


def _no_constant(text: str) -> object:
    raise AssertionError(f"the activities JSON holds {text}")


def _auth(edge: Edge) -> dict[str, str]:
    return {"Authorization": f"Bearer {edge.token}"}


def _body(base: dict[str, Any], extra: dict[str, Any], literal: str | None) -> bytes:
    text = json.dumps({**base, **extra})
    if literal is not None:
        text = text[:-1] + f', "value": {literal}}}'
    return text.encode()


@EXAMPLES
@given(extra=members, literal=st.none() | odd_literals)
def test_direct_line_bodies_are_2xx_or_4xx_and_4xx_store_nothing(
    edge: Edge, extra: dict[str, Any], literal: str | None
) -> None:
    with httpx.Client(timeout=30) as http:
        before = _direct_line_count(http, edge)
        response = http.post(
            f"{edge.base}/directline/conversations/{edge.conversation_id}/activities",
            content=_body({"type": "message", "text": "hello"}, extra, literal),
            headers={**_auth(edge), "Content-Type": "application/json"},
        )
        assert response.status_code < 500, response.text
        after = _direct_line_count(http, edge)
    if response.status_code >= 400:
        assert response.json()["error"]["message"]
        assert after == before


@EXAMPLES
@given(extra=members, literal=st.none() | odd_literals)
def test_api_messages_bodies_are_2xx_or_4xx_and_4xx_store_nothing(
    edge: Edge, extra: dict[str, Any], literal: str | None
) -> None:
    routing = {
        "type": "message",
        "text": "hello",
        "id": "fuzz-1",
        "channelId": "emulator",
        "serviceUrl": edge.service_url,
        "from": {"id": "fuzzer"},
        "conversation": {"id": "fuzz-conversation"},
    }
    requests_before = len(edge.connector.requests)
    rows_before = edge.run(_state_rows(edge.services))
    with httpx.Client(timeout=30) as http:
        response = http.post(
            f"{edge.base}/api/messages",
            content=_body(routing, extra, literal),
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["error"]["message"]
        assert len(edge.connector.requests) == requests_before
        assert edge.run(_state_rows(edge.services)) == rows_before
