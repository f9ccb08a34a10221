"""The sink of a turn is one decision (`ChannelSinks`): by the door for inbound turns, by the
stored reference's serviceUrl for proactive ones."""

from __future__ import annotations

import aiohttp
from botbuilder.schema import ConversationAccount, ConversationReference

from bot.adapter import ConnectorSink, TurnSource
from bot.connector import AnonymousTokens, ConnectorClient
from bot.directline.routes import DirectLineSink
from bot.directline.store import DirectLineStore
from bot.people import LOCAL_SERVICE_URL
from bot.proactive import ChannelSinks
from integrations.persistence.database import create_engine, create_sessionmaker


def _reference(service_url: str) -> ConversationReference:
    return ConversationReference(
        service_url=service_url, conversation=ConversationAccount(id="conv-1")
    )


async def test_the_door_and_the_reference_choose_the_same_sinks() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    async with aiohttp.ClientSession() as http:
        connector = ConnectorClient(http, AnonymousTokens())
        sinks = ChannelSinks(DirectLineStore(create_sessionmaker(engine)), connector)
        inbound = sinks.for_source(TurnSource.BOT_CONNECTOR, "conv-1")
        assert isinstance(inbound, ConnectorSink)
        portal = sinks.for_source(TurnSource.LOCAL_DIRECTLINE, "conv-1", {"type": "message"})
        assert isinstance(portal, DirectLineSink)
        assert portal.source is TurnSource.LOCAL_DIRECTLINE
        teams = sinks.for_reference(_reference("https://smba.trafficmanager.net/emea/"))
        assert isinstance(teams, ConnectorSink)
        local = sinks.for_reference(_reference(LOCAL_SERVICE_URL))
        assert isinstance(local, DirectLineSink)
        # a proactive turn records no inbound activity: nothing came in
        assert await local.record_inbound() is None
    await engine.dispose()
