"""Fixtures: the embedded FHIR store on SQLite, served on a loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from integrations.fhir import BearerAuth, FhirClient
from integrations.fhir_store import create_fhir_app, ensure_client
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate


@dataclass
class GatewayStore:
    """A running store and a client holding the gateway's write token."""

    base_url: str
    sessionmaker: async_sessionmaker[AsyncSession]
    engine: AsyncEngine
    token: str
    reader_token: str
    http: httpx.AsyncClient

    def client(self, token: str | None = None) -> FhirClient:
        """A FHIR client (default: the gateway's Observation/Device write token)."""
        return FhirClient(
            self.base_url, http=self.http, auth=BearerAuth(token or self.token), backoff_s=0.01
        )


async def start_site(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve APP on 127.0.0.1 (a free port unless given); the runner and port."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, int(bound)


@pytest.fixture
async def gateway_store(tmp_path: Path) -> AsyncIterator[GatewayStore]:
    """The embedded FHIR store (SQLite) at /fhir with a gateway client registered."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'fhir.db'}"
    await migrate(url)
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    root = web.Application()
    root.add_subapp("/fhir", create_fhir_app(sessionmaker))
    runner, port = await start_site(root)
    token = await ensure_client(
        sessionmaker, "gateway", "system/Observation.write system/Device.write"
    )
    reader = await ensure_client(sessionmaker, "reader", "system/*.read")
    async with httpx.AsyncClient(timeout=30) as http:
        yield GatewayStore(
            f"http://127.0.0.1:{port}/fhir", sessionmaker, engine, token, reader, http
        )
    await runner.cleanup()
    await engine.dispose()
