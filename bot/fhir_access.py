"""The service's settings as the FHIR access seam takes them (`integrations.fhir.access`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.settings import Settings
from integrations.fhir.access import FhirAccess, FhirConfig, standalone_access
from integrations.fhir.backend import FhirBackend, get_default_backend
from integrations.persistence.database import close_engine, create_engine, create_sessionmaker
from integrations.persistence.migrate import migrate


def fhir_config(settings: Settings) -> FhirConfig:
    """What the backend is chosen from: the outside server's URL and token, else the
    embedded store answering at the service's URL, its tokens signed with the secret key."""
    return FhirConfig(
        fhir_url=settings.fhir_url.rstrip("/"),
        fhir_token=settings.fhir_token,
        secret_key=settings.resolved_secret_key(),
        public_url=settings.base_url,
        subscriptions=settings.subscription_policy(),
    )


@asynccontextmanager
async def cli_fhir_access(settings: Settings) -> AsyncIterator[FhirAccess]:
    """FHIR access for a command-line process: the embedded store on the service's
    database (migrated first, as every command that opens it does), in this process; or
    the outside server."""
    if get_default_backend(settings.fhir_url) is FhirBackend.EMBEDDED:
        await migrate(settings.resolved_database_url)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with standalone_access(fhir_config(settings), create_sessionmaker(engine)) as access:
            yield access
    finally:
        await close_engine(engine)
