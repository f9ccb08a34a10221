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
LOCALES = {"en": "en-US", "fr": "fr-FR"}  # the portal's Web Chat locales


def to_activity(reply: Reply, locale: str) -> Activity:
    """One outgoing message activity for REPLY.

    With a card, the card carries the message and the text becomes its `fallbackText`, so a
    chat shows one bubble, not the same words twice; a card with its own buttons gets no
    suggested actions, so each answer is offered once."""
    text = reply.text if reply.card is None else None
    activity = Activity(type=ActivityTypes.message, text=text or None, locale=locale)
    if reply.language is not None:
        # The turn's locale overrides `locale` on sending; channelData says the new one, so
        # the portal re-creates Web Chat in it.
        activity.channel_data = {"carebotLocale": LOCALES[reply.language]}
    card_buttons = reply.card is not None and bool(reply.card.get("actions"))
    if reply.suggestions and not card_buttons:
        activity.suggested_actions = SuggestedActions(
            actions=[
                CardAction(type=ActionTypes.im_back, title=s, value=s) for s in reply.suggestions
            ]
        )
    if reply.card is not None:
        card = dict(reply.card)
        if reply.text:
            card.setdefault("fallbackText", reply.text)
            activity.summary = reply.text
        activity.attachments = [Attachment(content_type=ADAPTIVE_CARD, content=card)]
    return activity
