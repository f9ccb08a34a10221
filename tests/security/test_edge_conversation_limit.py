"""L10: one account opens a bounded number of Direct Line conversations per hour."""

from __future__ import annotations

from pathlib import Path

from tests.bot.directline_client import DirectLineTestClient, browser_session
from tests.bot.service import DEMO_PASSWORD, running_service, service_settings


async def test_conversations_per_account_are_limited_with_a_clear_429(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            client = DirectLineTestClient(http, base)
            await client.sign_in("alice", DEMO_PASSWORD)
            portal_token = client.token
            headers = {"Authorization": f"Bearer {portal_token}"}
            statuses, bodies = [], []
            for _ in range(11):
                async with http.post(f"{base}/directline/conversations", headers=headers) as r:
                    statuses.append(r.status)
                    bodies.append(await r.json())
            assert statuses == [201] * 10 + [429]
            assert bodies[-1]["error"]["code"] == "TooManyRequests"
            assert "10 conversations per hour" in bodies[-1]["error"]["message"]
            # A token bound to an open conversation still resumes it.
            client.token = bodies[0]["token"]
            assert await client.start() == 200
            assert client.conversation_id == bodies[0]["conversationId"]
            other = DirectLineTestClient(http, base)  # another patient is not affected
            await other.sign_in("bruno", DEMO_PASSWORD)
            assert await other.start() == 201
