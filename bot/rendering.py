"""Dialog replies turned into Bot Framework activities."""

from __future__ import annotations

from botbuilder.schema import (
    ActionTypes,
    Activity,
    ActivityTypes,
    Attachment,
    CardAction,
    SuggestedActions,
)

from dialogs.base import Reply

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


def to_activity(reply: Reply, locale: str) -> Activity:
    """One outgoing message activity for REPLY."""
    activity = Activity(type=ActivityTypes.message, text=reply.text or None, locale=locale)
    if reply.suggestions:
        activity.suggested_actions = SuggestedActions(
            actions=[
                CardAction(type=ActionTypes.im_back, title=s, value=s) for s in reply.suggestions
            ]
        )
    if reply.card is not None:
        activity.attachments = [Attachment(content_type=ADAPTIVE_CARD, content=dict(reply.card))]
    return activity
