"""Runs the real carebot app on a loopback port for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from bot.app import create_app
from bot.demo import DEMO_PEOPLE, seed_accounts
from bot.services import SERVICES
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


@asynccontextmanager
async def running_service(settings: Settings, *, seed: bool = True) -> AsyncIterator[str]:
    """Start the whole app on 127.0.0.1:<free port>; yield its base URL."""
    await migrate(settings.resolved_database_url)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    if seed:
        await seed_accounts(app[SERVICES].accounts, DEMO_PASSWORD)
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def demo_username(display_name: str) -> str:
    """The demo username of DISPLAY_NAME."""
    return next(p.username for p in DEMO_PEOPLE if p.display_name == display_name)
