"""M5: sign-in is throttled per username and per address, the same for unknown usernames,
shared by every process on the database, and argon2 never stalls the event loop."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path

import aiohttp
from argon2 import PasswordHasher

from integrations.accounts import AccountRepository
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.sign_in_throttle import SignInThrottle, ThrottleLimit
from tests.bot.browser import csrf_field, post_sign_in
from tests.bot.directline_client import browser_session
from tests.bot.service import DEMO_PASSWORD, running_app, running_service, service_settings

TOO_MANY = "Too many attempts, try again in 15 minutes."


def _without_tokens(page: str) -> str:
    page = re.sub(r'value="[0-9a-f]{64}"', 'value=""', page)  # CSRF tokens
    return re.sub(r'nonce="[^"]+"', 'nonce=""', page)


async def test_300_wrong_passwords_are_throttled_and_then_the_right_one_is_refused(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        async with browser_session() as http:
            token = await csrf_field(http, f"{base}/portal")
            statuses = []
            for attempt in range(300):
                async with http.post(
                    f"{base}/portal/login",
                    data={"username": "alice", "password": f"guess {attempt}", **token},
                ) as response:
                    statuses.append(response.status)
                    last = await response.text()
                    retry_after = response.headers.get("Retry-After")
            assert statuses == [401] * 10 + [429] * 290
            assert TOO_MANY in last
            assert retry_after is not None and 0 < int(retry_after) <= 900
            status, page = await post_sign_in(http, base, "portal", "alice", DEMO_PASSWORD)
            assert status == 429
            assert TOO_MANY in page
            async with http.post(f"{base}/portal/api/directline-token", json={}) as response:
                assert response.status == 401  # no session was opened
            # Another account from the same address is not locked out by Alice's attacker.
            status, _ = await post_sign_in(http, base, "portal", "bruno", DEMO_PASSWORD)
            assert status == 303


async def test_unknown_usernames_get_the_same_answers_as_real_ones(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_service(service_settings(tmp_path, sqlite_url)) as base:
        answers: dict[str, list[tuple[int, str]]] = {}
        for username in ("alice", "nobody-at-all"):
            async with browser_session() as http:
                answers[username] = [
                    await post_sign_in(http, base, "portal", username, "wrong password")
                    for _ in range(12)
                ]
        known, unknown = (
            [(status, _without_tokens(page)) for status, page in answers[name]]
            for name in ("alice", "nobody-at-all")
        )
        assert known == unknown
        assert [status for status, _ in known] == [401] * 10 + [429] * 2


async def test_the_address_is_throttled_across_usernames_and_shared_by_two_processes(
    database_url: str,
) -> None:
    now = [1_000_000.0]
    limits = {
        "account_limit": ThrottleLimit(failures=3, window_seconds=600),
        "address_limit": ThrottleLimit(failures=5, window_seconds=600),
    }
    engines = [create_engine(database_url), create_engine(database_url)]
    try:
        first, second = (
            SignInThrottle(create_sessionmaker(e), clock=lambda: now[0], **limits)  # type: ignore[arg-type]
            for e in engines
        )
        for n in range(4):
            await (first if n % 2 else second).record_failure(f"user{n}", "203.0.113.7")
        assert await first.check("user9", "203.0.113.7") is None
        await second.record_failure("user4", "203.0.113.7")
        throttled = await first.check("user9", "203.0.113.7")
        assert throttled is not None and throttled.retry_after_seconds == 600
        assert await first.check("user9", "198.51.100.1") is None  # another address
        # Two processes counting one username at once lose no failure.
        await asyncio.gather(*(p.record_failure("carol", "192.0.2.1") for p in (first, second)))
        await first.record_failure("carol", "192.0.2.2")
        assert await second.check("carol", "192.0.2.9") is not None
        await first.record_success("carol")
        assert await second.check("carol", "192.0.2.9") is None
        now[0] += 601  # the window ends
        assert await second.check("user9", "203.0.113.7") is None
    finally:
        for engine in engines:
            await engine.dispose()


class GatedHasher(PasswordHasher):
    """A real argon2 hasher whose verification waits for the test's go-ahead."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.entered.set()
        self.release.wait(timeout=20)
        try:
            return super().verify(hash, password)
        finally:
            self.finished.set()


async def test_a_sign_in_flood_does_not_stall_healthz(tmp_path: Path, sqlite_url: str) -> None:
    async with running_app(service_settings(tmp_path, sqlite_url)) as (base, services):
        hasher = GatedHasher()
        services.accounts = AccountRepository(services.sessions, hasher=hasher)
        async with browser_session() as http:
            token = await csrf_field(http, f"{base}/portal")

            async def attempt(n: int) -> int:
                data = {"username": "alice", "password": f"flood {n}", **token}
                async with http.post(f"{base}/portal/login", data=data) as response:
                    return response.status

            flood = [asyncio.create_task(attempt(n)) for n in range(8)]
            assert await asyncio.to_thread(hasher.entered.wait, 30)
            async with aiohttp.ClientSession() as probe:
                for _ in range(5):
                    async with probe.get(f"{base}/healthz") as response:
                        assert response.status == 200
            # /healthz answered while a password check was still running.
            assert not hasher.finished.is_set()
            hasher.release.set()
            assert await asyncio.gather(*flood) == [401] * 8
