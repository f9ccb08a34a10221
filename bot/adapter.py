"""The bot adapter: runs turns in process and sends replies through a per-turn sink.

A turn from Azure Bot Service (`/api/messages`) replies through `ConnectorSink` (async
Bot Connector REST); a turn from the local Direct Line channel replies through that
channel's own store. The bot logic is the same for both. Which sink a turn gets is decided
in one place, the `SinkChooser` the app gives the adapter: routes say only which door an
activity came in by, proactive turns bring their stored reference.

The sink also says which door the activity came in by (`TurnSource`): conversation state
is keyed by that source, the channel id and the conversation id, so an activity posted to
`/api/messages` can never address a local Direct Line conversation whatever `channelId`
it claims. Turns of one conversation run one at a time (`TurnLocks`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote

from botbuilder.core import BotAdapter, ConversationState, TurnContext
from botbuilder.core.conversation_reference_extension import get_continuation_activity
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ConversationReference,
    ResourceResponse,
)

from bot.connector import ConnectorClient
from bot.turn_locks import TurnLocks

log = logging.getLogger(__name__)

SINK_KEY = "carebot.sink"
INVOKE_RESPONSE_KEY = "carebot.invoke_response"

BotLogic = Callable[[TurnContext], Awaitable[Any]]


class TurnSource(StrEnum):
    """The door an activity came in by."""

    LOCAL_DIRECTLINE = "local-directline"
    BOT_CONNECTOR = "bot-connector"


def conversation_key(source: TurnSource, channel_id: str, conversation_id: str) -> str:
    """The storage (and lock) key of a conversation: source, channel and id, each escaped."""
    channel = quote(channel_id, safe="")
    return f"{source.value}/{channel}/conversations/{quote(conversation_id, safe='')}"


def conversation_tag(conversation_id: str | None) -> str:
    """A short, stable stand-in for a conversation id in log lines (ids are not logged)."""
    if not conversation_id:
        return "?"
    return hashlib.sha256(conversation_id.encode()).hexdigest()[:12]


def _turn_key(context: TurnContext) -> str:
    sink: ActivitySink = context.turn_state[SINK_KEY]
    activity = context.activity
    if not activity.channel_id or activity.conversation is None or not activity.conversation.id:
        raise TypeError("an activity needs a channel id and a conversation id")
    return conversation_key(sink.source, activity.channel_id, activity.conversation.id)


class ChannelConversationState(ConversationState):  # type: ignore[misc]
    """Conversation state keyed by the turn's source as well as its channel and conversation."""

    def get_storage_key(self, turn_context: TurnContext) -> str:
        """`{source}/{channel}/conversations/{id}`."""
        return _turn_key(turn_context)


async def on_turn_error(context: TurnContext, error: Exception) -> None:
    """Log the failure's type and where (a hashed conversation id, never the text); apologise."""
    conversation = context.activity.conversation.id if context.activity.conversation else None
    log.error(
        "turn failed in conversation %s: %s",
        conversation_tag(conversation),
        type(error).__name__,
        exc_info=error,
    )
    try:
        await context.send_activity("Sorry, something went wrong on my side. Please try again.")
    except Exception as send_error:  # the channel itself may be what failed
        log.warning("could not apologise: %s", type(send_error).__name__)


@dataclass(frozen=True)
class TurnResult:
    """What a processed turn gives back to its HTTP route."""

    invoke_response: Any
    inbound_id: str | None
    """The id the channel stored the incoming activity under (Direct Line), if any."""


class ActivitySink(Protocol):
    """Where a turn's incoming activity is recorded and its outgoing activities go."""

    source: TurnSource

    async def record_inbound(self) -> str | None:
        """Store the incoming activity if the channel keeps a transcript; its id."""
        ...

    async def send(self, activity: Activity) -> ResourceResponse:
        """Deliver one outgoing activity."""
        ...

    async def update(self, activity: Activity) -> ResourceResponse:
        """Replace a delivered activity."""
        ...

    async def delete(self, reference: ConversationReference) -> None:
        """Remove a delivered activity."""
        ...


