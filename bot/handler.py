"""The ActivityHandler: every turn goes through the dialog runner with persisted state.

The conversation state is saved before any reply is sent: a reply never claims progress
(an answer taken, a question moved on) that storage did not keep. A failed save fails the
turn, and the patient gets the adapter's apology instead."""

from __future__ import annotations

import copy
import logging

from botbuilder.core import ActivityHandler, ConversationState, TurnContext
from botbuilder.schema import Activity, ChannelAccount

from bot.people import LOCAL_SERVICE_URL, PersonResolver
from bot.rendering import to_activity
from dialogs.base import JSON, UserInput
from dialogs.menu import MenuDialog
from dialogs.runner import DialogRunner
from integrations.alerts.acknowledge import Acknowledged, AlertAcks
from integrations.alerts.codes import ACK_ACTION

log = logging.getLogger(__name__)

STACK_PROPERTY = "dialog_stack"
ACK_REPLIES = {
    Acknowledged.DONE: "Alert acknowledged.",
    Acknowledged.ALREADY: "This alert was already acknowledged.",
    Acknowledged.NOT_FOUND: "This alert is not one you can acknowledge. Link your Teams "
    "account on your staff page, or use the inbox.",
}


def activity_key(activity: Activity) -> str | None:
    """An id for the inbound activity, stable when the channel retries its delivery."""
    if not activity.id:
        return None
    conversation = activity.conversation.id if activity.conversation else ""
    return f"{activity.channel_id or ''}/{conversation}/{activity.id}"


class CarebotBot(ActivityHandler):  # type: ignore[misc]
    """Routes messages to dialogs and greets people who join a portal conversation."""

    def __init__(
        self,
        conversation_state: ConversationState,
        runner: DialogRunner,
        menu: MenuDialog,
        people: PersonResolver,
        alerts: AlertAcks | None = None,
    ) -> None:
        super().__init__()
        self._alerts = alerts
        self._state = conversation_state
        self._stack = conversation_state.create_property(STACK_PROPERTY)
        self._runner = runner
        self._menu = menu
        self._people = people

    async def on_turn(self, turn_context: TurnContext) -> None:
        """Handle the turn, then persist whatever conversation state is still unsaved."""
        await super().on_turn(turn_context)
        await self._state.save_changes(turn_context)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        """Run the user's text or card submission through the dialogs; save, then reply."""
        activity = turn_context.activity
        value = activity.value if isinstance(activity.value, dict) else None
        if value is not None and value.get("action") == ACK_ACTION and self._alerts is not None:
            await self._acknowledge(turn_context, value.get("task"))
            return
        person = await self._people.resolve(activity)
        user_input = UserInput(
            text=(activity.text or "").strip(), value=value, activity_id=activity_key(activity)
        )
        stack: list[JSON] = await self._stack.get(turn_context, list) or []
        # The runner works on a copy, so "unchanged" below really means nothing changed.
        result = await self._runner.run_turn(person, user_input, copy.deepcopy(stack))
        if result.stack != stack:  # an unchanged stack costs no write
            await self._stack.set(turn_context, result.stack)
            await self._state.save_changes(turn_context)
        locale = activity.locale or person.language
        if result.replies:
            await turn_context.send_activities([to_activity(r, locale) for r in result.replies])

    async def _acknowledge(self, turn_context: TurnContext, task: object) -> None:
        """An alert card's Acknowledge: the same Task the inbox acknowledges."""
        assert self._alerts is not None
        account = await self._people.account_for(turn_context.activity)
        outcome = Acknowledged.NOT_FOUND
        if account is not None and isinstance(task, str):
            outcome = await self._alerts.acknowledge(task.removeprefix("Task/"), account)
        await turn_context.send_activity(ACK_REPLIES[outcome])

    async def on_members_added_activity(
        self, members_added: list[ChannelAccount], turn_context: TurnContext
    ) -> None:
        """Greet the patient by name when a portal conversation opens."""
        activity = turn_context.activity
        if activity.service_url != LOCAL_SERVICE_URL:
            return
        if not any(m.id != activity.recipient.id for m in members_added):
            return  # only the bot joined
        person = await self._people.resolve(activity)
        locale = activity.locale or person.language
        replies = self._menu.greeting(person)
        await turn_context.send_activities([to_activity(r, locale) for r in replies])
