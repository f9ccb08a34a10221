"""The embedded FHIR store on its own: `carebot fhir --host H --port P` (serves /fhir)."""

from __future__ import annotations

import asyncio
import logging
import signal

from aiohttp import web

from integrations.fhir_store.app import SUBSCRIPTIONS_KEY, create_fhir_app
from integrations.fhir_store.subscription_delivery import delivery_ctx
from integrations.fhir_store.subscription_rules import DeliveryPolicy
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate
from integrations.request_log import REQUEST_LOG, RequestLogger

log = logging.getLogger(__name__)


async def run_fhir_server(
    database_url: str, host: str, port: int, subscriptions: DeliveryPolicy | None = None
) -> None:
    """Migrate the database, then serve the store at http://HOST:PORT/fhir until cancelled,
    delivering Subscription notifications as SUBSCRIPTIONS says (None: not at all).

    SIGTERM stops it as Ctrl-C does: the app is cleaned up (its validation workers stop).
    """
    await migrate(database_url)
    engine = create_engine(database_url)
    root = web.Application()
    store = create_fhir_app(create_sessionmaker(engine), subscriptions=subscriptions)
    root.add_subapp("/fhir", store)
    if SUBSCRIPTIONS_KEY in store:
        root.cleanup_ctx.append(delivery_ctx(store[SUBSCRIPTIONS_KEY]))
    runner = web.AppRunner(
        root, access_log=logging.getLogger(REQUEST_LOG), access_log_class=RequestLogger
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    print(f"FHIR store at http://{host}:{bound}/fhir", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        await runner.cleanup()
        await close_engine(engine)
