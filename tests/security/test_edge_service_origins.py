"""L4: with an app id, a channel token without a `serviceurl` claim gets replies (and the
bot's access token) only at an allow-listed Bot Framework service."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.bot.service import running_service, service_settings
from tests.bot.test_channel_auth import APP_ID, OUTGOING_TOKEN, LocalIssuer
from tests.fakes.bot_connector import FakeBotConnector, TeamsMessage


async def test_a_token_without_service_url_claim_replies_only_to_allowed_origins(
    tmp_path: Path, sqlite_url: str
) -> None:
    issuer = LocalIssuer()
    async with (
        issuer.serve() as openid_url,
        FakeBotConnector(token=OUTGOING_TOKEN) as connector,
        aiohttp.ClientSession() as http,
    ):
        settings = service_settings(
            tmp_path,
            sqlite_url,
            microsoft_app_id=APP_ID,
            microsoft_app_password="s3cret",
            microsoft_token_url=f"{issuer.url}/token",
            channel_openid_url=openid_url,
        )
        no_claim = {"Authorization": f"Bearer {issuer.token()}"}
        activity = TeamsMessage(connector.service_url).build("hello", "a-1")
        # The default allow-list (Bot Framework hosts over https) does not hold the fake.
        async with running_service(settings, seed=False) as base:
            async with http.post(f"{base}/api/messages", json=activity, headers=no_claim) as r:
                assert r.status == 401
                assert "CAREBOT_CHANNEL_SERVICE_ORIGINS" in (await r.json())["error"]["message"]
        assert connector.requests == []
        allowed = settings.model_copy(
            update={"channel_service_origins": [f"http://127.0.0.1:{connector.port}"]}
        )
        async with running_service(allowed, seed=False) as base:
            async with http.post(f"{base}/api/messages", json=activity, headers=no_claim) as r:
                assert r.status == 200
            reply = await connector.wait_for_reply("a-1")
        assert reply.headers["Authorization"] == f"Bearer {OUTGOING_TOKEN}"
