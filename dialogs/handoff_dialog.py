""" "Talk to a person", live: the patient's request goes to the care team's handoff inbox;
while a care manager has the conversation, the patient's messages are relayed to them (the
care manager's come to the chat from the staff page); when they hand it back, or the
patient cancels, the bot takes over again. An emergency stays an emergency: the red-flag
interrupt runs before this dialog on every turn."""

from __future__ import annotations

from typing import Protocol

from dialogs.base import DialogContext, Done, Opening, Person, Step, Wait
from dialogs.commands import Command, command_in
from dialogs.outcomes import Outcome
from dialogs.texts import message
from dialogs.triage.advice import EmergencyNumbers

NAME = "handoff"


class HandoffDesk(Protocol):
    """Where requests for a person go and the patient's messages are relayed."""

    async def request(self, person: Person) -> str | None:
        """Open (or find) PERSON's request; its id, None when PERSON has no patient record."""
        ...

    async def relay(self, handoff_id: str, text: str) -> bool:
        """Pass TEXT on to the care manager; False when the handoff is over."""
        ...

    async def withdraw(self, person: Person) -> None:
        """PERSON no longer waits for a person."""
        ...


class HandoffDialog:
    """Waits for a care manager and relays the patient's messages until handed back."""

    name = NAME

    def __init__(self, desk: HandoffDesk, emergency: EmergencyNumbers) -> None:
        self._desk = desk
        self._emergency = emergency

    async def begin(self, ctx: DialogContext, args: Opening) -> Step:
        """Ask the care team for a person."""
        handoff_id = await self._desk.request(ctx.person)
        if handoff_id is None:
            ctx.say(message("handoff_no_record", ctx.language))
            return Done()
        ctx.state["id"] = handoff_id
        ctx.say(message("handoff_waiting", ctx.language,
                        emergency=self._emergency.label(ctx.language)))  # fmt: skip
        return Wait()

    async def resume(self, ctx: DialogContext) -> Step:
        """Relay the patient's message while the handoff is open."""
        handoff_id = str(ctx.state.get("id", ""))
        text = ctx.input.text.strip()
        if not text:  # a card button: nothing to relay
            return Wait()
        if command_in(text) is Command.CANCEL:
            await self._desk.withdraw(ctx.person)
            ctx.say(message("handoff_withdrawn", ctx.language))
            return Done()
        if await self._desk.relay(handoff_id, text):
            return Wait()
        ctx.say(message("handoff_over", ctx.language))
        return Done()

    async def on_child_done(self, ctx: DialogContext, child: str, result: Outcome | None) -> Step:
        """Starts no children."""
        return Done()
