"""The global interrupt: at any turn inside a dialog, "cancel", "menu" and "help" work, and
naming another capability ("my vitals", "prendre rendez-vous") switches to it.

It sits after the red-flag interrupt, so "stop, I can't breathe" is an emergency first. Only
a whole message that is a command or a capability's name counts (`dialogs.commands`), and a
message in which the engine finds a symptom is never taken for a switch: "I can't stop
coughing" and "help, I have a sore throat" stay answers to the dialog.
"""

from __future__ import annotations

from dialogs.assessment import mentions_symptom
from dialogs.base import DialogContext, Done, Step, Wait
from dialogs.commands import Command, capability_named, command_in
from dialogs.handoff_dialog import NAME as HANDOFF
from dialogs.menu import MenuDialog
from dialogs.texts import message


class GlobalInterrupt:
    """Cancel, menu, help and capability switches, for whatever dialog is under way."""

    def __init__(self, menu: MenuDialog) -> None:
        self._menu = menu

    async def check(self, ctx: DialogContext) -> Step | None:
        """Take over when a dialog is under way and the message is a command or a switch."""
        if not ctx.active or not ctx.input.text.strip():
            return None  # the menu itself routes these; a card submit is an answer
        if ctx.active[-1] == HANDOFF:
            return None  # everything is for the care manager (cancel too: the dialog's)
        if self._menu.wants_handoff(ctx):
            return self._menu.start_handoff(ctx)
        command = command_in(ctx.input.text)
        if command is Command.CANCEL:
            ctx.say(message("cancelled", ctx.language))
            self._menu.offer(ctx)
            return Done()
        if command is Command.MENU:
            self._menu.offer(ctx)
            return Done()
        if command is Command.PERSON:
            self._menu.person(ctx)
            return Wait()  # the dialog keeps waiting; "book a visit" switches to booking
        if command is Command.HELP:
            self._menu.help(ctx)
            ctx.say(message("help_midway", ctx.language))
            return Wait()  # the dialog keeps waiting on its question
        capability = capability_named(ctx.input.text)
        if capability is None or mentions_symptom(ctx.assessments.words()):
            return None
        return self._menu.start(ctx, capability)
