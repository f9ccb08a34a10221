"""L3: cross-site posts to sign-in, sign-out and the portal's token request are refused."""

from __future__ import annotations

from pathlib import Path

from tests.bot.browser import csrf_field, post_sign_in
from tests.bot.directline_client import browser_session
from tests.bot.service import DEMO_PASSWORD, running_service, service_settings

EVIL = "https://evil.example"


async def test_cross_site_and_tokenless_sign_ins_are_refused(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            fields = {"username": "alice", "password": DEMO_PASSWORD}
            token = await csrf_field(http, f"{base}/portal")
            refused = [
                ({**fields, **token}, {"Origin": EVIL}),
                ({**fields, **token}, {"Origin": "null"}),
                ({**fields, **token}, {"Referer": f"{EVIL}/page"}),
                (fields, {"Origin": base}),  # our own origin, but no token
                ({**fields, "csrf_token": "0" * 64}, {}),  # a forged token
            ]
            for data, headers in refused:
                async with http.post(
                    f"{base}/portal/login", data=data, headers=headers, allow_redirects=False
                ) as response:
                    assert response.status == 403, headers
                    assert "did not come from this site" in await response.text()
                    assert "carebot_portal" not in response.cookies
            async with http.post(
                f"{base}/staff/login",
                data={"username": "dr.chen", "password": DEMO_PASSWORD, **token},
                headers={"Origin": EVIL},
            ) as response:
                assert response.status == 403
            # The token of another browser (another nonce cookie) does not fit this one.
            async with browser_session() as other:
                foreign = await csrf_field(other, f"{base}/portal")
            if foreign != token:
                async with http.post(
                    f"{base}/portal/login", data={**fields, **foreign}, allow_redirects=False
                ) as response:
                    assert response.status == 403
            status, _ = await post_sign_in(http, base, "portal", "alice", DEMO_PASSWORD)
            assert status == 303


async def test_cross_site_sign_out_and_token_requests_are_refused(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            assert (await post_sign_in(http, base, "portal", "alice", DEMO_PASSWORD))[0] == 303
            token = await csrf_field(http, f"{base}/portal")
            async with http.post(
                f"{base}/portal/logout", data=token, headers={"Origin": EVIL}
            ) as response:
                assert response.status == 403
            async with http.post(f"{base}/portal/logout", data={}) as response:
                assert response.status == 403
            async with http.post(
                f"{base}/portal/api/directline-token", json={}, headers={"Origin": EVIL}
            ) as response:
                assert response.status == 403
            async with http.post(
                f"{base}/portal/api/directline-token",
                data="{}",
                headers={"Content-Type": "text/plain", "Origin": base},
            ) as response:
                assert response.status == 415
            # Still signed in: none of the above did anything.
            async with http.post(
                f"{base}/portal/api/directline-token", json={}, headers={"Origin": base}
            ) as response:
                assert response.status == 200
