"""Chat text over the limit never reaches the dialogs: the sender gets a polite reply instead.

Checked in the adapter's middleware, so it holds on every channel (`/api/messages` and the
local Direct Line), before any dialog or the triage engine sees the text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from botbuilder.core import Middleware, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from bot.people import PersonResolver
from dialogs.base import Language

TOO_LONG: dict[Language, str] = {
    "en": (
        "Sorry, your message is too long for me to read ({length} characters). "
        "Please send at most {limit} characters at a time, for example one symptom per message."
    ),
    "fr": (
        "Désolé, votre message est trop long pour moi ({length} caractères). "
        "Envoyez au plus {limit} caractères à la fois, par exemple un symptôme par message."
    ),
}


def longest_text(activity: Activity) -> int:
    """The length of the activity's text, or of the longest string of a card submission."""
    longest = len(activity.text or "")
    pending: list[object] = [activity.value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            longest = max(longest, len(item))
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return longest


class TextLimit(Middleware):  # type: ignore[misc]
    """Answers a message longer than MAX_CHARS politely, in the sender's language."""

    def __init__(self, people: PersonResolver, max_chars: int) -> None:
        self._people = people
        self._max_chars = max_chars

    async def on_turn(self, context: TurnContext, logic: Callable[[], Awaitable[None]]) -> None:
        """Let the turn through, unless its text is over the limit."""
        activity = context.activity
        length = longest_text(activity) if activity.type == ActivityTypes.message else 0
        if length <= self._max_chars:
            await logic()
            return
        person = await self._people.resolve(activity)
        text = TOO_LONG[person.language].format(length=length, limit=self._max_chars)
        await context.send_activity(
            Activity(type=ActivityTypes.message, text=text, locale=activity.locale)
        )
