"""M7: sign-out ends the session at once, in every process, and with it Direct Line refreshes."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.bot.browser import csrf_field, post_sign_in
from tests.bot.directline_client import browser_session
from tests.bot.service import DEMO_PASSWORD, running_app, running_service, service_settings


async def _portal_cookie(http: aiohttp.ClientSession, base: str) -> str:
    status, _ = await post_sign_in(http, base, "portal", "alice", DEMO_PASSWORD)
    assert status == 303
    return next(c.value for c in http.cookie_jar if c.key == "carebot_portal")


async def _signed_in(base: str, cookie: str) -> bool:
    async with aiohttp.ClientSession(cookies={"carebot_portal": cookie}) as stolen:
        async with stolen.post(f"{base}/portal/api/directline-token", json={}) as response:
            return response.status == 200


async def _sign_out(http: aiohttp.ClientSession, base: str) -> None:
    fields = await csrf_field(http, f"{base}/portal")
    async with http.post(f"{base}/portal/logout", data=fields, allow_redirects=False) as response:
        assert response.status == 303


async def test_the_old_cookie_stops_working_right_after_sign_out(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            cookie = await _portal_cookie(http, base)
            assert await _signed_in(base, cookie)
            await _sign_out(http, base)
        assert not await _signed_in(base, cookie)
        async with aiohttp.ClientSession(cookies={"carebot_portal": cookie}) as stolen:
            async with stolen.get(f"{base}/portal") as response:
                assert "Sign in to talk with your care assistant." in await response.text()


async def test_a_sign_out_in_one_process_ends_the_session_in_another(
    tmp_path: Path, pg_url: str
) -> None:
    settings = service_settings(tmp_path, pg_url)
    async with (
        running_app(settings) as (first, _),
        running_app(settings, seed=False) as (second, _),
    ):
        async with browser_session() as http:
            cookie = await _portal_cookie(http, first)
            assert await _signed_in(second, cookie)
            await _sign_out(http, first)
        assert not await _signed_in(second, cookie)


async def test_direct_line_tokens_refresh_only_while_signed_in(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            await _portal_cookie(http, base)
            async with http.post(f"{base}/portal/api/directline-token", json={}) as response:
                grant = (await response.json())["token"]
            async with http.post(
                f"{base}/directline/conversations", headers={"Authorization": f"Bearer {grant}"}
            ) as response:
                assert response.status == 201
                token = (await response.json())["token"]
            refresh = f"{base}/directline/tokens/refresh"
            auth = {"Authorization": f"Bearer {token}"}
            async with http.post(refresh, headers=auth) as response:
                assert response.status == 200
                token = (await response.json())["token"]
            await _sign_out(http, base)
            for url, bearer in ((refresh, token), (f"{base}/directline/conversations", grant)):
                async with http.post(
                    url, headers={"Authorization": f"Bearer {bearer}"}
                ) as response:
                    assert response.status == 403, url
