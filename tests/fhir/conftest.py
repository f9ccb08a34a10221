"""Fixtures: a running embedded FHIR store (port 0) on SQLite and PostgreSQL, and clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from integrations.fhir import BearerAuth, FhirClient
from integrations.fhir_store import create_fhir_app, ensure_client
from integrations.persistence.database import create_engine, create_sessionmaker


@dataclass
class RunningStore:
    """A store served on a loopback port, with an all-powerful system token."""

    base_url: str
    sessionmaker: async_sessionmaker[AsyncSession]
    admin_token: str
    http: httpx.AsyncClient

    def client(self, token: str | None = None) -> FhirClient:
        """A FHIR client with TOKEN (default: the admin token)."""
        auth = BearerAuth(token if token is not None else self.admin_token)
        return FhirClient(self.base_url, http=self.http, auth=auth, backoff_s=0.01)

    async def token(self, name: str, scopes: str, patient: str | None = None) -> str:
        """A token of a freshly registered client."""
        return await ensure_client(self.sessionmaker, name, scopes, patient)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Run APP on 127.0.0.1 with a free port; the runner and its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def running_store(database_url: str) -> AsyncIterator[RunningStore]:
    """The store mounted at /fhir of a bare aiohttp app, as the service mounts it."""
    engine = create_engine(database_url)
    sessionmaker = create_sessionmaker(engine)
    root = web.Application()
    root.add_subapp("/fhir", create_fhir_app(sessionmaker))
    runner, url = await serve(root)
    token = await ensure_client(sessionmaker, "admin", "system/*.*")
    async with httpx.AsyncClient(timeout=30) as http:
        yield RunningStore(f"{url}/fhir", sessionmaker, token, http)
    await runner.cleanup()
    await engine.dispose()


@pytest.fixture
def fhir(running_store: RunningStore) -> FhirClient:
    """A client with the admin (system/*.*) token."""
    return running_store.client()
