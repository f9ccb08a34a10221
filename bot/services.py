"""The shared resources of one service process, kept on the app under `SERVICES`."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.adapter import CarebotAdapter
from bot.channel_auth import ChannelGate
from bot.connector import ConnectorClient
from bot.directline.store import DirectLineStore
from bot.handler import CarebotBot
from bot.settings import Settings
from bot.signing import Signer
from integrations.accounts import AccountRepository
from integrations.fhir.access import FhirAccess
from integrations.sign_in_throttle import SignInThrottle
from integrations.visits.service import VisitService
from integrations.web_session_store import WebSessionStore


@dataclass
class Services:
    """Everything a request handler may need; built once in the app factory."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    http: aiohttp.ClientSession
    fhir: FhirAccess
    accounts: AccountRepository
    signer: Signer
    adapter: CarebotAdapter
    connector: ConnectorClient
    channel_auth: ChannelGate
    bot: CarebotBot
    directline: DirectLineStore
    web_sessions: WebSessionStore
    sign_in_throttle: SignInThrottle
    visits: VisitService  # the one gate of meeting links (the provider's Join too)


SERVICES: web.AppKey[Services] = web.AppKey("carebot_services", Services)
