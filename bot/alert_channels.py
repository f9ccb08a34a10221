"""The alert channels at the bot edge: the Teams card (a proactive message to the care
manager's stored Teams conversation, paced to Teams' limit per conversation, a 429's
Retry-After honoured) and the live inbox's wake-up (`AlertHub`)."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Final

from botbuilder.schema import Activity, ActivityTypes, Attachment

from bot.connector import ConnectorError
from bot.proactive import ProactiveSender
from bot.rendering import ADAPTIVE_CARD
from integrations.alerts.codes import ACK_ACTION, KIND_TEXT
from integrations.alerts.deliveries import Delivery
from integrations.alerts.detector import TEAMS_CHANNEL
from integrations.persistence.conversation_refs import ConversationRefStore
from integrations.persistence.outbox import PermanentDeliveryError, RetryLater

TEAMS_PER_SECOND: Final = 7
"""Teams: at most 7 messages per second to one conversation."""

Json = dict[str, Any]


def alert_card(delivery: Delivery, patient_name: str, open_url: str) -> Json:
    """The Adaptive Card of one alert (pure): who, what, when; Acknowledge and Open. No
    clinical detail beyond what the care manager needs to decide to open it."""
    what = KIND_TEXT[delivery.kind]
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "fallbackText": f"{what}: {patient_name}",
        "body": [
            {"type": "TextBlock", "text": what, "weight": "Bolder", "size": "Medium"},
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Patient", "value": patient_name},
                    {"title": "When", "value": delivery.at},
                ],
            },
        ],
        "actions": [
            {
                "type": "Action.Submit",
                "title": "Acknowledge",
                "data": {"action": ACK_ACTION, "task": delivery.task},
            },
            {"type": "Action.OpenUrl", "title": "Open", "url": open_url},
        ],
    }


class ConversationPace:
    """At most RATE sends per second to one conversation (in this process)."""

    def __init__(self, rate: int = TEAMS_PER_SECOND, clock: Callable[[], float] = time.monotonic):
        self._rate = rate
        self._clock = clock
        self._sent: dict[str, collections.deque[float]] = {}

    async def wait(self, conversation: str) -> None:
        """Return once a send to CONVERSATION keeps within the rate."""
        sent = self._sent.setdefault(conversation, collections.deque())
        while True:
            now = self._clock()
            while sent and now - sent[0] >= 1.0:
                sent.popleft()
            if len(sent) < self._rate:
                sent.append(now)
                return
            await asyncio.sleep(1.0 - (now - sent[0]))


class TeamsAlertSender:
    """Sends an alert's card to the recipient's stored Teams conversation."""

    def __init__(
        self,
        sender: ProactiveSender,
        references: ConversationRefStore,
        patient_name: Callable[[Delivery], Awaitable[str]],
        base_url: str,
        pace: ConversationPace | None = None,
    ) -> None:
        self._sender = sender
        self._references = references
        self._patient_name = patient_name
        self._base_url = base_url.rstrip("/")
        self._pace = pace or ConversationPace()

    async def send(self, delivery: Delivery) -> None:
        """Post the card; 429 retries after Retry-After, other 4xx are permanent."""
        if not delivery.account:
            raise PermanentDeliveryError("the recipient has no account")
        stored = await self._references.latest(delivery.account, channel_id=TEAMS_CHANNEL)
        if stored is None:
            raise PermanentDeliveryError("no stored Teams conversation")
        task_id = delivery.task.removeprefix("Task/")
        card = alert_card(
            delivery,
            await self._patient_name(delivery),
            f"{self._base_url}/staff/alerts/{task_id}/open",
        )
        activity = Activity(
            type=ActivityTypes.message,
            summary=KIND_TEXT[delivery.kind],
            attachments=[Attachment(content_type=ADAPTIVE_CARD, content=card)],
        )
        await self._pace.wait(stored.conversation_id)
        try:
            await self._sender.send_to(stored, [activity])
        except ConnectorError as error:
            if error.status == 429:
                raise RetryLater(timedelta(seconds=error.retry_after or 1.0), "429") from None
            if 400 <= error.status < 500 and error.status != 408:
                raise PermanentDeliveryError(f"refused with {error.status}") from None
            raise


class AlertHub:
    """Wakes the live inbox streams of this process when an inbox delivery is recorded
    (streams also look on their own every second, for deliveries of other processes)."""

    def __init__(self) -> None:
        self._listeners: set[asyncio.Event] = set()

    def listen(self) -> asyncio.Event:
        """An event set at each delivery; give it back with `leave`."""
        event = asyncio.Event()
        self._listeners.add(event)
        return event

    def leave(self, event: asyncio.Event) -> None:
        """Stop waking EVENT."""
        self._listeners.discard(event)

    def delivered(self, delivery: Delivery) -> None:
        """An inbox delivery was recorded: wake every stream."""
        for event in self._listeners:
            event.set()
