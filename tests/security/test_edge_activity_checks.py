"""L1 and L2 on the channels: malformed activities and watermarks are a clear 4xx and store
nothing; NaN and Infinity are refused, so polling always reads valid JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bot.directline_client import browser_session
from tests.bot.service import emulator_settings, running_service
from tests.fakes.bot_connector import FakeBotConnector
from tests.security.edge import message, patient, post_raw

BAD_ACTIVITIES = {
    "5000-digit integer": b'{"type": "message", "text": "hi", "value": ' + b"9" * 5000 + b"}",
    "local timestamp": b'{"type": "message", "text": "hi", "localTimestamp": "not-a-date"}',
    "attachments": b'{"type": "message", "text": "hi", "attachments": "zzz"}',
    "entities": b'{"type": "message", "text": "hi", "entities": [1, 2, "x"]}',
    "NaN value": b'{"type": "message", "value": {"age": NaN}}',
    "Infinity value": b'{"type": "message", "value": [Infinity]}',
    "overflowing float": b'{"type": "message", "value": 1e400}',
    "unknown type": b'{"type": "zzz"}',
    "date out of range": b'{"type": "message", "localTimestamp": "9999-12-31T23:59:59-14:00"}',
}


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("name", list(BAD_ACTIVITIES))
async def test_bad_direct_line_activities_are_4xx_and_store_nothing(
    tmp_path: Path, sqlite_url: str, name: str
) -> None:
    async with running_service(emulator_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            alice = await patient(http, base, "alice")
            status, body = await post_raw(alice, BAD_ACTIVITIES[name])
            assert status == 400, name
            assert body["error"]["message"]
            assert await alice.new_activities() == []
            await alice.say("hello")
            url = f"{base}/directline/conversations/{alice.conversation_id}/activities"
            async with http.get(url, headers={"Authorization": f"Bearer {alice.token}"}) as r:
                activities = _strict_json(await r.text())
            assert isinstance(activities, dict)
            users = [a for a in activities["activities"] if a["from"]["role"] == "user"]
            assert [a["text"] for a in users] == ["hello"]


@pytest.mark.parametrize("watermark", ["99999999999999999999", "²", "-1", "1e3", "4294967296"])
async def test_bad_watermarks_are_400(tmp_path: Path, sqlite_url: str, watermark: str) -> None:
    async with running_service(emulator_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            alice = await patient(http, base, "alice")
            url = f"{base}/directline/conversations/{alice.conversation_id}/activities"
            headers = {"Authorization": f"Bearer {alice.token}"}
            async with http.get(url, params={"watermark": watermark}, headers=headers) as r:
                assert r.status == 400
                assert "watermark" in (await r.json())["error"]["message"]


@pytest.mark.parametrize("name", list(BAD_ACTIVITIES))
async def test_bad_api_messages_activities_are_400_and_answer_nothing(
    tmp_path: Path, sqlite_url: str, name: str
) -> None:
    async with (
        FakeBotConnector() as connector,
        running_service(emulator_settings(tmp_path, sqlite_url), seed=False) as base,
        browser_session() as http,
    ):
        routing = message(connector.service_url, "hi", "x-1")
        del routing["type"], routing["text"]
        # The bad activity's own members, after the routing the endpoint needs.
        body = json.dumps(routing)[:-1].encode() + b", " + BAD_ACTIVITIES[name][1:]
        async with http.post(
            f"{base}/api/messages", data=body, headers={"Content-Type": "application/json"}
        ) as response:
            assert response.status == 400, (name, body[:200])
            assert (await response.json())["error"]["message"]
        assert connector.requests == []
