"""The embedded FHIR store on its own: `carebot fhir --host H --port P` (serves /fhir)."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from integrations.fhir_store.app import create_fhir_app
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate

log = logging.getLogger(__name__)


async def run_fhir_server(database_url: str, host: str, port: int) -> None:
    """Migrate the database, then serve the store at http://HOST:PORT/fhir until cancelled."""
    await migrate(database_url)
    engine = create_engine(database_url)
    root = web.Application()
    root.add_subapp("/fhir", create_fhir_app(create_sessionmaker(engine)))
    runner = web.AppRunner(root)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    print(f"FHIR store at http://{host}:{bound}/fhir", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await engine.dispose()
