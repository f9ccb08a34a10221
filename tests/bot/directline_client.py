"""A Direct Line 3.0 client for tests: signs in to the portal, then talks like Web Chat."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from tests.bot.browser import csrf_field


class DirectLineTestClient:
    """Signs in as a patient, starts a conversation and posts / polls activities."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base
        self.token = ""
        self.conversation_id = ""
        self.user_id = ""
        self.watermark = 0

    async def sign_in(self, username: str, password: str) -> None:
        """Portal sign-in, then the Direct Line token for the session."""
        async with self.http.post(
            f"{self.base}/portal/login",
            data={
                "username": username,
                "password": password,
                **await csrf_field(self.http, f"{self.base}/portal"),
            },
            allow_redirects=False,
        ) as response:
            assert response.status == 303, await response.text()
        async with self.http.post(
            f"{self.base}/portal/api/directline-token", json={"locale": "en-US"}
        ) as response:
            assert response.status == 200
            grant = await response.json()
        self.token = grant["token"]
        self.user_id = grant["userId"]

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def start(self) -> int:
        """Open (or resume) the conversation; returns the HTTP status."""
        async with self.http.post(
            f"{self.base}/directline/conversations", headers=self._auth()
        ) as response:
            body = await response.json()
            self.conversation_id = body["conversationId"]
            self.token = body["token"]
            return response.status

    async def say(self, text: str, *, from_id: str | None = None) -> str:
        """Post a message like Web Chat does; returns the activity id."""
        activity = {
            "type": "message",
            "text": text,
            "from": {"id": from_id or self.user_id, "role": "user"},
            "locale": "en-US",
        }
        async with self.http.post(
            f"{self.base}/directline/conversations/{self.conversation_id}/activities",
            json=activity,
            headers=self._auth(),
        ) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["id"])

    async def new_activities(self) -> list[dict[str, Any]]:
        """Activities since the last poll."""
        async with self.http.get(
            f"{self.base}/directline/conversations/{self.conversation_id}/activities",
            params={"watermark": str(self.watermark)},
            headers=self._auth(),
        ) as response:
            assert response.status == 200
            body = await response.json()
        self.watermark = int(body["watermark"])
        return list(body["activities"])

    async def bot_texts(self) -> list[str]:
        """Texts of the bot's new messages (the turn is done when the POST returns)."""
        await asyncio.sleep(0)
        return [
            a.get("text", "")
            for a in await self.new_activities()
            if a["from"]["role"] == "bot" and a["type"] == "message"
        ]


def browser_session() -> aiohttp.ClientSession:
    """A client session that keeps cookies for 127.0.0.1, as browsers do."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
