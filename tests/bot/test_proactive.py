"""Proactive sends: references stored from inbound turns, the sink chosen from the reference.

Teams traffic goes to the fake Bot Connector (which speaks ConnectorAPI.json); portal
conversations get the message appended where Web Chat polls it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from botbuilder.schema import Activity, ActivityTypes

from bot.conversation_refs import BOT_CONNECTOR, LOCAL_DIRECTLINE, stored_reference
from bot.people import LOCAL_SERVICE_URL
from bot.proactive import CHAT_MESSAGE, OUTBOX, PROACTIVE, ChatMessage, NoConversationError
from bot.services import SERVICES
from integrations.accounts import Role
from integrations.persistence.conversation_refs import ConversationRefStore, StoredReference
from integrations.persistence.database import create_engine, create_sessionmaker
from integrations.persistence.outbox import Outbox, OutboxItem, OutboxStatus
from tests.bot.directline_client import DirectLineTestClient, browser_session
from tests.bot.service import (
    DEMO_PASSWORD,
    emulator_settings,
    running_application,
    service_settings,
)
from tests.bot.test_channel_auth import AAD_ID, OUTGOING_TOKEN, LocalIssuer, channel_settings
from tests.bot.test_messages import recorded_requests
from tests.bot.test_outbox import wait_for_status
from tests.fakes.bot_connector import (
    CREATE_CONVERSATION,
    SEND_TO_CONVERSATION,
    FakeBotConnector,
    TeamsMessage,
)

TENANT = TeamsMessage("x").tenant_id


def message(text: str) -> Activity:
    return Activity(type=ActivityTypes.message, text=text)


async def test_a_proactive_message_reaches_a_stored_teams_reference_through_the_connector(
    tmp_path: Path, sqlite_url: str
) -> None:
    issuer = LocalIssuer()
    async with issuer.serve() as openid_url:
        settings = channel_settings(tmp_path, sqlite_url, issuer, openid_url)
        async with (
            FakeBotConnector(token=OUTGOING_TOKEN) as connector,
            running_application(settings, seed=False) as (base, app),
            aiohttp.ClientSession() as http,
        ):
            services = app[SERVICES]
            pat = await services.accounts.create(
                username="pat", password="p" * 12, role=Role.PATIENT,
                display_name="Patricia Example", aad_object_id=AAD_ID,
            )  # fmt: skip
            teams = TeamsMessage(connector.service_url)
            token = {"Authorization": f"Bearer {issuer.token(serviceurl=connector.service_url)}"}
            inbound = teams.build("hello", "in-1")
            async with http.post(f"{base}/api/messages", json=inbound, headers=token) as r:
                assert r.status == 200
            await connector.wait_for_reply("in-1")

            # The turn stored where Pat can be reached, under Pat's account.
            references = ConversationRefStore(services.sessions)
            assert await references.for_account(pat.id) == [
                StoredReference(
                    account_id=pat.id,
                    channel_id="msteams",
                    source=BOT_CONNECTOR,
                    service_url=connector.service_url,
                    conversation_id=teams.conversation_id,
                    bot_id=teams.bot_id,
                    bot_name=teams.bot_name,
                    user_id=teams.user_id,
                    tenant_id=TENANT,
                    locale="en-US",
                )
            ]

            # Through the outbox, enqueued twice under one key: the worker sends it once.
            connector.clear()
            outbox = Outbox(services.sessions)
            reminder = ChatMessage(pat.id, "Your visit with Dr Osei starts in 15 minutes.")
            assert await outbox.enqueue(reminder.to_item("visit-7:reminder-15"))
            assert not await outbox.enqueue(reminder.to_item("visit-7:reminder-15"))
            app[OUTBOX].notify()
            await wait_for_status(outbox, "visit-7:reminder-15", OutboxStatus.SENT)
            [sent] = connector.requests
            assert sent.operation == SEND_TO_CONVERSATION
            assert sent.status == 201
            assert sent.conversation_id == teams.conversation_id
            assert sent.path.startswith("/amer/v3/conversations/")
            assert sent.headers["Authorization"] == f"Bearer {OUTGOING_TOKEN}"
            body = sent.body
            assert body["text"] == "Your visit with Dr Osei starts in 15 minutes."
            assert "replyToId" not in body  # nothing to reply to: sent to the conversation
            assert body["from"]["id"] == teams.bot_id
            assert body["recipient"]["id"] == teams.user_id
            assert body["conversation"]["id"] == teams.conversation_id

            # Straight through the sender as well.
            [response] = await app[PROACTIVE].send(pat.id, [message("Thank you.")])
            assert response.id == connector.requests[-1].response["id"]
            assert len(connector.requests) == 2


async def test_a_proactive_message_reaches_a_portal_conversation_and_only_that(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with (
        running_application(emulator_settings(tmp_path, sqlite_url)) as (base, app),
        browser_session() as http,
        FakeBotConnector() as connector,
    ):
        alice = DirectLineTestClient(http, base)
        await alice.sign_in("alice", DEMO_PASSWORD)
        await alice.start()  # its conversationUpdate stores the reference
        await alice.new_activities()
        [stored] = await ConversationRefStore(app[SERVICES].sessions).for_account(alice.user_id)
        assert (stored.source, stored.channel_id, stored.service_url) == (
            LOCAL_DIRECTLINE,
            "directline",
            LOCAL_SERVICE_URL,
        )
        assert stored.conversation_id == alice.conversation_id

        outbox = Outbox(app[SERVICES].sessions)
        await outbox.enqueue(ChatMessage(alice.user_id, "Your results are ready.").to_item("r-1"))
        app[OUTBOX].notify()
        await wait_for_status(outbox, "r-1", OutboxStatus.SENT)
        assert await alice.bot_texts() == ["Your results are ready."]
        assert connector.requests == []  # the portal's sink is the Direct Line store

        # Someone posts a Teams activity naming Alice's account id (no app id: not trusted).
        spoof = TeamsMessage(connector.service_url, user_id=alice.user_id).build("hi", "s-1")
        async with http.post(f"{base}/api/messages", json=spoof) as r:
            assert r.status == 200
        await connector.wait_for_reply("s-1")
        connector.clear()

        await app[PROACTIVE].send(alice.user_id, [message("For Alice only.")])
        assert connector.requests == []
        assert await alice.bot_texts() == ["For Alice only."]
        guest = await ConversationRefStore(app[SERVICES].sessions).for_account(
            f"msteams:{alice.user_id}"
        )
        assert [r.service_url for r in guest] == [connector.service_url]


async def test_a_recorded_conversation_update_stores_a_reference_and_a_chat_can_be_opened(
    tmp_path: Path, sqlite_url: str
) -> None:
    update = next(b for b in recorded_requests("conversationUpdate") if b.get("membersAdded"))
    async with (
        FakeBotConnector() as connector,
        running_application(emulator_settings(tmp_path, sqlite_url), seed=False) as (base, app),
        aiohttp.ClientSession() as http,
    ):
        activity = {**update, "serviceUrl": connector.service_url}
        async with http.post(f"{base}/api/messages", json=activity) as r:
            assert r.status == 200
        guest = f"msteams:{update['from']['id']}"
        references = ConversationRefStore(app[SERVICES].sessions)
        [channel] = await references.for_account(guest)
        assert channel.conversation_id == update["conversation"]["id"]
        assert channel.tenant_id == update["channelData"]["tenant"]["id"]
        assert channel.user_id == update["from"]["id"]
        assert channel.bot_id == update["recipient"]["id"]

        # From the team's channel, a 1:1 chat with that user (POST /v3/conversations).
        connector.clear()
        personal = await app[PROACTIVE].open_personal_chat(channel)
        [created] = connector.requests
        assert created.operation == CREATE_CONVERSATION and created.status == 201
        assert created.body["members"] == [{"id": update["from"]["id"]}]
        assert created.body["bot"]["id"] == update["recipient"]["id"]
        assert created.body["channelData"] == {"tenant": {"id": channel.tenant_id}}
        assert personal.conversation_id == created.response["id"]
        assert await references.latest(guest) == personal

        await app[PROACTIVE].send(guest, [message("Hello in private.")])
        sent = connector.requests[-1]
        assert sent.operation == SEND_TO_CONVERSATION
        assert sent.conversation_id == personal.conversation_id


async def test_a_message_for_someone_never_seen_gives_up_without_sending(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with (
        FakeBotConnector() as connector,
        running_application(service_settings(tmp_path, sqlite_url), seed=False) as (_, app),
    ):
        with pytest.raises(NoConversationError):
            await app[PROACTIVE].send("nobody", [message("hello?")])
        outbox = Outbox(app[SERVICES].sessions)
        await outbox.enqueue(ChatMessage("nobody", "hello?").to_item("n-1"))
        await outbox.enqueue(OutboxItem(key="bad", kind=CHAT_MESSAGE, payload="[1]"))
        app[OUTBOX].notify()
        await wait_for_status(outbox, "n-1", OutboxStatus.DEAD)
        await wait_for_status(outbox, "bad", OutboxStatus.DEAD)
        assert connector.requests == []


def test_an_activity_without_its_addresses_stores_no_reference() -> None:
    teams = TeamsMessage("https://smba.trafficmanager.net/amer/").build("hi", "1")
    full = Activity().deserialize(teams)
    assert stored_reference(full, "acct") is not None
    assert stored_reference(full, "acct").tenant_id == TENANT  # type: ignore[union-attr]
    for field in ("serviceUrl", "conversation", "from", "recipient"):
        partial = Activity().deserialize({k: v for k, v in teams.items() if k != field})
        assert stored_reference(partial, "acct") is None, field
    # Longer than any channel's: not stored (a required address) or left out (an optional one).
    huge = Activity().deserialize({**teams, "conversation": {"id": "c" * 100_000}})
    assert stored_reference(huge, "acct") is None
    odd = Activity().deserialize({**teams, "locale": "x" * 5000})
    assert stored_reference(odd, "acct") == replace(
        stored_reference(full, "acct"),  # type: ignore[arg-type]
        locale=None,
    )


async def test_references_are_kept_per_account_channel_and_source(database_url: str) -> None:
    engine = create_engine(database_url)
    store = ConversationRefStore(create_sessionmaker(engine))
    teams = StoredReference(
        account_id="a1", channel_id="msteams", source=BOT_CONNECTOR,
        service_url="https://smba.trafficmanager.net/amer/", conversation_id="a:1",
        bot_id="28:bot", user_id="29:u", tenant_id=TENANT,
    )  # fmt: skip
    portal = StoredReference(
        account_id="a1", channel_id="directline", source=LOCAL_DIRECTLINE,
        service_url=LOCAL_SERVICE_URL, conversation_id="c1", bot_id="carebot", user_id="a1",
    )  # fmt: skip
    try:
        await store.save(teams)
        await store.save(portal)
        moved = StoredReference(**{**teams.__dict__, "conversation_id": "a:2", "locale": "fr"})
        await store.save(moved)  # the same account and channel: replaced, not added
        await store.save(StoredReference(**{**portal.__dict__, "account_id": "a2"}))
        assert await store.for_account("a1") == [moved, portal]
        assert await store.latest("a1") == moved
        assert await store.latest("a1", channel_id="directline") == portal
        assert await store.latest("a1", source=LOCAL_DIRECTLINE) == portal
        assert await store.latest("a3") is None
    finally:
        await engine.dispose()
