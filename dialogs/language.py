"""Asks which language the person prefers and remembers it."""

from __future__ import annotations

from typing import Protocol

from dialogs.base import DialogContext, Done, Language, Opening, Reply, Step, Wait
from dialogs.outcomes import LanguageChosen, Outcome
from dialogs.texts import LANGUAGE_WORDS, SUPPORTED_LANGUAGES, message, normalise


class LanguagePreferences(Protocol):
    """Where a person's chosen language is kept."""

    async def set_language(self, account_id: str, language: str) -> None:
        """Remember LANGUAGE for the account."""
        ...


def parse_language(text: str) -> Language | None:
    """The language named in TEXT ('English', 'français', 'fr'), or None."""
    plain = normalise(text)
    if plain in SUPPORTED_LANGUAGES:  # a bare code: "fr"
        return plain
    words = set(plain.split())
    for language in SUPPORTED_LANGUAGES:
        if words & set(LANGUAGE_WORDS[language]):
            return language
    return None


class LanguageDialog:
    """Two turns: ask, then store the answer (re-asking politely on anything else)."""

    name = "language"

    def __init__(self, preferences: LanguagePreferences) -> None:
        self._preferences = preferences

    async def begin(self, ctx: DialogContext, args: Opening) -> Step:
        """Ask which language."""
        ctx.say(message("language_ask", ctx.language), suggestions=("English", "Français"))
        return Wait()

    async def resume(self, ctx: DialogContext) -> Step:
        """Store the chosen language and confirm in it."""
        choice = parse_language(ctx.input.text)
        if choice is None:
            ctx.say(message("language_again", ctx.language), suggestions=("English", "Français"))
            return Wait()
        await self._preferences.set_language(ctx.person.account_id, choice)
        ctx.send(Reply(message("language_set", choice), language=choice))
        return Done(LanguageChosen(choice))

    async def on_child_done(self, ctx: DialogContext, child: str, result: Outcome | None) -> Step:
        """This dialog starts no children."""
        return Done()
