"""Proactive sends: a message to a person's stored conversation, through the sink it names.

The sink is chosen from the reference, not from an HTTP route: the portal's conversations
(the local Direct Line) get their activities appended to the Direct Line store, Azure Bot
Service channels get them posted to the reference's serviceUrl. Chat messages usually go
through the outbox (`CHAT_MESSAGE` items, delivered by `ChatMessageHandler`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes, ConversationReference, ResourceResponse

from bot.adapter import ActivitySink, CarebotAdapter, ConnectorSink, TurnSource
from bot.connector import ConnectorClient, ConnectorError, NewConversation
from bot.conversation_refs import BOT_CONNECTOR, source_of, to_conversation_reference
from bot.directline.routes import DirectLineSink
from bot.directline.store import DirectLineStore
from integrations.persistence.conversation_refs import ConversationRefStore, StoredReference
from integrations.persistence.outbox import (
    ClaimedItem,
    OutboxDispatcher,
    OutboxItem,
    PermanentDeliveryError,
)

CHAT_MESSAGE: Final = "chat.message"
"""Outbox kind: a text message to an account's most recent conversation."""

MAX_TEXT = 4000

# Statuses worth retrying: throttled, timed out, or the connector's own trouble.
_TRANSIENT = frozenset({408, 429})


class NoConversationError(LookupError):
    """The account has no stored conversation to send to (on that channel)."""


class ChannelSinks:
    """The one place that decides which sink reaches a conversation: from the door an
    inbound activity came in by, or from a stored reference's serviceUrl."""

    def __init__(self, directline: DirectLineStore, connector: ConnectorClient) -> None:
        self._directline = directline
        self._connector = connector

    def for_source(
        self, source: TurnSource, conversation_id: str, inbound: dict[str, Any] | None = None
    ) -> ActivitySink:
        """The local Direct Line store for portal conversations, else the Bot Connector."""
        if source is TurnSource.BOT_CONNECTOR:
            return ConnectorSink(self._connector)
        return DirectLineSink(self._directline, conversation_id, inbound)

    def for_reference(self, reference: ConversationReference) -> ActivitySink:
        """The sink of the edge REFERENCE's serviceUrl belongs to."""
        source = TurnSource(source_of(reference.service_url or ""))
        return self.for_source(source, reference.conversation.id)


class ProactiveSender:
    """Sends activities to an account's stored conversation, outside any inbound turn."""

    def __init__(
        self,
        adapter: CarebotAdapter,
        references: ConversationRefStore,
        connector: ConnectorClient,
    ) -> None:
        self._adapter = adapter
        self._references = references
        self._connector = connector

    async def send(
        self, account_id: str, activities: Sequence[Activity], *, channel_id: str | None = None
    ) -> list[ResourceResponse]:
        """Send ACTIVITIES to the account's newest conversation (on CHANNEL_ID if given)."""
        stored = await self._references.latest(account_id, channel_id=channel_id)
        if stored is None:
            raise NoConversationError("no stored conversation for this account")
        return await self.send_to(stored, activities)

    async def send_to(
        self, stored: StoredReference, activities: Sequence[Activity]
    ) -> list[ResourceResponse]:
        """Send ACTIVITIES in a proactive turn of the STORED conversation."""
        responses: list[ResourceResponse] = []
        failures: list[Exception] = []

        async def turn(context: TurnContext) -> None:
            # A failed send is the caller's to handle (the outbox retries it): not the
            # turn error handler's, which would apologise into the same conversation.
            try:
                responses.extend(await context.send_activities(list(activities)))
            except Exception as error:
                failures.append(error)

        await self._adapter.continue_conversation(to_conversation_reference(stored), turn)
        if failures:
            raise failures[0]
        return responses

    async def open_personal_chat(self, stored: StoredReference) -> StoredReference:
        """Create a 1:1 conversation with STORED's user (Teams: from a channel or group chat).

        The new conversation's reference is stored under the same account and channel.
        """
        if stored.source != BOT_CONNECTOR:
            raise ValueError("only Bot Connector channels create conversations")
        created = await self._connector.create_conversation(
            stored.service_url,
            NewConversation(
                bot_id=stored.bot_id,
                bot_name=stored.bot_name,
                member_id=stored.user_id,
                tenant_id=stored.tenant_id,
            ),
        )
        personal = StoredReference(
            account_id=stored.account_id,
            channel_id=stored.channel_id,
            source=stored.source,
            service_url=created.service_url or stored.service_url,
            conversation_id=created.id,
            bot_id=stored.bot_id,
            bot_name=stored.bot_name,
            user_id=stored.user_id,
            tenant_id=stored.tenant_id,
            locale=stored.locale,
        )
        await self._references.save(personal)
        return personal


@dataclass(frozen=True)
class ChatMessage:
    """An outbox payload: TEXT for ACCOUNT_ID, on CHANNEL_ID or the newest channel."""

    account_id: str
    text: str
    channel_id: str | None = None

    def to_item(self, key: str) -> OutboxItem:
        """The outbox item carrying this message under de-duplication KEY."""
        payload = {"accountId": self.account_id, "text": self.text}
        if self.channel_id:
            payload["channelId"] = self.channel_id
        return OutboxItem(key=key, kind=CHAT_MESSAGE, payload=json.dumps(payload))

    @classmethod
    def from_payload(cls, payload: str) -> ChatMessage:
        """Parse a stored payload; ValueError when it is not a chat message."""
        try:
            data = json.loads(payload)
        except ValueError:
            raise ValueError("the payload is not JSON") from None
        if not isinstance(data, dict):
            raise ValueError("the payload is not an object")
        account, text, channel = data.get("accountId"), data.get("text"), data.get("channelId")
        if not isinstance(account, str) or not account:
            raise ValueError("accountId is required")
        if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
            raise ValueError(f"text is 1 to {MAX_TEXT} characters")
        if channel is not None and not isinstance(channel, str):
            raise ValueError("channelId must be a string")
        return cls(account_id=account, text=text, channel_id=channel)


class ChatMessageHandler:
    """Delivers `CHAT_MESSAGE` outbox items with the proactive sender."""

    def __init__(self, sender: ProactiveSender) -> None:
        self._sender = sender

    async def deliver(self, item: ClaimedItem) -> None:
        """Send the item's text; a missing conversation or a refused body is permanent."""
        try:
            message = ChatMessage.from_payload(item.payload)
        except ValueError as error:
            raise PermanentDeliveryError(str(error)) from None
        activity = Activity(type=ActivityTypes.message, text=message.text)
        try:
            await self._sender.send(message.account_id, [activity], channel_id=message.channel_id)
        except NoConversationError as error:
            raise PermanentDeliveryError(str(error)) from None
        except ConnectorError as error:
            if 400 <= error.status < 500 and error.status not in _TRANSIENT:
                raise PermanentDeliveryError(f"refused with {error.status}") from None
            raise


PROACTIVE: web.AppKey[ProactiveSender] = web.AppKey("carebot_proactive", ProactiveSender)
OUTBOX: web.AppKey[OutboxDispatcher] = web.AppKey("carebot_outbox", OutboxDispatcher)