class ConnectorSink:
    """Replies to a channel of Azure Bot Service through its serviceUrl."""

    source = TurnSource.BOT_CONNECTOR

    def __init__(self, connector: ConnectorClient) -> None:
        self._connector = connector

    async def record_inbound(self) -> str | None:
        """Azure Bot Service keeps the transcript: nothing to store here."""
        return None

    async def send(self, activity: Activity) -> ResourceResponse:
        """POST the activity to the Bot Connector."""
        return await self._connector.send(activity)

    async def update(self, activity: Activity) -> ResourceResponse:
        """PUT the activity to the Bot Connector."""
        return await self._connector.update(activity)

    async def delete(self, reference: ConversationReference) -> None:
        """DELETE the activity at the Bot Connector."""
        await self._connector.delete(
            reference.service_url, reference.conversation.id, reference.activity_id
        )


class SinkChooser(Protocol):
    """The one decision of where a turn's activities go (`bot.proactive.ChannelSinks`)."""

    def for_source(
        self, source: TurnSource, conversation_id: str, inbound: dict[str, Any] | None = None
    ) -> ActivitySink:
        """The sink of the door SOURCE, for CONVERSATION_ID; INBOUND is the activity the
        channel keeps a transcript of, if any."""
        ...

    def for_reference(self, reference: ConversationReference) -> ActivitySink:
        """The sink for a stored REFERENCE (no HTTP request to go by)."""
        ...


class CarebotAdapter(BotAdapter):  # type: ignore[misc]
    """A BotAdapter whose outgoing path is fully async."""

    def __init__(
        self,
        on_error: Callable[[TurnContext, Exception], Awaitable[None]] = on_turn_error,
        locks: TurnLocks | None = None,
        *,
        sinks: SinkChooser,
    ) -> None:
        super().__init__(on_error)
        self._locks = locks or TurnLocks()
        self._sinks = sinks

    async def process(
        self,
        activity: Activity,
        logic: BotLogic,
        *,
        source: TurnSource,
        inbound: dict[str, Any] | None = None,
    ) -> TurnResult:
        """Record ACTIVITY (INBOUND, its checked document, where the channel keeps one) and
        run its turn, one at a time per conversation; replies go to the sink of SOURCE, the
        door it came in by."""
        sink = self._sinks.for_source(source, activity.conversation.id, inbound)
        return await self._run(activity, sink, logic)

    async def _run(self, activity: Activity, sink: ActivitySink, logic: BotLogic) -> TurnResult:
        context = TurnContext(self, activity)
        context.turn_state[SINK_KEY] = sink
        async with self._locks.hold(_turn_key(context)):
            inbound_id = await sink.record_inbound()
            await self.run_pipeline(context, logic)
        return TurnResult(context.turn_state.get(INVOKE_RESPONSE_KEY), inbound_id)

    async def send_activities(
        self, context: TurnContext, activities: Sequence[Activity]
    ) -> list[ResourceResponse]:
        """Send each activity in order through the turn's sink."""
        sink: ActivitySink = context.turn_state[SINK_KEY]
        responses: list[ResourceResponse] = []
        for activity in activities:
            if activity.type == "delay":
                await asyncio.sleep(float(activity.value or 1000) / 1000)
                responses.append(ResourceResponse())
            elif activity.type == ActivityTypes.invoke_response:
                context.turn_state[INVOKE_RESPONSE_KEY] = activity.value
                responses.append(ResourceResponse())
            else:
                responses.append(await sink.send(activity))
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse:
        """Replace an activity through the turn's sink."""
        sink: ActivitySink = context.turn_state[SINK_KEY]
        return await sink.update(activity)

    async def delete_activity(self, context: TurnContext, reference: ConversationReference) -> None:
        """Delete an activity through the turn's sink."""
        sink: ActivitySink = context.turn_state[SINK_KEY]
        await sink.delete(reference)

    async def continue_conversation(
        self,
        reference: ConversationReference,
        callback: BotLogic,
        bot_id: str | None = None,
        claims_identity: object = None,
        audience: str | None = None,
    ) -> TurnResult:
        """Run CALLBACK in a proactive turn of REFERENCE; sends go to the sink it names."""
        activity = get_continuation_activity(reference)
        # Nothing came in: without an id, sends go to the conversation, not as a reply.
        activity.id = None
        return await self._run(activity, self._sinks.for_reference(reference), callback)
