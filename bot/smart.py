"""SMART on FHIR for the embedded store: where its OAuth endpoints are mounted."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import smart_authorize, smart_token
from integrations.fhir_store.access_tokens import AccessTokenKey
from integrations.fhir_store.smart_config import SMART_PATH
from integrations.fhir_store.smart_keys import IdTokenKey

OAUTH_PATH = "/auth"


def mount(
    app: web.Application,
    store_app: web.Application,
    access_key: AccessTokenKey,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Serve the SMART authorization server on APP for the store STORE_APP (which then
    publishes it), its access tokens signed with ACCESS_KEY, the store's own."""
    store_app[SMART_PATH] = OAUTH_PATH
    app[smart_token.SMART_KEYS] = smart_token.SmartKeys(access_key, IdTokenKey(sessions))
    smart_authorize.add_routes(app, OAUTH_PATH)
    smart_token.add_routes(app, OAUTH_PATH)
