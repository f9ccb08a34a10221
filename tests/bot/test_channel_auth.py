"""With an app id, /api/messages takes only valid channel JWTs, and only then trusts Teams ids."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import Settings
from integrations.accounts import Role
from tests.bot.service import emulator_settings, running_app, service_settings
from tests.fakes.bot_connector import FakeBotConnector, TeamsMessage

APP_ID = "11111111-2222-3333-4444-555555555555"
ISSUER = "https://api.botframework.com"
OUTGOING_TOKEN = "outgoing-token-for-the-connector"
AAD_ID = "6d415fdd-f97e-4f70-ac45-e69601e4ecb2"  # the aadObjectId TeamsMessage sends


class LocalIssuer:
    """A local OpenID issuer publishing one RSA key, endorsed for msteams."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.url = ""

    def token(self, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {"iss": ISSUER, "aud": APP_ID, "iat": now, "exp": now + 600}
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": "k1"})

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"{self.url}/keys"})

    async def _keys(self, request: web.Request) -> web.Response:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return web.json_response({"keys": [{**jwk, "kid": "k1", "endorsements": ["msteams"]}]})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != APP_ID or form.get("client_secret") != "s3cret":
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.json_response({"access_token": OUTGOING_TOKEN, "expires_in": 3600})

    @asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_get("/openid", self._metadata)
        app.router.add_post("/token", self._token)
        app.router.add_get("/keys", self._keys)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        try:
            yield f"{self.url}/openid"
        finally:
            await runner.cleanup()


async def test_channel_tokens_are_checked_and_only_then_teams_ids_are_trusted(
    tmp_path: Path, sqlite_url: str
) -> None:
    issuer = LocalIssuer()
    async with issuer.serve() as openid_url:
        await _check_channel_tokens(tmp_path, sqlite_url, issuer, openid_url)


def channel_settings(
    tmp_path: Path, database_url: str, issuer: LocalIssuer, openid_url: str
) -> Settings:
    """Settings of a service with an app id whose channel tokens ISSUER signs."""
    return service_settings(
        tmp_path,
        database_url,
        microsoft_app_id=APP_ID,
        microsoft_app_password="s3cret",
        microsoft_token_url=f"{issuer.url}/token",
        channel_openid_url=openid_url,
    )


async def _check_channel_tokens(
    tmp_path: Path, sqlite_url: str, issuer: LocalIssuer, openid_url: str
) -> None:
    settings = channel_settings(tmp_path, sqlite_url, issuer, openid_url)
    async with (
        FakeBotConnector(token=OUTGOING_TOKEN) as connector,
        running_app(settings, seed=False) as (base, services),
        aiohttp.ClientSession() as http,
    ):
        await services.accounts.create(
            username="pat", password="p" * 12, role=Role.PATIENT,
            display_name="Patricia Example", aad_object_id=AAD_ID,
        )  # fmt: skip
        messages = TeamsMessage(connector.service_url)
        url = f"{base}/api/messages"
        service_claim = {"serviceurl": connector.service_url}
        refused = {
            "none": None,
            "garbage": "Bearer not-a-jwt",
            "expired": f"Bearer {issuer.token(exp=int(time.time()) - 3600, **service_claim)}",
            "no exp": f"Bearer {issuer.token(exp=None, **service_claim)}",
            "other audience": f"Bearer {issuer.token(aud='someone-else', **service_claim)}",
            "other issuer": f"Bearer {issuer.token(iss='https://evil.example', **service_claim)}",
            "other serviceUrl": f"Bearer {issuer.token(serviceurl='https://evil.example/')}",
        }
        for name, header in refused.items():
            headers = {"Authorization": header} if header else {}
            async with http.post(url, json=messages.build("hi", name), headers=headers) as r:
                assert r.status == 401, name
                assert (await r.json())["error"]["code"] == "Unauthorized"
        assert connector.requests == []
        good = {"Authorization": f"Bearer {issuer.token(**service_claim)}"}
        async with http.post(url, json=messages.build("hello", "ok-1"), headers=good) as r:
            assert r.status == 200
        reply = await connector.wait_for_reply("ok-1")
        assert isinstance(reply.body, dict)
        assert reply.body["text"].startswith("Hello Patricia!")


@pytest.mark.parametrize("text", ["hello"])
async def test_without_an_app_id_teams_ids_are_not_trusted(
    tmp_path: Path, sqlite_url: str, text: str
) -> None:
    async with (
        FakeBotConnector() as connector,
        running_app(emulator_settings(tmp_path, sqlite_url), seed=False) as (base, services),
        aiohttp.ClientSession() as http,
    ):
        await services.accounts.create(
            username="pat", password="p" * 12, role=Role.PATIENT,
            display_name="Patricia Example", aad_object_id=AAD_ID,
        )  # fmt: skip
        activity = TeamsMessage(connector.service_url, user_name="Pat Example").build(text, "g-1")
        async with http.post(f"{base}/api/messages", json=activity) as r:
            assert r.status == 200
        reply = await connector.wait_for_reply("g-1")
        assert isinstance(reply.body, dict)
        assert reply.body["text"].startswith("Hello Pat!")  # the channel's display name only
