"""SMART Backend Services: client credentials with a `private_key_jwt` assertion signed by a
key of the client's registered JWKS (RS384, ES384), against the running service; the
expired, not-yet-valid, replayed, wrongly signed, wrong-audience and unknown-key ones are
refused, and the token's accesses are audited naming the client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir_store.smart_clients import add_smart_client
from integrations.fhir_store.tables import FhirVersionRow
from tests.bot.service import free_port
from tests.security.smart_flow import (
    BackendKey,
    assertion,
    client_credentials,
    new_key,
    token_request,
)
from tests.security.smart_world import smart_world

SCOPE = "system/Observation.rs"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(header: dict[str, object], claims: dict[str, object], secret: bytes) -> str:
    """A JWT signed by hand (PyJWT rightly refuses to key HMAC with a public key)."""
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{_b64(mac)}"


async def _register(
    sessions: async_sessionmaker[AsyncSession], key: BackendKey, name: str = "lab-sync"
) -> str:
    return await add_smart_client(
        sessions,
        name,
        "system/Observation.rs system/Patient.rs",
        jwks=key.jwks,
    )


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
async def test_a_signed_assertion_gets_a_system_token(
    tmp_path: Path, database_url: str, alg: str
) -> None:
    key = new_key(alg)
    async with smart_world(tmp_path, database_url) as world, aiohttp.ClientSession() as http:
        client_id = await _register(world.services.sessions, key)
        aud = f"{world.base}/auth/token"
        status, body = await token_request(
            http, world.base, client_credentials(client_id, assertion(key, client_id, aud), SCOPE)
        )
        assert status == 200, body
        assert body["scope"] == SCOPE and "refresh_token" not in body and "patient" not in body
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        async with http.get(f"{world.base}/fhir/Observation", headers=headers) as response:
            assert response.status == 200
            ids = sorted(e["resource"]["id"] for e in (await response.json())["entry"])
        assert ids == ["alice-hr", "alice-lab", "david-hr"]
        async with http.get(f"{world.base}/fhir/Patient", headers=headers) as response:
            assert response.status == 403, "only the scopes asked for are granted"
        # a scope the client was not registered for is not granted
        status, body = await token_request(
            http,
            world.base,
            client_credentials(client_id, assertion(key, client_id, aud), "system/*.cruds"),
        )
        assert status == 400 and body["error"] == "invalid_scope"
        async with world.services.sessions() as session:
            events = (
                await session.execute(
                    select(FhirVersionRow.content).where(FhirVersionRow.res_type == "AuditEvent")
                )
            ).scalars()
            assert any("smart:lab-sync" in str(e) for e in events)


async def test_bad_assertions_are_refused(tmp_path: Path, sqlite_url: str) -> None:
    key, other = new_key("RS384"), new_key("RS384")
    async with smart_world(tmp_path, sqlite_url) as world, aiohttp.ClientSession() as http:
        client_id = await _register(world.services.sessions, key)
        aud = f"{world.base}/auth/token"

        async def refused(signed: str) -> str:
            status, body = await token_request(
                http, world.base, client_credentials(client_id, signed, SCOPE)
            )
            assert status == 401 and body["error"] == "invalid_client", body
            return str(body["error_description"])

        assert "expired" in await refused(assertion(key, client_id, aud, exp_in=-120))
        assert "not yet valid" in await refused(assertion(key, client_id, aud, nbf_in=600))
        assert "more than 300 s" in await refused(assertion(key, client_id, aud, exp_in=3600))
        assert "aud" in await refused(assertion(key, client_id, f"{world.base}/other/token"))
        # signed by another key under the registered kid
        forged = BackendKey(key.kid, "RS384", other.private)
        assert "signature" in await refused(assertion(forged, client_id, aud))
        assert "kid" in await refused(assertion(other, client_id, aud))
        # HS256 keyed with the public JWKS (algorithm confusion) is refused up front
        confused = _hs256(
            {"alg": "HS256", "typ": "JWT", "kid": key.kid},
            {"iss": client_id, "sub": client_id, "aud": aud, "exp": 9999999999, "jti": "x"},
            json.dumps(key.jwks).encode(),
        )
        assert "alg" in await refused(confused)
        # a replay: the same assertion twice
        once = assertion(key, client_id, aud, jti="the-one-jti")
        status, _ = await token_request(
            http, world.base, client_credentials(client_id, once, SCOPE)
        )
        assert status == 200
        assert "replay" in await refused(once)
        assert "replay" in await refused(assertion(key, client_id, aud, jti="the-one-jti"))


async def test_a_public_client_gets_no_client_credentials(tmp_path: Path, sqlite_url: str) -> None:
    async with smart_world(tmp_path, sqlite_url) as world, aiohttp.ClientSession() as http:
        status, body = await token_request(
            http,
            world.base,
            {"grant_type": "client_credentials", "client_id": world.app_id, "scope": SCOPE},
        )
        assert status == 400 and body["error"] == "unauthorized_client"


async def test_a_jwks_url_is_fetched_when_the_token_is_asked_for(
    tmp_path: Path, sqlite_url: str
) -> None:
    key = new_key("ES384")
    served: dict[str, object] = {"keys": []}

    async def jwks(request: web.Request) -> web.Response:
        return web.json_response(served)

    app = web.Application()
    app.router.add_get("/jwks.json", jwks)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with smart_world(tmp_path, sqlite_url) as world, aiohttp.ClientSession() as http:
            client_id = await add_smart_client(
                world.services.sessions,
                "by-url",
                SCOPE,
                jwks_url=f"http://127.0.0.1:{port}/jwks.json",
            )
            aud = f"{world.base}/auth/token"
            form = client_credentials(client_id, assertion(key, client_id, aud), SCOPE)
            status, body = await token_request(http, world.base, form)
            assert status == 401 and "kid" in body["error_description"], "not published yet"
            served.update(key.jwks)  # the service publishes its key (a rotation)
            form = client_credentials(client_id, assertion(key, client_id, aud), SCOPE)
            status, body = await token_request(http, world.base, form)
            assert status == 200, body
    finally:
        await runner.cleanup()
