"""H1: /api/messages is closed without an app id; emulator mode talks to loopback only and
replies never leave the serviceUrl's base."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bot.channel_auth import EmulatorChannel, is_loopback_address
from bot.service_url import ServiceUrlError, activities_url, parse_service_url
from tests.bot.service import emulator_settings, running_service, service_settings
from tests.fakes.bot_connector import FakeBotConnector
from tests.security.edge import message


async def test_without_an_app_id_the_endpoint_is_closed_and_says_how_to_open_it(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with (
        FakeBotConnector() as connector,
        running_service(service_settings(tmp_path, sqlite_url), seed=False) as base,
        aiohttp.ClientSession() as http,
    ):
        activity = message(connector.service_url, "hello", "m-1")
        async with http.post(f"{base}/api/messages", json=activity) as response:
            assert response.status == 401
            error = (await response.json())["error"]
        assert error["code"] == "Unauthorized"
        assert "CAREBOT_MICROSOFT_APP_ID" in error["message"]
        assert "CAREBOT_EMULATOR_MODE" in error["message"]
        assert connector.requests == []


@pytest.mark.parametrize(
    ("suffix", "status"),
    [
        ("internal/admin?x=", 400),  # the reply path smuggled behind a query
        ("internal#x", 400),
        ("amer/../fhir/", 400),
        ("%2e%2e/fhir/", 400),
    ],
)
async def test_emulator_mode_replies_never_leave_the_service_url_base(
    tmp_path: Path, sqlite_url: str, suffix: str, status: int
) -> None:
    async with (
        FakeBotConnector(prefix="") as connector,
        running_service(emulator_settings(tmp_path, sqlite_url), seed=False) as base,
        aiohttp.ClientSession() as http,
    ):
        activity = message(connector.service_url + suffix, "hello", "m-1")
        async with http.post(f"{base}/api/messages", json=activity) as response:
            assert response.status == status
            assert (await response.json())["error"]["message"]
        assert connector.requests == []


async def test_emulator_mode_replies_only_to_loopback(tmp_path: Path, sqlite_url: str) -> None:
    async with (
        FakeBotConnector() as connector,
        running_service(emulator_settings(tmp_path, sqlite_url), seed=False) as base,
        aiohttp.ClientSession() as http,
    ):
        for outside in ("http://192.0.2.10:8080/", "https://smba.trafficmanager.net/amer/"):
            activity = message(outside, "hello", "m-out")
            async with http.post(f"{base}/api/messages", json=activity) as response:
                assert response.status == 403
                assert "loopback" in (await response.json())["error"]["message"]
        activity = message(connector.service_url, "hello", "m-in")
        async with http.post(f"{base}/api/messages", json=activity) as response:
            assert response.status == 200
        await connector.wait_for_reply("m-in")
        assert {r.activity_id for r in connector.requests} == {"m-in"}


async def test_emulator_mode_takes_loopback_clients_only() -> None:
    gate = EmulatorChannel()
    for address in ("127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"):
        gate.admit_client(address)
        assert is_loopback_address(address)
    for address in ("192.0.2.1", "10.0.0.1", "::ffff:10.0.0.1", "fe80::1", None, "x"):
        with pytest.raises(Exception, match="loopback") as raised:
            gate.admit_client(address)
        assert getattr(raised.value, "status", None) == 403


def test_connector_urls_are_built_under_the_base() -> None:
    assert str(activities_url("https://smba.trafficmanager.net/amer/", "a:1;x@y", "1/2?3")) == (
        "https://smba.trafficmanager.net/amer/v3/conversations/a%3A1%3Bx%40y/activities/1%2F2%3F3"
    )
    for conversation in ("..", ".", ""):
        with pytest.raises(ServiceUrlError):
            activities_url("http://127.0.0.1:9/", conversation, None)
    for url in ("http://u:p@127.0.0.1/", "http://127.0.0.1/a b", "javascript:x", "http://h/\\x"):
        with pytest.raises(ServiceUrlError):
            parse_service_url(url)
