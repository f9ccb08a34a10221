"""The service (`carebot serve`'s app) delivers its embedded store's Subscription
notifications; a command that only borrows the store (`standalone_access`) does not."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from integrations.fhir.access import FhirConfig, FhirService, standalone_access
from integrations.fhir_store.app import SUBSCRIPTIONS_KEY
from integrations.fhir_store.subscription_matcher import FEED_NAME
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker
from integrations.persistence.feed_cursor import FeedRow
from integrations.persistence.migrate import migrate
from tests.bot.service import running_application, service_settings
from tests.fhir.helpers import vital_json
from tests.fhir.subscriptions import FAST, receiver, rest_hook


async def test_the_service_process_delivers_notifications(tmp_path: Path, sqlite_url: str) -> None:
    settings = service_settings(tmp_path, sqlite_url, subscription_first_retry_s=0.05)
    async with receiver() as hook, running_application(settings, seed=False) as (_, app):
        from bot.services import SERVICES

        fhir = app[SERVICES].fhir.system()
        _, sub = await fhir.request_json("POST", "Subscription", body=rest_hook(hook.url))
        assert sub is not None and sub["status"] == "active"
        _, patient = await fhir.request_json("POST", "Patient", body={"resourceType": "Patient"})
        assert patient is not None
        reading = vital_json(f"Patient/{patient['id']}", "8867-4", 64, "2026-12-01T10:00:00Z")
        _, obs = await fhir.request_json("POST", "Observation", body=reading)
        assert obs is not None
        got = await hook.next()
        assert got.path == f"/hook/Observation/{obs['id']}"


async def test_only_the_service_configuration_delivers(sqlite_url: str) -> None:
    await migrate(sqlite_url)
    engine = create_engine(sqlite_url)
    sessions = create_sessionmaker(engine)
    config = FhirConfig(secret_key="k" * 32, subscriptions=FAST)
    service = FhirService(config, sessions)
    assert service.store_app is not None and SUBSCRIPTIONS_KEY in service.store_app
    quiet = FhirService(FhirConfig(secret_key="k" * 32), sessions)
    assert quiet.store_app is not None and SUBSCRIPTIONS_KEY not in quiet.store_app
    async with receiver() as hook, standalone_access(config, sessions) as access:
        fhir = access.system()
        await fhir.request_json("POST", "Subscription", body=rest_hook(hook.url))
        _, patient = await fhir.request_json("POST", "Patient", body={"resourceType": "Patient"})
        assert patient is not None
        reading = vital_json(f"Patient/{patient['id']}", "8867-4", 64, "2026-12-01T10:00:00Z")
        await fhir.request_json("POST", "Observation", body=reading)
        await asyncio.sleep(1.0)
        assert hook.received == []
    async with sessions() as session:  # the matcher never ran: its feed was never taken
        feeds = (await session.execute(select(FeedRow.name))).scalars().all()
    assert FEED_NAME not in feeds
    await close_engine(engine)
