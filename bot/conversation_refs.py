"""ConversationReferences at the bot edge: recorded from every inbound turn, rebuilt for sends.

`ReferenceRecorder` is turn middleware: before the bot's logic runs, it stores where the
activity came from (serviceUrl, conversation, bot and user ids, tenant) for the account
behind it, per channel and source. A later proactive send rebuilds a botbuilder
`ConversationReference` from that row (`to_conversation_reference`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from botbuilder.core import Middleware, TurnContext
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationReference,
)

from bot.adapter import SINK_KEY, ActivitySink, TurnSource
from bot.people import LOCAL_SERVICE_URL, PersonResolver
from integrations.persistence.conversation_refs import (
    ConversationRefStore,
    StoredReference,
    fitted,
)

LOCAL_DIRECTLINE: Final = TurnSource.LOCAL_DIRECTLINE.value
"""The source of the portal's conversations: this service's own Direct Line."""
BOT_CONNECTOR: Final = TurnSource.BOT_CONNECTOR.value
"""The source of Azure Bot Service channels (Teams, Web Chat) reached at a serviceUrl."""

# The name botbuilder gives the event activity that starts a proactive turn.
CONTINUE_CONVERSATION: Final = "ContinueConversation"


def source_of(service_url: str) -> str:
    """Which edge a serviceUrl belongs to."""
    return LOCAL_DIRECTLINE if service_url == LOCAL_SERVICE_URL else BOT_CONNECTOR


def _tenant(activity: Activity) -> str | None:
    conversation = activity.conversation
    tenant = getattr(conversation, "tenant_id", None)
    if tenant:
        return str(tenant)
    data = activity.channel_data
    if isinstance(data, dict) and isinstance(data.get("tenant"), dict):
        value = data["tenant"].get("id")
        return value if isinstance(value, str) and value else None
    return None


def stored_reference(
    activity: Activity, account_id: str, source: str | None = None
) -> StoredReference | None:
    """Where ACTIVITY came from, for ACCOUNT_ID; None if it lacks what a send needs (or an
    address is longer than any channel's)."""
    conversation, sender, bot = activity.conversation, activity.from_property, activity.recipient
    if not (activity.service_url and activity.channel_id and conversation and conversation.id):
        return None
    if sender is None or not sender.id or bot is None or not bot.id:
        return None
    return fitted(
        StoredReference(
            account_id=account_id,
            channel_id=activity.channel_id,
            source=source or source_of(activity.service_url),
            service_url=activity.service_url,
            conversation_id=conversation.id,
            bot_id=bot.id,
            bot_name=bot.name,
            user_id=sender.id,
            tenant_id=_tenant(activity),
            locale=activity.locale,
        )
    )


def to_conversation_reference(stored: StoredReference) -> ConversationReference:
    """The botbuilder reference a proactive turn continues."""
    return ConversationReference(
        channel_id=stored.channel_id,
        service_url=stored.service_url,
        conversation=ConversationAccount(id=stored.conversation_id, tenant_id=stored.tenant_id),
        bot=ChannelAccount(id=stored.bot_id, name=stored.bot_name),
        user=ChannelAccount(id=stored.user_id),
        locale=stored.locale,
    )


def is_continuation(activity: Activity) -> bool:
    """True for the synthetic activity of a proactive turn (nothing came in)."""
    return bool(activity.type == ActivityTypes.event and activity.name == CONTINUE_CONVERSATION)


class ReferenceRecorder(Middleware):  # type: ignore[misc]
    """Stores the reference of every inbound activity before the bot's logic runs.

    It is kept under the account id the dialogs see (`PersonResolver.resolve`): the account
    the channel vouches for, else the guest id (`channel:user id`).
    """

    def __init__(self, store: ConversationRefStore, people: PersonResolver) -> None:
        self._store = store
        self._people = people

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[None]]) -> None:
        """Record, then run the rest of the pipeline."""
        activity = context.activity
        if not is_continuation(activity):
            person = await self._people.resolve(activity)
            # The door the activity came in by (its sink), not what its serviceUrl claims.
            sink: ActivitySink = context.turn_state[SINK_KEY]
            reference = stored_reference(activity, person.account_id, sink.source.value)
            if reference is not None:
                await self._store.save(reference)
        await logic()
