"""`carebot serve`: migrate, then run the whole service on one port."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.app import create_app
from bot.settings import Settings
from integrations.persistence.migrate import migrate

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, ready: asyncio.Event | None = None) -> None:
    """Run until cancelled (Ctrl-C or SIGTERM)."""
    await migrate(settings.resolved_database_url)
    runner = web.AppRunner(create_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    base = settings.base_url
    print(
        f"carebot is running\n  patient portal: {base}/portal\n  staff pages:    {base}/staff",
        flush=True,
    )
    if ready is not None:
        ready.set()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
