"""Runs the real carebot app on a loopback port for tests."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from bot.app import create_app
from bot.demo import seed_accounts
from bot.services import SERVICES, Services
from bot.settings import Settings
from integrations.persistence.migrate import migrate

DEMO_PASSWORD = "correct horse battery staple"


def service_settings(var_dir: Path, database_url: str, **extra: object) -> Settings:
    """Settings for a test instance with its own var/ and database."""
    return Settings(
        var_dir=var_dir,
        database_url=database_url,
        secret_key="test-secret-" + "x" * 40,
        **extra,  # type: ignore[arg-type]
    )


def emulator_settings(var_dir: Path, database_url: str, **extra: object) -> Settings:
    """Settings with /api/messages open to loopback clients (CAREBOT_EMULATOR_MODE=1)."""
    return service_settings(var_dir, database_url, emulator_mode=True, **extra)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def running_service(settings: Settings, *, seed: bool = True) -> AsyncIterator[str]:
    """Start the whole app on 127.0.0.1:<free port>; yield its base URL."""
    async with running_app(settings, seed=seed) as (base, _):
        yield base


@asynccontextmanager
async def running_app(
    settings: Settings, *, seed: bool = True
) -> AsyncIterator[tuple[str, Services]]:
    """Start the whole app on 127.0.0.1:<free port>; yield its base URL and its services."""
    async with running_application(settings, seed=seed) as (base, app):
        yield base, app[SERVICES]


@asynccontextmanager
async def running_application(
    settings: Settings, *, seed: bool = True
) -> AsyncIterator[tuple[str, web.Application]]:
    """Start the whole app on 127.0.0.1:<free port>; yield its base URL and the app.

    The port is chosen first so the service knows its own URL (it calls its embedded FHIR
    store over loopback, as in production)."""
    settings = settings.model_copy(update={"host": "127.0.0.1", "port": free_port()})
    await migrate(settings.resolved_database_url)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    if seed:
        await seed_accounts(app[SERVICES].accounts, DEMO_PASSWORD)
    try:
        yield settings.base_url, app
    finally:
        await runner.cleanup()
