"""L7 and L1 (sign-in): form bodies are small and must be valid UTF-8; 413 or 400, never 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.bot.browser import csrf_field
from tests.bot.directline_client import browser_session
from tests.bot.service import running_service, service_settings

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_sign_in_bodies_over_16_kb_get_413(tmp_path: Path, sqlite_url: str) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            token = await csrf_field(http, f"{base}/portal")
            for size in (17 * 1024, 1000 * 1024):
                data = {"username": "alice", "password": "x" * size, **token}
                async with http.post(f"{base}/staff/login", data=data) as response:
                    assert response.status == 413

            async def chunks() -> object:
                for _ in range(64):
                    yield b"a" * 1024

            async with http.post(f"{base}/portal/login", data=chunks(), headers=FORM) as response:
                assert response.status == 413  # chunked, no Content-Length


async def test_bad_bytes_in_a_sign_in_body_get_400(tmp_path: Path, sqlite_url: str) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            token = (await csrf_field(http, f"{base}/portal"))["csrf_token"]
            bodies = [
                b"username=alice\xff&password=x&csrf_token=" + token.encode(),
                b"username=alice%FF&password=x&csrf_token=" + token.encode(),
                b"&".join(b"f%d=1" % n for n in range(100)),
            ]
            for body in bodies:
                async with http.post(f"{base}/portal/login", data=body, headers=FORM) as response:
                    assert response.status == 400, body[:40]


async def test_a_form_arriving_in_small_chunks_is_read_whole(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            token = (await csrf_field(http, f"{base}/portal"))["csrf_token"]
            body = f"username=alice&password={'y' * 9000}&csrf_token={token}".encode()

            async def trickle() -> object:
                for start in range(0, len(body), 1000):
                    yield body[start : start + 1000]
                    await asyncio.sleep(0.01)

            async with http.post(f"{base}/portal/login", data=trickle(), headers=FORM) as response:
                assert response.status == 401  # read whole: the token at the end was found
