"""The bot adapter: runs turns in process and sends replies through a per-turn sink.

A turn from Azure Bot Service (`/api/messages`) replies through `ConnectorSink` (async
Bot Connector REST); a turn from the local Direct Line channel replies through that
channel's own store. The bot logic is the same for both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from botbuilder.core import BotAdapter, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ConversationReference,
    ResourceResponse,
)

from bot.connector import ConnectorClient

SINK_KEY = "carebot.sink"
INVOKE_RESPONSE_KEY = "carebot.invoke_response"

BotLogic = Callable[[TurnContext], Awaitable[Any]]


class ActivitySink(Protocol):
    """Where a turn's outgoing activities go."""

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

    def __init__(self, connector: ConnectorClient) -> None:
        self._connector = connector

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


class CarebotAdapter(BotAdapter):  # type: ignore[misc]
    """A BotAdapter whose outgoing path is fully async."""

    def __init__(self, on_turn_error: Callable[[TurnContext, Exception], Awaitable[None]]) -> None:
        super().__init__(on_turn_error)

    async def process(self, activity: Activity, sink: ActivitySink, logic: BotLogic) -> Any:
        """Run one turn for ACTIVITY; replies go to SINK. Returns an invoke response if any."""
        context = TurnContext(self, activity)
        context.turn_state[SINK_KEY] = sink
        await self.run_pipeline(context, logic)
        return context.turn_state.get(INVOKE_RESPONSE_KEY)

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
